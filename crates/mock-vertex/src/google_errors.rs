//! Google's error envelopes, worded as clients report Vertex's
//! (`docs/protocols/vertex.md`, "Error envelopes").

use std::time::Duration;

use serde_json::{Value, json};

fn envelope(code: u16, status: &str, message: &str, details: Vec<Value>) -> Value {
    let mut error = json!({ "code": code, "message": message, "status": status });
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    json!({ "error": error })
}

pub fn unauthenticated() -> Value {
    envelope(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        Vec::new(),
    )
}

/// A key Vertex does not take (not an express key, or none at all).
pub fn api_key_not_supported() -> Value {
    envelope(
        401,
        "UNAUTHENTICATED",
        "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication",
        vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CREDENTIALS_MISSING",
            "domain": "googleapis.com",
            "metadata": { "service": "aiplatform.googleapis.com", "method": "google.cloud.aiplatform.v1beta1.PredictionService.GenerateContent" }
        })],
    )
}

pub fn permission_denied(resource: &str) -> Value {
    envelope(
        403,
        "PERMISSION_DENIED",
        &format!(
            "Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/{resource}' (or it may not exist)."
        ),
        vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "IAM_PERMISSION_DENIED",
            "domain": "aiplatform.googleapis.com",
            "metadata": { "permission": "aiplatform.endpoints.predict", "resource": resource }
        })],
    )
}

pub fn model_not_found(resource: &str) -> Value {
    envelope(
        404,
        "NOT_FOUND",
        &format!(
            "Publisher Model `{resource}` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
        ),
        Vec::new(),
    )
}

pub fn invalid_argument(message: &str) -> Value {
    envelope(400, "INVALID_ARGUMENT", message, Vec::new())
}

pub fn bad_role() -> Value {
    invalid_argument(
        "Unable to submit request because Please use a valid role: user, model.. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini",
    )
}

/// A 429 whose body says when to come back.
pub fn resource_exhausted(retry_delay: Duration) -> Value {
    envelope(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
        vec![json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{}s", retry_delay.as_secs_f64()),
        })],
    )
}

pub fn internal() -> Value {
    envelope(500, "INTERNAL", "Internal error encountered.", Vec::new())
}

pub fn unavailable() -> Value {
    envelope(
        503,
        "UNAVAILABLE",
        "The service is currently unavailable.",
        Vec::new(),
    )
}
