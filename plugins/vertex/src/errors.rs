//! Vertex's refusals as typed errors. Vertex answers with Google's usual
//! envelope, so the classification is `gemini-format`'s; what is Vertex's own
//! is when a service account should fetch a new token and try again.

use wasmgate_plugin_sdk::ProviderError;

/// The typed error for a non-2xx answer of the generation endpoints.
pub fn refusal(status: u16, body: &str) -> ProviderError {
    gemini_format::error_from_response(status, body)
}

/// Whether an answer says the bearer token is no longer accepted (expired
/// early, revoked): a service account then gets a new one and retries once.
pub fn token_rejected(status: u16) -> bool {
    status == 401
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bodies of `docs/protocols/vertex.md`, "Error envelopes" (the
    /// ones the mock sends, and the older 429 wording).
    #[test]
    fn vertex_refusals() {
        let expired = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.","status":"UNAUTHENTICATED"}}"#;
        assert!(token_rejected(401));
        assert!(
            matches!(refusal(401, expired), ProviderError::Unauthorized(m) if m.starts_with("UNAUTHENTICATED: Request had invalid"))
        );

        let not_express = r#"{"error":{"code":401,"message":"API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal.","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CREDENTIALS_MISSING","domain":"googleapis.com"}]}}"#;
        assert!(matches!(
            refusal(401, not_express),
            ProviderError::Unauthorized(_)
        ));

        let denied = r#"{"error":{"code":403,"message":"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/P/locations/L/publishers/google/models/M' (or it may not exist).","status":"PERMISSION_DENIED"}}"#;
        assert!(!token_rejected(403));
        assert!(matches!(refusal(403, denied), ProviderError::Forbidden(_)));

        let limited = r#"{"error":{"code":429,"message":"Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        match refusal(429, limited) {
            ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(7000)),
            other => panic!("{other:?}"),
        }
        let quota = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#;
        assert!(
            matches!(refusal(429, quota), ProviderError::RateLimited(info) if info.retry_after_ms.is_none())
        );

        let bad_role = r#"{"error":{"code":400,"message":"Unable to submit request because Please use a valid role: user, model.. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini","status":"INVALID_ARGUMENT"}}"#;
        assert!(
            matches!(refusal(400, bad_role), ProviderError::BadRequest(m) if m.contains("valid role"))
        );

        let missing = r#"{"error":{"code":404,"message":"Publisher Model `projects/P/locations/L/publishers/google/models/M` was not found or your project does not have access to it.","status":"NOT_FOUND"}}"#;
        assert!(matches!(
            refusal(404, missing),
            ProviderError::ModelNotFound(_)
        ));

        let internal =
            r#"{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}"#;
        assert_same!(
            refusal(500, internal),
            ProviderError::upstream(500, "INTERNAL: Internal error encountered.")
        );
        let unavailable = r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#;
        assert!(matches!(refusal(503, unavailable), ProviderError::Upstream(f) if f.status == 503));
        assert!(
            matches!(refusal(502, "<html>bad gateway</html>"), ProviderError::Upstream(f) if f.status == 502)
        );
    }
}
