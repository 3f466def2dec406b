//! The `getoxsrf` exchange: session cookies in, signing key out.

use serde::Deserialize;

use crate::account::Account;
use crate::jwt::SigningKey;
use wasmgate_plugin_sdk::http::encode_component;

pub const DEFAULT_AUTH_ORIGIN: &str = "https://business.gemini.google";

/// Google's anti-XSSI prefix in front of the JSON.
const XSSI_PREFIX: &str = ")]}'";

pub fn url(auth_origin: &str, csesidx: &str) -> String {
    format!(
        "{auth_origin}/auth/getoxsrf?csesidx={}",
        encode_component(csesidx)
    )
}

/// The `Cookie` header; `__Host-C_OSES` only when the account has one.
pub fn cookie_header(account: &Account) -> String {
    let mut cookie = format!("__Secure-C_SES={}", account.secure_c_ses);
    if let Some(oses) = &account.host_c_oses {
        cookie.push_str("; __Host-C_OSES=");
        cookie.push_str(oses);
    }
    cookie
}

/// The body without its `)]}'` line, if it has one.
pub fn strip_xssi(body: &str) -> &str {
    let body = body.trim_start();
    body.strip_prefix(XSSI_PREFIX).unwrap_or(body).trim_start()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OxsrfError {
    NotJson,
    MissingFields,
    InvalidKey,
}

impl std::fmt::Display for OxsrfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OxsrfError::NotJson => "getoxsrf answered something that is not JSON",
            OxsrfError::MissingFields => "getoxsrf answered without xsrfToken/keyId",
            OxsrfError::InvalidKey => "getoxsrf answered a key that is not base64url",
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OxsrfBody {
    xsrf_token: Option<String>,
    key_id: Option<String>,
}

/// The signing key of a successful `getoxsrf` answer.
pub fn parse_response(body: &str) -> Result<SigningKey, OxsrfError> {
    let parsed: OxsrfBody =
        serde_json::from_str(strip_xssi(body)).map_err(|_| OxsrfError::NotJson)?;
    let (Some(token), Some(key_id)) = (parsed.xsrf_token, parsed.key_id) else {
        return Err(OxsrfError::MissingFields);
    };
    SigningKey::from_xsrf_token(&token, &key_id).map_err(|_| OxsrfError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_body_gives_the_key() {
        let body = ")]}'\n{\"xsrfToken\":\"c3ludGhldGljLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM\",\"keyId\":\"kid-synthetic-01\"}";
        let key = parse_response(body).unwrap();
        assert_eq!(key.key_id, "kid-synthetic-01");
        // Also without the prefix, and with CRLF after it.
        assert!(parse_response(&body[5..]).is_ok());
        assert!(parse_response(&body.replace('\n', "\r\n")).is_ok());
    }

    #[test]
    fn other_bodies_are_errors() {
        assert_eq!(parse_response("<html>"), Err(OxsrfError::NotJson));
        assert_eq!(
            parse_response(
                ")]}'\n{\"message\":\"Session has expired.\",\"status\":\"EXPIRED_SIGN_IN\"}"
            ),
            Err(OxsrfError::MissingFields)
        );
        assert_eq!(
            parse_response("{\"xsrfToken\":\"!!\",\"keyId\":\"k\"}"),
            Err(OxsrfError::InvalidKey)
        );
    }

    #[test]
    fn cookies_include_the_second_one_only_when_known() {
        let mut account = Account {
            secure_c_ses: "a".into(),
            host_c_oses: None,
            csesidx: "7".into(),
            config_id: "c".into(),
            expires_at: None,
        };
        assert_eq!(cookie_header(&account), "__Secure-C_SES=a");
        account.host_c_oses = Some("b".into());
        assert_eq!(cookie_header(&account), "__Secure-C_SES=a; __Host-C_OSES=b");
        assert_eq!(
            url("http://127.0.0.1:9", "7"),
            "http://127.0.0.1:9/auth/getoxsrf?csesidx=7"
        );
    }
}
