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
    /// chat.qwen.ai: an access JWT used as is (`Authorization` bearer). Since
    /// 2026-09 these live about 15 minutes, so prefer `SESSION_TOKEN`.
    pub const TOKEN: &str = "token";
    /// chat.qwen.ai: the long-lived session credential (the `token` cookie
    /// of a signed-in browser, about 30 days), traded at `auth.qwen.ai` for
    /// access tokens.
    pub const SESSION_TOKEN: &str = "session-token";
    /// chat.qwen.ai: the anti-bot headers a browser computes for write calls.
    pub const BX_UA: &str = "bx-ua";
    pub const BX_UMIDTOKEN: &str = "bx-umidtoken";
}

/// Setting names an account may carry.
pub mod setting {
    pub const BASE_URL: &str = "base-url";
    /// chat.qwen.ai's auth origin (token refresh); defaults to `base-url`
    /// when that is set, else `https://auth.qwen.ai`.
    pub const AUTH_URL: &str = "auth-url";
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
        /// Optional: newer clients send none.
        xsrf_token: Option<String>,
    },
    ChatQwenAi {
        /// A fixed access token (no refresh possible).
        token: Option<String>,
        /// The session token refreshes are made with.
        session_token: Option<String>,
        /// The browser's cookie jar (anti-bot cookies such as `ssxmod_itna`).
        extra_cookie: Option<String>,
        bx_ua: Option<String>,
        bx_umidtoken: Option<String>,
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
    /// Picks the flow from the secrets the account has: `session-token` or
    /// `token` mean chat.qwen.ai, `cookie` (with an optional `xsrf-token`)
    /// alone means tongyi.
    pub fn from_secrets(secret: impl Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let get = |name: &str| secret(name).map(|v| clean(&v)).filter(|v| !v.is_empty());
        let cookie = get(secret::COOKIE);
        let xsrf_token = get(secret::XSRF_TOKEN);
        let token = get(secret::TOKEN).map(|t| strip_bearer(&t).to_string());
        let session_token = get(secret::SESSION_TOKEN).map(|t| strip_cookie_name(&t).to_string());
        let bx_ua = get(secret::BX_UA);
        let bx_umidtoken = get(secret::BX_UMIDTOKEN);
        let chat_qwen_ai = token.is_some() || session_token.is_some();
        if chat_qwen_ai && xsrf_token.is_some() {
            return Err(misconfigured(
                "the account has both chat.qwen.ai secrets (`session-token`/`token`) and `xsrf-token` (tongyi); give it the secrets of one flow",
            ));
        }
        if chat_qwen_ai {
            return Ok(Credentials::ChatQwenAi {
                token,
                session_token,
                extra_cookie: cookie,
                bx_ua,
                bx_umidtoken,
            });
        }
        match (cookie, xsrf_token) {
            (Some(cookie), xsrf_token) => Ok(Credentials::Tongyi { cookie, xsrf_token }),
            (None, Some(_)) => Err(misconfigured(
                "a tongyi account needs `cookie` next to `xsrf-token` (both copied from the browser)",
            )),
            (None, None) => Err(misconfigured(
                "the account has no credentials: give it `cookie` (tongyi) or `session-token` (chat.qwen.ai)",
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

/// A pasted `token=…` cookie pair loses its name.
fn strip_cookie_name(token: &str) -> &str {
    token.strip_prefix("token=").unwrap_or(token)
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
    /// chat.qwen.ai's auth origin, without a trailing slash.
    pub auth_url: String,
    pub web_origin: String,
    pub client_version: String,
    pub keep_sessions: bool,
}

/// chat.qwen.ai's web client version sent as `version` (UNCONFIRMED whether it
/// is checked; proxies send 0.2.63 or 0.2.68). Overridable by `client-version`.
pub const DEFAULT_CLIENT_VERSION: &str = "0.2.63";

/// chat.qwen.ai's auth origin (token refresh), a different host since 2026-09.
pub const DEFAULT_AUTH_URL: &str = "https://auth.qwen.ai";

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
        let configured_base = setting(setting::BASE_URL);
        let base_url = configured_base
            .clone()
            .unwrap_or_else(|| flow.default_base_url().to_string())
            .trim_end_matches('/')
            .to_string();
        // An account pointed elsewhere (a mirror, a test upstream) takes its
        // auth calls there too, so it needs no extra host grant.
        let auth_url = setting(setting::AUTH_URL)
            .or(configured_base)
            .unwrap_or_else(|| DEFAULT_AUTH_URL.to_string())
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
            auth_url,
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
                xsrf_token: Some("x".into())
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
            account.auth_url, "http://127.0.0.1:9",
            "base-url routes auth too"
        );
        assert_eq!(
            account.credentials,
            Credentials::ChatQwenAi {
                token: Some("eyJ.x.y".into()),
                session_token: None,
                extra_cookie: Some("ssxmod_itna=1".into()),
                bx_ua: None,
                bx_umidtoken: None,
            }
        );
    }

    #[test]
    fn a_session_token_selects_chat_qwen_ai_with_the_auth_origin() {
        let account = Account::from_host(
            lookup(&[
                ("session-token", "token=sess-1\n"),
                ("bx-ua", "231!x"),
                ("bx-umidtoken", "T2g"),
            ]),
            lookup(&[]),
        )
        .unwrap();
        assert_eq!(account.flow(), Flow::ChatQwenAi);
        assert_eq!(account.auth_url, "https://auth.qwen.ai");
        assert_eq!(account.base_url, "https://chat.qwen.ai");
        match account.credentials {
            Credentials::ChatQwenAi {
                session_token,
                bx_ua,
                bx_umidtoken,
                ..
            } => {
                assert_eq!(session_token.as_deref(), Some("sess-1"));
                assert_eq!(bx_ua.as_deref(), Some("231!x"));
                assert_eq!(bx_umidtoken.as_deref(), Some("T2g"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cookie_alone_is_a_tongyi_account_without_xsrf_token() {
        let credentials = Credentials::from_secrets(lookup(&[("cookie", "a=1")])).unwrap();
        assert_eq!(
            credentials,
            Credentials::Tongyi {
                cookie: "a=1".into(),
                xsrf_token: None
            }
        );
    }

    #[test]
    fn incomplete_or_ambiguous_secrets_are_unauthorized_and_say_why() {
        for pairs in [
            &[("bx-ua", "a=1")][..],
            &[("xsrf-token", "x")][..],
            &[("session-token", "s"), ("xsrf-token", "x")][..],
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
            xsrf_token: Some("secret-xsrf".into()),
        };
        assert!(!format!("{credentials:?}").contains("secret"));
    }
}
