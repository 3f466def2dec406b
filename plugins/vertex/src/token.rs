//! The OAuth token exchange (`docs/protocols/vertex.md`, "Token exchange"):
//! the form the assertion is posted in, the answer, and how long a token is
//! used.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmgate_plugin_sdk::ProviderError;
use wasmgate_plugin_sdk::http::encode_component;

/// Where tokens come from when neither the setting nor the key file says.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// How long before its expiry a token is replaced (google-auth: 3 min 45 s).
/// A token living less than four times this is replaced after 3/4 of its life.
const REFRESH_MARGIN_SECS: u64 = 240;

/// The body of the exchange request.
pub fn request_body(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        encode_component(GRANT_TYPE),
        encode_component(assertion)
    )
}

/// An access token and when to stop using it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    /// Unix seconds after which a new token is fetched (a little before it expires).
    pub refresh_at: u64,
}

impl AccessToken {
    /// Whether it may still be sent at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.refresh_at
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }

    /// Seconds left until [`refresh_at`](Self::refresh_at): the cache TTL.
    pub fn seconds_left(&self, now: u64) -> u64 {
        self.refresh_at.saturating_sub(now)
    }
}

/// When a token that lives `lifetime` seconds from `now` should be replaced.
pub fn refresh_at(now: u64, lifetime: u64) -> u64 {
    now + lifetime - REFRESH_MARGIN_SECS.min(lifetime / 4)
}

#[derive(Deserialize)]
struct Success {
    access_token: Option<String>,
    /// A number, or a string of digits in some answers.
    expires_in: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Refusal {
    error: Option<Value>,
    error_description: Option<String>,
}

/// A failed exchange, and whether trying again at once may help.
#[derive(Debug, Clone)]
pub struct ExchangeError {
    pub error: ProviderError,
    pub retryable: bool,
}

/// Reads the token endpoint's answer.
pub fn parse_response(status: u16, body: &str, now: u64) -> Result<AccessToken, ExchangeError> {
    if (200..300).contains(&status) {
        return parse_success(status, body, now).map_err(|error| ExchangeError {
            error,
            retryable: false,
        });
    }
    Err(classify_refusal(status, body))
}

fn parse_success(status: u16, body: &str, now: u64) -> Result<AccessToken, ProviderError> {
    let answer: Success = serde_json::from_str(body).map_err(|_| {
        ProviderError::upstream(
            status,
            "the token endpoint answered with something not JSON",
        )
    })?;
    let access_token = answer
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ProviderError::upstream(
                status,
                "the token endpoint answered without an access_token",
            )
        })?;
    let lifetime = match answer.expires_in {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        // Google always says; an hour is what its tokens live.
        None => Some(3600),
        Some(_) => None,
    }
    .ok_or_else(|| {
        ProviderError::upstream(status, "the token endpoint sent an unreadable expires_in")
    })?;
    Ok(AccessToken {
        access_token,
        refresh_at: refresh_at(now, lifetime),
    })
}

/// OAuth errors: `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`.
fn classify_refusal(status: u16, body: &str) -> ExchangeError {
    let refusal: Refusal = serde_json::from_str(body).unwrap_or_default();
    // Some Google endpoints wrap it in their usual envelope instead.
    let (code, description) = match refusal.error {
        Some(Value::String(code)) => (code, refusal.error_description.unwrap_or_default()),
        Some(Value::Object(envelope)) => (
            envelope
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            envelope
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        _ => (String::new(), String::new()),
    };
    let detail = match (code.is_empty(), one_line(&description).as_str()) {
        (true, "") => format!("HTTP {status}"),
        (true, text) => format!("HTTP {status}: {text}"),
        (false, "") => code.clone(),
        (false, text) => format!("{code}: {text}"),
    };
    let retryable = matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
        || matches!(
            code.as_str(),
            "internal_failure" | "server_error" | "temporarily_unavailable"
        );
    let message = format!("the token endpoint refused the service account ({detail})");
    let error = match status {
        _ if retryable && status != 429 => ProviderError::upstream(status, message),
        // A wrong, deleted or rotated key, a clock far off, a disabled account.
        400 | 401 => ProviderError::Unauthorized(message),
        403 => ProviderError::Forbidden(message),
        429 => ProviderError::rate_limited(message, None),
        _ => ProviderError::upstream(status, message),
    };
    ExchangeError { error, retryable }
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        line.chars().take(300).collect::<String>() + "…"
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_url_encoded() {
        assert_eq!(
            request_body("aa.bb-_.cc"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aa.bb-_.cc"
        );
    }

    #[test]
    fn a_token_is_replaced_before_it_expires() {
        let token = parse_response(
            200,
            r#"{"access_token":"ya29.c.mock-token","expires_in":3599,"token_type":"Bearer"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(token.access_token, "ya29.c.mock-token");
        assert_eq!(token.refresh_at, 1000 + 3599 - 240);
        assert!(token.is_fresh(1000 + 3358));
        assert!(!token.is_fresh(1000 + 3359));
        assert_eq!(token.seconds_left(1000), 3359);
        assert_eq!(token.seconds_left(9999), 0);
    }

    #[test]
    fn short_lived_tokens_and_string_lifetimes() {
        let token = parse_response(200, r#"{"access_token":"t","expires_in":"8"}"#, 0).unwrap();
        assert_eq!(token.refresh_at, 6, "replaced after 3/4 of 8 s");
        let token = parse_response(200, r#"{"access_token":"t","expires_in":2}"#, 0).unwrap();
        assert_eq!(token.refresh_at, 2);
        let token = parse_response(200, r#"{"access_token":"t"}"#, 0).unwrap();
        assert_eq!(token.refresh_at, 3600 - 240);
    }

    #[test]
    fn odd_successes_are_upstream_failures() {
        for body in [
            "<html>",
            "{}",
            r#"{"access_token":""}"#,
            r#"{"access_token":"t","expires_in":"soon"}"#,
        ] {
            let err = parse_response(200, body, 0).unwrap_err();
            assert!(matches!(err.error, ProviderError::Upstream(_)), "{body}");
            assert!(!err.retryable);
        }
    }

    #[test]
    fn refusals_are_typed() {
        let err = parse_response(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
            0,
        )
        .unwrap_err();
        assert_same!(
            err.error,
            ProviderError::Unauthorized(
                "the token endpoint refused the service account (invalid_grant: Invalid JWT Signature.)"
                    .into()
            )
        );
        assert!(!err.retryable);

        let clock = parse_response(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"}"#,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(&clock.error, ProviderError::Unauthorized(m) if m.contains("reasonable timeframe"))
        );

        let forbidden = parse_response(
            403,
            r#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#,
            0,
        )
        .unwrap_err();
        assert_same!(
            forbidden.error,
            ProviderError::Forbidden(
                "the token endpoint refused the service account (PERMISSION_DENIED: denied)".into()
            )
        );

        let limited = parse_response(429, "", 0).unwrap_err();
        assert!(matches!(limited.error, ProviderError::RateLimited(_)));
        assert!(limited.retryable);
    }

    #[test]
    fn transient_failures_may_be_retried() {
        let down = parse_response(503, r#"{"error":"temporarily_unavailable"}"#, 0).unwrap_err();
        assert!(down.retryable);
        assert_same!(
            down.error,
            ProviderError::upstream(
                503,
                "the token endpoint refused the service account (temporarily_unavailable)"
            )
        );
        let internal = parse_response(400, r#"{"error":"internal_failure"}"#, 0).unwrap_err();
        assert!(internal.retryable);
        assert!(matches!(internal.error, ProviderError::Upstream(_)));
        let html = parse_response(502, "<html>Bad Gateway</html>", 0).unwrap_err();
        assert!(html.retryable);
        assert_same!(
            html.error,
            ProviderError::upstream(
                502,
                "the token endpoint refused the service account (HTTP 502)"
            )
        );
    }
}
