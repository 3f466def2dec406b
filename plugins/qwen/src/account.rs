//! One account: which flow its secrets select, and its settings.

use std::fmt;

use wasmgate_plugin_sdk::ProviderError;

/// Secret names an account may carry.
pub mod secret {
    /// Tongyi: the whole browser `Cookie` header. chat.qwen.ai: optional extra
    /// cookies (e.g. `ssxmod_itna=…`) sent along with `token=<JWT>`.
    pub const COOKIE: &str = "cookie";
    /// Tongyi: the `x-xsrf-token` header copied from the browser.
    pub const XSRF_TOKEN: &str = "xsrf-token";
    /// chat.qwen.ai: the JWT (the `token` cookie / `Authorization` bearer).
    pub const TOKEN: &str = "token";
}

/// Setting names an account may carry.
pub mod setting {
    pub const BASE_URL: &str = "base-url";
    /// The web front end sent as `Origin`/`Referer`.
    pub const WEB_ORIGIN: &str = "web-origin";
    /// chat.qwen.ai's `version` header (its web client's version).
    pub const CLIENT_VERSION: &str = "client-version";
    /// `true` keeps the tongyi sessions the plugin creates in the account's
    /// history; by default each is deleted after the answer.
    pub const KEEP_SESSIONS: &str = "keep-sessions";
}

/// The two upstream families this plugin speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The Chinese site `www.tongyi.com` (API `api.tongyi.com`).
    Tongyi,
    /// The international site `chat.qwen.ai` (v2 API).
    ChatQwenAi,
}

impl Flow {
    pub fn default_base_url(self) -> &'static str {
        match self {
            Flow::Tongyi => "https://api.tongyi.com",
            Flow::ChatQwenAi => "https://chat.qwen.ai",
        }
    }

    /// `None`: the origin is the base URL itself.
    fn default_web_origin(self) -> Option<&'static str> {
        match self {
            Flow::Tongyi => Some("https://www.tongyi.com"),
            Flow::ChatQwenAi => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Flow::Tongyi => "tongyi",
            Flow::ChatQwenAi => "chat.qwen.ai",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Tongyi {
        cookie: String,
        xsrf_token: String,
    },
    ChatQwenAi {
        token: String,
        extra_cookie: Option<String>,
    },
}

// Secrets never reach a log through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Tongyi { .. } => f.write_str("Tongyi { <redacted> }"),
            Credentials::ChatQwenAi { .. } => f.write_str("ChatQwenAi { <redacted> }"),
        }
    }
}

impl Credentials {
    /// Picks the flow from the secrets the account has: `token` means
    /// chat.qwen.ai, `cookie` + `xsrf-token` means tongyi.
    pub fn from_secrets(secret: impl Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let get = |name: &str| secret(name).map(|v| clean(&v)).filter(|v| !v.is_empty());
        let cookie = get(secret::COOKIE);
        let xsrf_token = get(secret::XSRF_TOKEN);
        let token = get(secret::TOKEN);
        match (token, cookie, xsrf_token) {
            (Some(_), _, Some(_)) => Err(misconfigured(
                "the account has both `token` (chat.qwen.ai) and `xsrf-token` (tongyi); give it the secrets of one flow",
            )),
            (Some(token), extra_cookie, None) => Ok(Credentials::ChatQwenAi {
                token: strip_bearer(&token).to_string(),
                extra_cookie,
            }),
            (None, Some(cookie), Some(xsrf_token)) => {
                Ok(Credentials::Tongyi { cookie, xsrf_token })
            }
            (None, Some(_), None) => Err(misconfigured(
                "a tongyi account needs `xsrf-token` next to `cookie` (both copied from the browser)",
            )),
            (None, None, Some(_)) => Err(misconfigured(
                "a tongyi account needs `cookie` next to `xsrf-token` (both copied from the browser)",
            )),
            (None, None, None) => Err(misconfigured(
                "the account has no credentials: give it `cookie` + `xsrf-token` (tongyi) or `token` (chat.qwen.ai)",
            )),
        }
    }

    pub fn flow(&self) -> Flow {
        match self {
            Credentials::Tongyi { .. } => Flow::Tongyi,
            Credentials::ChatQwenAi { .. } => Flow::ChatQwenAi,
        }
    }
}

/// An account that cannot work as configured: the host should set it aside
/// until the operator fixes it, which is what it does on `unauthorized`.
fn misconfigured(why: &str) -> ProviderError {
    ProviderError::Unauthorized(format!("qwen: {why}"))
}

/// Secrets pasted from a browser often carry a trailing newline.
fn clean(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect::<String>()
        .trim()
        .to_string()
}

fn strip_bearer(token: &str) -> &str {
    let lower = token.get(..7).map(str::to_ascii_lowercase);
    match lower.as_deref() {
        Some("bearer ") => token[7..].trim(),
        _ => token,
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub credentials: Credentials,
    /// Without a trailing slash.
    pub base_url: String,
    pub web_origin: String,
    pub client_version: String,
    pub keep_sessions: bool,
}

/// chat.qwen.ai's web client version sent as `version` (UNCONFIRMED whether it
/// is checked; proxies send 0.2.63 or 0.2.68). Overridable by `client-version`.
pub const DEFAULT_CLIENT_VERSION: &str = "0.2.63";

impl Account {
    pub fn from_host(
        secret: impl Fn(&str) -> Option<String>,
        setting: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ProviderError> {
        let credentials = Credentials::from_secrets(secret)?;
        let flow = credentials.flow();
        let setting = |name: &str| {
            setting(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let base_url = setting(setting::BASE_URL)
            .unwrap_or_else(|| flow.default_base_url().to_string())
            .trim_end_matches('/')
            .to_string();
        let web_origin = setting(setting::WEB_ORIGIN)
            .or_else(|| flow.default_web_origin().map(str::to_string))
            .unwrap_or_else(|| base_url.clone())
            .trim_end_matches('/')
            .to_string();
        Ok(Account {
            credentials,
            base_url,
            web_origin,
            client_version: setting(setting::CLIENT_VERSION)
                .unwrap_or_else(|| DEFAULT_CLIENT_VERSION.to_string()),
            keep_sessions: setting(setting::KEEP_SESSIONS).is_some_and(|v| v == "true"),
        })
    }

    pub fn flow(&self) -> Flow {
        self.credentials.flow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn cookie_and_xsrf_token_select_tongyi() {
        let account = Account::from_host(
            lookup(&[("cookie", "a=1; b=2\n"), ("xsrf-token", "x")]),
            lookup(&[]),
        )
        .unwrap();
        assert_eq!(account.flow(), Flow::Tongyi);
        assert_eq!(account.base_url, "https://api.tongyi.com");
        assert_eq!(account.web_origin, "https://www.tongyi.com");
        assert_eq!(
            account.credentials,
            Credentials::Tongyi {
                cookie: "a=1; b=2".into(),
                xsrf_token: "x".into()
            }
        );
        assert!(!account.keep_sessions);
    }

    #[test]
    fn token_selects_chat_qwen_ai_and_loses_its_bearer_prefix() {
        let account = Account::from_host(
            lookup(&[("token", "Bearer eyJ.x.y"), ("cookie", "ssxmod_itna=1")]),
            lookup(&[("base-url", "http://127.0.0.1:9/")]),
        )
        .unwrap();
        assert_eq!(account.flow(), Flow::ChatQwenAi);
        assert_eq!(account.base_url, "http://127.0.0.1:9");
        assert_eq!(account.web_origin, "http://127.0.0.1:9");
        assert_eq!(
            account.credentials,
            Credentials::ChatQwenAi {
                token: "eyJ.x.y".into(),
                extra_cookie: Some("ssxmod_itna=1".into())
            }
        );
    }

    #[test]
    fn incomplete_or_ambiguous_secrets_are_unauthorized_and_say_why() {
        for pairs in [
            &[("cookie", "a=1")][..],
            &[("xsrf-token", "x")][..],
            &[][..],
            &[("token", "t"), ("xsrf-token", "x")][..],
            &[("cookie", "  "), ("xsrf-token", "x")][..],
        ] {
            let pairs: &'static [(&str, &str)] = Box::leak(pairs.to_vec().into_boxed_slice());
            match Credentials::from_secrets(lookup(pairs)) {
                Err(ProviderError::Unauthorized(message)) => {
                    assert!(message.contains("account"), "{message}");
                    assert!(!message.contains("a=1"), "no secret in {message}");
                }
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let credentials = Credentials::Tongyi {
            cookie: "secret-cookie".into(),
            xsrf_token: "secret-xsrf".into(),
        };
        assert!(!format!("{credentials:?}").contains("secret"));
    }
}
