//! chat.qwen.ai's token is a JWT whose payload carries `exp` (Unix seconds).
//! Reading it (no signature check: the server does that) lets the plugin
//! report an expired token before spending a request on it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use wasmgate_plugin_sdk::ProviderError;

/// The token's expiry in Unix seconds, if it is a JWT that says.
pub fn expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    exp.as_u64().or_else(|| exp.as_f64().map(|f| f as u64))
}

/// `unauthorized` when the token has expired (an opaque token passes).
pub fn check_fresh(token: &str, now_ms: u64) -> Result<(), ProviderError> {
    match expiry(token) {
        Some(exp) if exp.saturating_mul(1000) <= now_ms => {
            Err(ProviderError::Unauthorized(format!(
                "chat.qwen.ai: the account's token expired {} ago; copy a fresh `token` from the browser, or set `session-token` so the plugin renews it",
                describe_age(now_ms / 1000 - exp)
            )))
        }
        _ => Ok(()),
    }
}

fn describe_age(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7_200 => format!("{} min", seconds / 60),
        7_200..172_800 => format!("{} h", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_exp() {
        assert_eq!(
            expiry(&token(r#"{"id":"u1","exp":1767225600}"#)),
            Some(1_767_225_600)
        );
        assert_eq!(expiry(&token(r#"{"id":"u1"}"#)), None);
        assert_eq!(expiry("opaque-token"), None);
        assert_eq!(expiry("a.!!!.c"), None);
    }

    #[test]
    fn an_expired_token_is_unauthorized_before_any_request() {
        let expired = token(r#"{"id":"u1","exp":1000}"#);
        match check_fresh(&expired, 1_000_000 + 7_200_000) {
            Err(ProviderError::Unauthorized(message)) => {
                assert!(message.contains("expired 2 h ago"), "{message}");
                assert!(!message.contains(&expired));
            }
            other => panic!("{other:?}"),
        }
        let fresh = token(r#"{"exp":4000000000}"#);
        assert!(check_fresh(&fresh, 1_767_225_600_000).is_ok());
        assert!(check_fresh("opaque", 1_767_225_600_000).is_ok());
    }
}
