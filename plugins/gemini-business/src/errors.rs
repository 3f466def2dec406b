//! Upstream failures as the typed errors the host acts on.
//!
//! 401 → `unauthorized`, 403 → `forbidden`, 429 → `rate-limited`, the rest →
//! `upstream`. A rate limit carries a retry-after only when the upstream said
//! one (a `Retry-After` header, a `google.rpc.RetryInfo` detail, "retry in
//! Ns" in the message) or the operator configured a per-kind cooldown;
//! otherwise the host's `[pool]` cooldown applies (issue #15: the forks'
//! fixed 2 h / 4 h must not override it).

use serde::Deserialize;
use serde_json::Value;
use wasmgate_plugin_sdk::ProviderError;

use crate::oxsrf::strip_xssi;

/// The call that failed, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SigningKey,
    CreateSession,
    Upload,
    Ask,
    ListFiles,
    Download,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::SigningKey => "getoxsrf",
            Step::CreateSession => "widgetCreateSession",
            Step::Upload => "widgetAddContextFile",
            Step::Ask => "widgetStreamAssist",
            Step::ListFiles => "widgetListSessionFileMetadata",
            Step::Download => "downloadFile",
        }
    }
}

/// Which of the account's quotas a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Text,
    Images,
}

/// How long an account rests after a 429 the upstream gave no time for,
/// per quota, when the operator set it; `None` leaves it to the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cooldowns {
    pub text_seconds: Option<u64>,
    pub images_seconds: Option<u64>,
}

impl Cooldowns {
    pub fn for_quota(&self, quota: Quota) -> Option<u64> {
        match quota {
            Quota::Text => self.text_seconds,
            Quota::Images => self.images_seconds,
        }
    }
}

/// Google's error object: `{"error": {"code", "message", "status"}}`, or the
/// bare `{"message", "status"}` of `getoxsrf`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GoogleError {
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub details: Vec<Value>,
}

#[derive(Deserialize)]
struct Envelope {
    error: Option<GoogleError>,
    message: Option<String>,
    status: Option<String>,
}

pub fn parse_error_body(body: &str) -> Option<GoogleError> {
    let envelope: Envelope = serde_json::from_str(strip_xssi(body)).ok()?;
    envelope.error.or_else(|| {
        (envelope.message.is_some() || envelope.status.is_some()).then_some(GoogleError {
            code: None,
            message: envelope.message,
            status: envelope.status,
            details: Vec::new(),
        })
    })
}

/// The context a failure is classified in.
#[derive(Debug, Clone, Copy)]
pub struct Classifier {
    pub quota: Quota,
    pub cooldowns: Cooldowns,
}

impl Classifier {
    /// A non-2xx answer of `step`; `retry_after_ms` is what its
    /// `Retry-After` header said.
    pub fn http(
        &self,
        step: Step,
        status: u16,
        body: &str,
        retry_after_ms: Option<u64>,
    ) -> ProviderError {
        let detail = parse_error_body(body).unwrap_or_default();
        let message = describe(step, status, &detail);
        match status {
            401 => ProviderError::Unauthorized(message),
            403 => ProviderError::Forbidden(message),
            429 => self.rate_limited(message, retry_after_ms, &detail),
            400 if detail
                .message
                .as_deref()
                .is_some_and(|m| m.contains("Unsupported file type")) =>
            {
                ProviderError::BadRequest(message)
            }
            _ => ProviderError::upstream(status, message),
        }
    }

    /// An `{"error": …}` element inside a 200 stream.
    pub fn in_stream(&self, error: &GoogleError) -> ProviderError {
        let code = error.code.unwrap_or(0);
        let status = error.status.as_deref().unwrap_or("");
        let message = describe(Step::Ask, code, error);
        match (code, status) {
            (401, _) | (_, "UNAUTHENTICATED") => ProviderError::Unauthorized(message),
            (403, _) | (_, "PERMISSION_DENIED") => ProviderError::Forbidden(message),
            (429, _) | (_, "RESOURCE_EXHAUSTED") => self.rate_limited(message, None, error),
            _ => ProviderError::upstream(code, message),
        }
    }

    fn rate_limited(
        &self,
        message: String,
        retry_after_ms: Option<u64>,
        error: &GoogleError,
    ) -> ProviderError {
        let said_ms = retry_after_ms.or_else(|| retry_info_ms(error));
        let configured_ms = || {
            self.cooldowns
                .for_quota(self.quota)
                .map(|seconds| seconds.saturating_mul(1000))
        };
        ProviderError::rate_limited(message, said_ms.or_else(configured_ms))
    }
}

/// `google.rpc.RetryInfo.retryDelay` (`"42s"`, `"1.5s"`), else "retry in
/// 42s" in the message.
fn retry_info_ms(error: &GoogleError) -> Option<u64> {
    error
        .details
        .iter()
        .filter(|detail| {
            detail
                .get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .filter_map(|detail| detail.get("retryDelay").and_then(Value::as_str))
        .find_map(seconds_ms)
        .or_else(|| {
            let message = error.message.as_deref()?;
            let lower = message.to_ascii_lowercase();
            let start = lower.find("retry in ")? + "retry in ".len();
            let word = message[start..].split_whitespace().next()?;
            seconds_ms(word.trim_end_matches(['.', ',', ';', ')']))
        })
}

/// `"42s"` / `"1.5s"` (a protobuf duration) in milliseconds.
fn seconds_ms(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).ceil() as u64)
}

/// `widgetStreamAssist: HTTP 429 RESOURCE_EXHAUSTED: Resource has been exhausted`
fn describe(step: Step, status: u16, detail: &GoogleError) -> String {
    let mut text = format!("{}: HTTP {status}", step.name());
    if let Some(code) = &detail.status {
        text.push(' ');
        text.push_str(&truncate(code, 64));
    }
    if let Some(message) = &detail.message {
        text.push_str(": ");
        text.push_str(&truncate(message, 300));
    }
    text
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: Classifier = Classifier {
        quota: Quota::Text,
        cooldowns: Cooldowns {
            text_seconds: None,
            images_seconds: None,
        },
    };
    /// An operator who configured per-kind cooldowns.
    const CONFIGURED: Classifier = Classifier {
        quota: Quota::Images,
        cooldowns: Cooldowns {
            text_seconds: Some(900),
            images_seconds: Some(1800),
        },
    };
    const IMAGES: Classifier = Classifier {
        quota: Quota::Images,
        ..TEXT
    };

    const RATE_LIMIT_BODY: &str = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"LLM_OVERLOADED"}]}}"#;

    fn retry_after(err: &ProviderError) -> Option<u64> {
        match err {
            ProviderError::RateLimited(info) => info.retry_after_ms,
            _ => panic!("not rate-limited: {err:?}"),
        }
    }

    #[test]
    fn statuses_map_to_their_variants() {
        let expired = ")]}'\n{\"message\":\"Session has expired.\",\"status\":\"EXPIRED_SIGN_IN\"}";
        match TEXT.http(Step::SigningKey, 401, expired, None) {
            ProviderError::Unauthorized(m) => {
                assert_eq!(
                    m,
                    "getoxsrf: HTTP 401 EXPIRED_SIGN_IN: Session has expired."
                )
            }
            other => panic!("{other:?}"),
        }
        let denied = r#"{"error":{"code":403,"status":"PERMISSION_DENIED"}}"#;
        assert!(matches!(
            TEXT.http(Step::Ask, 403, denied, None),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(
            TEXT.http(Step::Ask, 500, "oops", None),
            ProviderError::Upstream(f) if f.status == 500 && f.message == "widgetStreamAssist: HTTP 500"
        ));
        let unsupported = r#"{"error":{"code":400,"message":"Unsupported file type: application/x-foo","status":"INVALID_ARGUMENT"}}"#;
        assert!(matches!(
            TEXT.http(Step::Upload, 400, unsupported, None),
            ProviderError::BadRequest(_)
        ));
    }

    #[test]
    fn a_rate_limit_carries_only_what_the_upstream_said() {
        // Nothing said, nothing configured: the host's [pool] cooldown applies.
        let text = TEXT.http(Step::Ask, 429, RATE_LIMIT_BODY, None);
        assert_eq!(retry_after(&text), None);
        let images = IMAGES.http(Step::Ask, 429, RATE_LIMIT_BODY, None);
        assert_eq!(retry_after(&images), None);
        // A header, a RetryInfo detail, a "retry in" message: each is used.
        let told = TEXT.http(Step::Ask, 429, RATE_LIMIT_BODY, Some(30_000));
        assert_eq!(retry_after(&told), Some(30_000));
        let info = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"42.5s"}]}}"#;
        assert_eq!(
            retry_after(&TEXT.http(Step::Ask, 429, info, None)),
            Some(42_500)
        );
        let said = r#"{"error":{"code":429,"message":"Quota exceeded. Please retry in 12s.","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(
            retry_after(&TEXT.http(Step::Ask, 429, said, None)),
            Some(12_000)
        );
        // The operator's per-kind setting when the upstream is silent; the
        // upstream still wins when it speaks.
        assert_eq!(
            retry_after(&CONFIGURED.http(Step::Ask, 429, RATE_LIMIT_BODY, None)),
            Some(1_800_000)
        );
        assert_eq!(
            retry_after(&CONFIGURED.http(Step::Ask, 429, info, None)),
            Some(42_500)
        );
    }

    #[test]
    fn stream_errors_are_classified_by_code_or_status() {
        let error = parse_error_body(RATE_LIMIT_BODY).unwrap();
        assert_eq!(retry_after(&IMAGES.in_stream(&error)), None);
        assert_eq!(retry_after(&CONFIGURED.in_stream(&error)), Some(1_800_000));
        let by_status = GoogleError {
            status: Some("UNAUTHENTICATED".into()),
            ..GoogleError::default()
        };
        assert!(matches!(
            TEXT.in_stream(&by_status),
            ProviderError::Unauthorized(_)
        ));
        let other = GoogleError {
            code: Some(500),
            ..GoogleError::default()
        };
        assert!(matches!(TEXT.in_stream(&other), ProviderError::Upstream(f) if f.status == 500));
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let body = format!(
            r#"{{"error":{{"code":500,"message":"{}"}}}}"#,
            "é".repeat(400)
        );
        let ProviderError::Upstream(failure) = TEXT.http(Step::Ask, 500, &body, None) else {
            panic!()
        };
        assert!(failure.message.ends_with('…'));
        assert_eq!(failure.message.matches('é').count(), 300);
    }
}
