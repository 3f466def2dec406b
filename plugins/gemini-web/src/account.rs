//! The account a request runs on: its secrets and settings, read once.

use wasmgate_plugin_sdk::{ProviderError, SecretSpec, SettingSpec, host};

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
    pub fn load() -> Result<Self, ProviderError> {
        let id = host::account_id();
        let psid = host::secret(SECRET_PSID)
            .map(|value| pasted_value(&value, PSID))
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                ProviderError::Unauthorized(format!(
                    "account '{id}' has no `{SECRET_PSID}` secret (the __Secure-1PSID cookie of gemini.google.com)"
                ))
            })?;
        let psidts = host::secret(SECRET_PSIDTS)
            .map(|value| pasted_value(&value, PSIDTS))
            .filter(|value| !value.is_empty());
        let endpoints = Endpoints::from_settings(
            host::setting(SETTING_BASE_URL).as_deref(),
            host::setting(SETTING_ROTATE_URL).as_deref(),
            host::setting(SETTING_UPLOAD_URL).as_deref(),
        );
        let rotation = rotation::parse_interval(host::setting(SETTING_ROTATE_INTERVAL).as_deref())
            .map_err(|why| ProviderError::Internal(format!("account '{id}': {why}")))?;
        let temporary_chat = host::setting(SETTING_TEMPORARY_CHAT)
            .is_some_and(|value| matches!(value.trim(), "true" | "1" | "yes" | "on"));
        Ok(Account {
            id,
            psid,
            psidts,
            endpoints,
            rotation,
            temporary_chat,
            model_overrides: host::setting(SETTING_MODEL_OVERRIDES),
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
            "Origin of the web app (page, StreamGenerate)",
            Some(crate::endpoints::APP_ORIGIN),
        ),
        spec(
            SETTING_ROTATE_URL,
            "Origin (or full URL) of the cookie rotation endpoint",
            Some(crate::endpoints::ACCOUNTS_ORIGIN),
        ),
        spec(
            SETTING_UPLOAD_URL,
            "Origin (or full URL) of the file upload endpoint",
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
            "Model ids to use instead of the built-in table: `name=hexid[:capacity]`, comma-separated",
            None,
        ),
    ]
}
