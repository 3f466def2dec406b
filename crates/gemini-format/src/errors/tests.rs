use serde_json::json;

use super::*;

const INVALID_KEY: &str = r#"{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}
      },
      {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": "API key not valid. Please pass a valid API key."
      }
    ]
  }
}"#;

fn quota_body(quota_id: &str, retry_delay: Option<&str>, message: &str) -> String {
    let mut details = vec![
        json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
            "quotaValue": "10"}]}),
        json!({"@type": "type.googleapis.com/google.rpc.Help", "links": [{
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}),
    ];
    if let Some(delay) = retry_delay {
        details.push(
            json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}),
        );
    }
    json!({"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}})
        .to_string()
}

const QUOTA_MESSAGE: &str = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10\nPlease retry in 47.43s.";

#[test]
fn invalid_keys_are_unauthorized_despite_the_400() {
    match from_response(400, INVALID_KEY) {
        ProviderError::Unauthorized(message) => {
            assert_eq!(
                message,
                "INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
            )
        }
        other => panic!("{other:?}"),
    }
    let not_found = r#"{"error":{"code":400,"message":"API Key not found. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
    assert!(matches!(
        from_response(400, not_found),
        ProviderError::Unauthorized(_)
    ));
}

#[test]
fn other_400s_are_bad_requests() {
    let body = r#"{"error":{"code":400,"message":"Unable to submit request because thinking_budget is out of range; supported values are integers from 0 to 24576.","status":"INVALID_ARGUMENT"}}"#;
    match from_response(400, body) {
        ProviderError::BadRequest(message) => assert!(message.contains("thinking_budget")),
        other => panic!("{other:?}"),
    }
    let region = r#"{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}"#;
    assert!(matches!(
        from_response(400, region),
        ProviderError::BadRequest(_)
    ));
}

#[test]
fn auth_and_permission_statuses() {
    let unauthenticated = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#;
    assert!(matches!(
        from_response(401, unauthenticated),
        ProviderError::Unauthorized(_)
    ));
    let denied = r#"{"error":{"code":403,"message":"Your API key was reported as leaked. Please use another API key.","status":"PERMISSION_DENIED"}}"#;
    assert!(matches!(
        from_response(403, denied),
        ProviderError::Forbidden(_)
    ));
    let missing = r#"{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.","status":"NOT_FOUND"}}"#;
    match from_response(404, missing) {
        ProviderError::ModelNotFound(message) => assert!(message.contains("gemini-9")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn per_minute_quota_uses_retry_info() {
    let body = quota_body(
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        Some("45.837906927s"),
        QUOTA_MESSAGE,
    );
    match from_response(429, &body) {
        ProviderError::RateLimited(info) => {
            assert_eq!(info.retry_after_ms, Some(45_838));
            assert!(
                info.message
                    .starts_with("RESOURCE_EXHAUSTED: You exceeded your current quota")
            );
            assert!(!info.message.contains('\n'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn retry_delay_falls_back_to_the_message() {
    let body = quota_body(
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        None,
        QUOTA_MESSAGE,
    );
    match from_response(429, &body) {
        ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(47_430)),
        other => panic!("{other:?}"),
    }
    let bare = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#;
    match from_response(429, bare) {
        ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn per_day_quota_is_exhausted() {
    let body = quota_body(
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        Some("31s"),
        QUOTA_MESSAGE,
    );
    match from_response(429, &body) {
        ProviderError::QuotaExhausted(info) => assert_eq!(info.retry_after_ms, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_errors_keep_their_status() {
    let overloaded = r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#;
    match from_response(503, overloaded) {
        ProviderError::Upstream(failure) => {
            assert_eq!(failure.status, 503);
            assert_eq!(
                failure.message,
                "UNAVAILABLE: The model is overloaded. Please try again later."
            );
        }
        other => panic!("{other:?}"),
    }
    match from_response(502, "<html><body>Bad gateway</body></html>") {
        ProviderError::Upstream(failure) => {
            assert_eq!(failure.status, 502);
            assert!(failure.message.contains("Bad gateway"));
        }
        other => panic!("{other:?}"),
    }
    match from_response(500, "") {
        ProviderError::Upstream(failure) => assert_eq!(failure.message, "HTTP 500"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stream_errors_are_typed_by_their_code() {
    let internal =
        json!({"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"});
    match from_stream_error(&internal) {
        ProviderError::Upstream(failure) => {
            assert_eq!(failure.status, 500);
            assert_eq!(failure.message, "INTERNAL: Internal error encountered.");
        }
        other => panic!("{other:?}"),
    }
    let exhausted = json!({"message": "Resource exhausted. Please retry in 2s.", "status": "RESOURCE_EXHAUSTED"});
    match from_stream_error(&exhausted) {
        ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(2_000)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        from_stream_error(&json!("boom")),
        ProviderError::Upstream(_)
    ));
}

#[test]
fn long_messages_are_cut() {
    let long = format!(
        r#"{{"error":{{"code":500,"message":"{}","status":"INTERNAL"}}}}"#,
        "x".repeat(5000)
    );
    match from_response(500, &long) {
        ProviderError::Upstream(failure) => assert!(failure.message.chars().count() < 700),
        other => panic!("{other:?}"),
    }
}

/// `streamGenerateContent` wraps its error body in a one-element array.
#[test]
fn errors_wrapped_in_an_array_keep_their_classification() {
    let wrapped = |body: &str| format!("[{body}]");
    assert!(matches!(
        from_response(400, &wrapped(INVALID_KEY)),
        ProviderError::Unauthorized(_)
    ));
    let daily = quota_body(
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        Some("20s"),
        "x",
    );
    assert!(matches!(
        from_response(429, &wrapped(&daily)),
        ProviderError::QuotaExhausted(_)
    ));
    let minute = quota_body(
        "GenerateRequestsPerMinutePerProjectPerModel",
        Some("2.5s"),
        "x",
    );
    match from_response(429, &wrapped(&minute)) {
        ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(2_500)),
        other => panic!("{other:?}"),
    }
    // Two elements are not an error envelope: classified by status alone.
    assert!(matches!(
        from_response(400, &format!("[{INVALID_KEY},{INVALID_KEY}]")),
        ProviderError::BadRequest(_)
    ));
}
