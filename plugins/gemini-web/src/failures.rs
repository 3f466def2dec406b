//! How the upstream's failures become typed provider errors.
//!
//! Failures come three ways: an HTTP status, an in-band error code inside an
//! HTTP 200 stream, and a page without its values (signed-out cookies).
//! Messages name the account and what to do, never a cookie value.

use wasmgate_plugin_sdk::ProviderError;

/// What an in-band error code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBand {
    /// 1037: the account's usage limit is reached.
    UsageLimit,
    /// 1060: Google temporarily blocked this IP.
    IpBlocked,
    /// 1050: the model does not fit the conversation.
    ModelInvalid(i64),
    /// 1052: the service finds the request's structure outdated (the model
    /// header or inner list changed shape), or the model unavailable.
    Outdated,
    /// 1003: the request was refused for its content.
    Refused,
    /// 1013: a passing failure; trying again is fine.
    Transient(i64),
    /// A bare `[7]` status: refused, usually expired cookies (UNCONFIRMED).
    Rejected,
    Unknown(i64),
}

pub fn classify_code(code: i64) -> InBand {
    match code {
        1037 => InBand::UsageLimit,
        1060 => InBand::IpBlocked,
        1050 => InBand::ModelInvalid(code),
        1052 => InBand::Outdated,
        1003 => InBand::Refused,
        1013 => InBand::Transient(code),
        other => InBand::Unknown(other),
    }
}

pub fn in_band_error(kind: InBand, account: &str, model: &str) -> ProviderError {
    match kind {
        InBand::UsageLimit => ProviderError::quota_exhausted(
            format!("Gemini web account '{account}' reached its usage limit (code 1037)"),
            None,
        ),
        InBand::IpBlocked => ProviderError::rate_limited(
            "Google temporarily blocked requests from this IP (code 1060); wait or use another network",
            None,
        ),
        InBand::ModelInvalid(code) => ProviderError::ModelNotFound(format!(
            "Gemini web refused model '{model}' (code {code}): it is not available to this account, or its model id changed (update the table or the `model-overrides` setting)"
        )),
        InBand::Outdated => ProviderError::upstream(
            0,
            format!(
                "Gemini web rejected the request for model '{model}' (code 1052: request structure outdated or model id unavailable); the plugin's request shape or model table needs an update (the `model-overrides` setting can pin a model id)"
            ),
        ),
        InBand::Refused => ProviderError::ContentFiltered(
            "Gemini web refused the request for its content (code 1003)".into(),
        ),
        InBand::Transient(code) => ProviderError::upstream(
            0,
            format!("Gemini web reported a temporary failure (code {code}); try again"),
        ),
        InBand::Rejected => expired_cookies(account, "the request was rejected"),
        InBand::Unknown(code) => {
            ProviderError::upstream(0, format!("Gemini web answered with error code {code}"))
        }
    }
}

/// The account's cookies are no longer accepted.
pub fn expired_cookies(account: &str, what_happened: &str) -> ProviderError {
    ProviderError::Unauthorized(format!(
        "Gemini web cookies of account '{account}' have expired or were signed out ({what_happened}). \
         Sign in to gemini.google.com in a private window, copy the __Secure-1PSID and __Secure-1PSIDTS \
         cookies into the account's `psid` and `psidts` secrets (SECURE_1PSID and SECURE_1PSIDTS in the \
         shipped plugins.toml), then close the window without signing out."
    ))
}

/// What a non-200 StreamGenerate answer means.
#[derive(Debug, Clone)]
pub enum GenerateStatus {
    /// 400: the access token is missing or stale; fetch the page again.
    StaleToken,
    Failed(ProviderError),
}

pub fn generate_status(
    status: u16,
    retry_after_ms: Option<u64>,
    account: &str,
    body_hint: &str,
) -> GenerateStatus {
    match status {
        400 => GenerateStatus::StaleToken,
        _ => GenerateStatus::Failed(http_failure(
            "StreamGenerate",
            status,
            retry_after_ms,
            account,
            body_hint,
        )),
    }
}

/// A failed HTTP answer at some step of the flow (`retry_after_ms`: its
/// `Retry-After`, read with the SDK's `retry_after::retry_after_ms`).
pub fn http_failure(
    step: &str,
    status: u16,
    retry_after_ms: Option<u64>,
    account: &str,
    body_hint: &str,
) -> ProviderError {
    match status {
        401 | 403 => expired_cookies(account, &format!("{step} answered HTTP {status}")),
        429 => ProviderError::rate_limited(
            format!(
                "Google answered {step} with HTTP 429: this IP or account is temporarily blocked"
            ),
            retry_after_ms,
        ),
        _ if body_hint.is_empty() => {
            ProviderError::upstream(status, format!("{step} answered HTTP {status}"))
        }
        _ => ProviderError::upstream(
            status,
            format!("{step} answered HTTP {status}: {body_hint}"),
        ),
    }
}

/// A short, printable excerpt of an error body (never the request).
pub fn body_hint(body: &str) -> String {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(160)
        .collect();
    flat.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_typed_errors() {
        let error = |code| in_band_error(classify_code(code), "acct", "gemini-3-pro");
        assert!(matches!(error(1037), ProviderError::QuotaExhausted(_)));
        assert!(matches!(error(1060), ProviderError::RateLimited(_)));
        assert!(matches!(error(1050), ProviderError::ModelNotFound(_)));
        assert!(matches!(error(1052), ProviderError::Upstream(_)));
        assert!(matches!(error(1003), ProviderError::ContentFiltered(_)));
        assert!(matches!(error(1013), ProviderError::Upstream(_)));
        assert!(matches!(error(4242), ProviderError::Upstream(_)));
        assert!(matches!(
            in_band_error(InBand::Rejected, "a", "m"),
            ProviderError::Unauthorized(_)
        ));
    }

    #[test]
    fn expiry_says_what_to_refresh() {
        let ProviderError::Unauthorized(message) = expired_cookies("main", "no page values") else {
            panic!("not unauthorized");
        };
        assert!(message.contains("'main'"));
        assert!(message.contains("__Secure-1PSIDTS"));
        assert!(message.contains("SECURE_1PSID"));
    }

    #[test]
    fn http_statuses() {
        assert!(matches!(
            generate_status(400, None, "a", ""),
            GenerateStatus::StaleToken
        ));
        let GenerateStatus::Failed(error) = generate_status(429, Some(30_000), "a", "") else {
            panic!()
        };
        let ProviderError::RateLimited(info) = error else {
            panic!()
        };
        assert_eq!(info.retry_after_ms, Some(30_000));
        assert!(matches!(
            http_failure("x", 401, None, "a", ""),
            ProviderError::Unauthorized(_)
        ));
        let ProviderError::Upstream(failure) =
            http_failure("x", 502, None, "a", &body_hint("bad\ngateway\n"))
        else {
            panic!()
        };
        assert_eq!(failure.status, 502);
        assert!(failure.message.ends_with("bad gateway"));
    }
}
