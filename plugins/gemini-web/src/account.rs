//! The account a request runs on: its secrets and settings, read once.

use wasmgate_plugin_sdk::{ProviderError, SecretSpec, SettingSpec};

use crate::cookies::{PSID, PSIDTS, pasted_value};
use crate::endpoints::Endpoints;
use crate::rotation::{self, Interval};

pub const SECRET_PSID: &str = "psid";
pub const SECRET_PSIDTS: &str = "psidts";
pub const SETTING_BASE_URL: &str = "base-url";
pub const SETTING_ROTATE_URL: &str = "rotate-url";
pub const SETTING_UPLOAD_URL: &str = "upload-url";
pub const SETTING_ROTATE_INTERVAL: &str = "rotate-interval-secs";
pub const SETTING_TEMPORARY_CHAT: &str = "temporary-chat";
pub const SETTING_MODEL_OVERRIDES: &str = "model-overrides";

pub struct Account {
    pub id: String,
    pub psid: String,
    pub psidts: Option<String>,
    pub endpoints: Endpoints,
    pub rotation: Interval,
    pub temporary_chat: bool,
    pub model_overrides: Option<String>,
}

impl Account {
    /// The account from its id, secrets and settings (looked up by name).
    pub fn from_config(
        id: String,
        secret: impl Fn(&str) -> Option<String>,
        setting: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ProviderError> {
        let setting = |name: &str| setting(name).filter(|value| !value.trim().is_empty());
        let psid = secret(SECRET_PSID)
            .map(|value| pasted_value(&value, PSID))
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                ProviderError::Unauthorized(format!(
                    "account '{id}' has no `{SECRET_PSID}` secret (the __Secure-1PSID cookie of gemini.google.com)"
                ))
            })?;
        let psidts = secret(SECRET_PSIDTS)
            .map(|value| pasted_value(&value, PSIDTS))
            .filter(|value| !value.is_empty());
        let endpoints = Endpoints::from_settings(
            setting(SETTING_BASE_URL).as_deref(),
            setting(SETTING_ROTATE_URL).as_deref(),
            setting(SETTING_UPLOAD_URL).as_deref(),
        );
        let rotation = rotation::parse_interval(setting(SETTING_ROTATE_INTERVAL).as_deref())
            .map_err(|why| ProviderError::Internal(format!("account '{id}': {why}")))?;
        let temporary_chat = setting(SETTING_TEMPORARY_CHAT).is_some_and(|value| {
            matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        });
        Ok(Account {
            id,
            psid,
            psidts,
            endpoints,
            rotation,
            temporary_chat,
            model_overrides: setting(SETTING_MODEL_OVERRIDES),
        })
    }
}

pub fn secret_specs() -> Vec<SecretSpec> {
    vec![
        SecretSpec {
            name: SECRET_PSID.into(),
            description: "The __Secure-1PSID cookie of a signed-in gemini.google.com session".into(),
            required: true,
        },
        SecretSpec {
            name: SECRET_PSIDTS.into(),
            description: "The __Secure-1PSIDTS cookie, when the session has one; the plugin rotates it and keeps the newest value in its state".into(),
            required: false,
        },
    ]
}

pub fn setting_specs() -> Vec<SettingSpec> {
    let spec = |name: &str, description: &str, default: Option<&str>| SettingSpec {
        name: name.into(),
        description: description.into(),
        default: default.map(str::to_string),
    };
    vec![
        spec(
            SETTING_BASE_URL,
            "Origin of the web app (page, StreamGenerate, batchexecute); when set, also of rotation and uploads unless rotate-url / upload-url say otherwise",
            Some(crate::endpoints::APP_ORIGIN),
        ),
        spec(
            SETTING_ROTATE_URL,
            "Origin (or full URL) of the cookie rotation endpoint (default: base-url if set, else accounts.google.com)",
            Some(crate::endpoints::ACCOUNTS_ORIGIN),
        ),
        spec(
            SETTING_UPLOAD_URL,
            "Origin (or full URL) of the file upload endpoint (default: base-url if set, else content-push.googleapis.com)",
            Some(crate::endpoints::UPLOAD_ORIGIN),
        ),
        spec(
            SETTING_ROTATE_INTERVAL,
            "Seconds between __Secure-1PSIDTS rotations, or `off`",
            Some("600"),
        ),
        spec(
            SETTING_TEMPORARY_CHAT,
            "`true` to open temporary chats that are not saved to the account's history",
            Some("false"),
        ),
        spec(
            SETTING_MODEL_OVERRIDES,
            "Model ids to use instead of the discovered list and the built-in table: `name=hexid[:capacity[:model number]]`, comma-separated",
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_settings() {
        let account = Account::from_config(
            "main".into(),
            |name| match name {
                "psid" => Some(" __Secure-1PSID=abc ".into()),
                "psidts" => Some("".into()),
                _ => None,
            },
            |name| match name {
                "base-url" => Some("http://127.0.0.1:9".into()),
                "rotate-interval-secs" => Some("5".into()),
                "temporary-chat" => Some("TRUE".into()),
                "upload-url" => Some("  ".into()),
                _ => None,
            },
        )
        .unwrap();
        assert_eq!(account.psid, "abc");
        assert_eq!(account.psidts, None);
        assert_eq!(account.endpoints.app(), "http://127.0.0.1:9/app");
        // A blank setting is unset: base-url covers the upload too.
        assert_eq!(account.endpoints.upload(), "http://127.0.0.1:9/upload");
        assert_eq!(account.rotation, Interval::Every(5));
        assert!(account.temporary_chat);
    }

    #[test]
    fn a_missing_cookie_is_unauthorized_and_a_bad_interval_internal() {
        let missing = Account::from_config("a".into(), |_| None, |_| None);
        assert!(matches!(missing, Err(ProviderError::Unauthorized(_))));
        let bad = Account::from_config(
            "a".into(),
            |_| Some("x".into()),
            |name| (name == "rotate-interval-secs").then(|| "soon".into()),
        );
        assert!(matches!(bad, Err(ProviderError::Internal(_))));
    }
}
