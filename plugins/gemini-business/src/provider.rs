//! The component's exports: manifest, models, chat over the host's
//! `wasi:http` and capabilities.

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, ModelInfo, PluginManifest, Provider, ProviderError, SecretSpec,
    SettingSpec, WasiHost,
};

use crate::account::names as secret;
use crate::completion::AnswerStream;
use crate::settings::names as setting;
use crate::{chat, models, oxsrf, wire};

pub struct GeminiBusiness;

impl Provider for GeminiBusiness {
    type Completion = AnswerStream<'static, WasiHost>;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "gemini-business".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gemini Business (business.gemini.google) through its widget API, with browser session cookies.".into(),
            hosts: vec![
                "business.gemini.google".into(),
                "biz-discoveryengine.googleapis.com".into(),
            ],
            secrets: secret_specs(),
            settings: setting_specs(),
            models: model_infos(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(model_infos())
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        chat::start(&WasiHost, &request).map(Completion::new)
    }
}

fn model_infos() -> Vec<ModelInfo> {
    models::MODELS
        .iter()
        .map(|spec| ModelInfo {
            id: spec.id.into(),
            display_name: Some(spec.display_name.into()),
            context_window: None,
        })
        .collect()
}

fn secret_specs() -> Vec<SecretSpec> {
    // Each is optional: either the per-variable set or accounts-config.
    let spec = SecretSpec::optional;
    vec![
        spec(
            secret::SECURE_C_SES,
            "the __Secure-C_SES cookie of business.gemini.google (required unless accounts-config is given)",
        ),
        spec(secret::HOST_C_OSES, "the __Host-C_OSES cookie, when known"),
        spec(
            secret::CSESIDX,
            "the csesidx query parameter of the app URL (required unless accounts-config is given)",
        ),
        spec(
            secret::CONFIG_ID,
            "the config id after /cid/ in the app URL (required unless accounts-config is given)",
        ),
        spec(
            secret::EXPIRES_AT,
            "when the account stops working: `YYYY-MM-DD HH:MM:SS` (UTC+8, as the seed writes it), RFC 3339 or Unix seconds",
        ),
        spec(
            secret::ACCOUNTS_CONFIG,
            "the seed's ACCOUNTS_CONFIG JSON array; the setting `index` picks this account's element",
        ),
    ]
}

fn setting_specs() -> Vec<SettingSpec> {
    let spec = SettingSpec::new;
    vec![
        spec(
            setting::BASE_URL,
            "origin of the widget API",
            Some(wire::DEFAULT_API_ORIGIN),
        ),
        spec(
            setting::AUTH_URL,
            "origin of getoxsrf",
            Some(oxsrf::DEFAULT_AUTH_ORIGIN),
        ),
        spec(
            secret::INDEX,
            "with accounts-config: which element of the array this account is",
            Some("0"),
        ),
        spec(
            secret::EXPIRES_AT,
            "like the secret of that name, for operators who keep it out of secrets",
            None,
        ),
        spec(
            setting::LANGUAGE_CODE,
            "languageCode of asks",
            Some("en-US"),
        ),
        spec(
            setting::TIME_ZONE,
            "userMetadata.timeZone of asks",
            Some("Etc/GMT"),
        ),
        spec(
            setting::TEXT_COOLDOWN,
            "cooldown after a rate limit on text the upstream gave no time for, in seconds \
             (unset: the [pool] cooldown)",
            None,
        ),
        spec(
            setting::IMAGE_COOLDOWN,
            "cooldown after a rate limit on image generation the upstream gave no time for, \
             in seconds (unset: the [pool] cooldown)",
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_both_hosts_and_every_secret() {
        let manifest = GeminiBusiness::manifest();
        assert_eq!(manifest.name, "gemini-business");
        assert_eq!(
            manifest.hosts,
            [
                "business.gemini.google",
                "biz-discoveryengine.googleapis.com"
            ]
        );
        let secrets: Vec<&str> = manifest.secrets.iter().map(|s| s.name.as_str()).collect();
        assert!(secrets.contains(&"accounts-config") && secrets.contains(&"secure-c-ses"));
        assert_eq!(manifest.models.len(), models::MODELS.len());
        assert!(GeminiBusiness::models().is_ok());
    }
}
