//! Google's error envelope (`docs/protocols/gemini-api.md`, "Error envelope").

use std::time::Duration;

use serde_json::{Value, json};

/// An error answer: HTTP status and envelope body.
#[derive(Debug, Clone)]
pub struct GoogleError {
    pub status: u16,
    pub body: Value,
}

impl GoogleError {
    fn new(code: u16, status: &str, message: &str, details: Vec<Value>) -> Self {
        let mut error = json!({ "code": code, "message": message, "status": status });
        if !details.is_empty() {
            error["details"] = Value::Array(details);
        }
        GoogleError {
            status: code,
            body: json!({ "error": error }),
        }
    }

    /// The `error` object alone, as a stream event carries it.
    pub fn error_object(&self) -> Value {
        self.body["error"].clone()
    }
}

fn invalid_key_details(message: &str) -> Vec<Value> {
    vec![
        json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": { "service": "generativelanguage.googleapis.com" }
        }),
        json!({
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": message
        }),
    ]
}

/// A `bad-*` key: 400, not 401.
pub fn api_key_invalid() -> GoogleError {
    let message = "API key not valid. Please pass a valid API key.";
    GoogleError::new(
        400,
        "INVALID_ARGUMENT",
        message,
        invalid_key_details(message),
    )
}

/// A key the registry does not know (the "API Key not found" variant).
pub fn api_key_not_found() -> GoogleError {
    let message = "API Key not found. Please pass a valid API key.";
    GoogleError::new(
        400,
        "INVALID_ARGUMENT",
        message,
        invalid_key_details(message),
    )
}

/// No key at all.
pub fn unregistered_caller() -> GoogleError {
    GoogleError::new(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        vec![],
    )
}

/// A `banned-*` key. The wording is UNCONFIRMED; this is the leaked-key text
/// clients report.
pub fn permission_denied() -> GoogleError {
    GoogleError::new(
        403,
        "PERMISSION_DENIED",
        "Your API key was reported as leaked. Please use another API key.",
        vec![],
    )
}

/// A 429 with `QuotaFailure` (`quota_id`), `Help` and `RetryInfo`.
pub fn quota_exceeded(quota_id: &str, model: &str, retry_delay: Duration) -> GoogleError {
    let delay = duration_text(retry_delay);
    let message = format!(
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: {model}\nPlease retry in {delay}."
    );
    GoogleError::new(
        429,
        "RESOURCE_EXHAUSTED",
        &message,
        vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": quota_id,
                    "quotaDimensions": { "location": "global", "model": model },
                    "quotaValue": "10"
                }]
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"
                }]
            }),
            json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay }),
        ],
    )
}

/// A 429 with the per-day quota id: the key is done until the daily reset.
pub fn daily_quota_exceeded(model: &str) -> GoogleError {
    // Google gives seconds even for a daily quota; the key stays exhausted.
    quota_exceeded(PER_DAY_QUOTA_ID, model, Duration::from_secs(35))
}

pub const PER_MINUTE_QUOTA_ID: &str = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";
pub const PER_DAY_QUOTA_ID: &str = "GenerateRequestsPerDayPerProjectPerModel-FreeTier";

pub fn model_not_found(model: &str, method: &str) -> GoogleError {
    GoogleError::new(
        404,
        "NOT_FOUND",
        &format!(
            "models/{model} is not found for API version v1beta, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."
        ),
        vec![],
    )
}

pub fn not_found(what: &str) -> GoogleError {
    GoogleError::new(404, "NOT_FOUND", what, vec![])
}

pub fn invalid_argument(message: &str) -> GoogleError {
    GoogleError::new(400, "INVALID_ARGUMENT", message, vec![])
}

pub fn overloaded() -> GoogleError {
    GoogleError::new(
        503,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
        vec![],
    )
}

pub fn internal() -> GoogleError {
    GoogleError::new(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        vec![],
    )
}

/// The error event of the `midstream_error` scenario.
pub fn internal_encountered() -> GoogleError {
    GoogleError::new(500, "INTERNAL", "Internal error encountered.", vec![])
}

/// A protobuf duration in JSON: decimal seconds, trailing zeros trimmed
/// (`2.5s`, `47s`, `0.001s`).
pub fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    let (seconds, fraction) = (millis / 1000, millis % 1000);
    if fraction == 0 {
        format!("{seconds}s")
    } else {
        let fraction = format!("{fraction:03}");
        format!("{seconds}.{}s", fraction.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_google_s() {
        assert_eq!(duration_text(Duration::from_millis(2500)), "2.5s");
        assert_eq!(duration_text(Duration::from_secs(47)), "47s");
        assert_eq!(duration_text(Duration::from_millis(1)), "0.001s");
        assert_eq!(duration_text(Duration::from_millis(1230)), "1.23s");
    }
}
