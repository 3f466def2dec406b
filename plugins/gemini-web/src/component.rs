//! The component side: the exported provider, its flows over the SDK's
//! [`WasiHost`].

use std::rc::Rc;

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, ModelInfo, PluginManifest, Provider, ProviderError, WasiHost, host,
};

use crate::account::{self, Account};
use crate::answer::Answer;
use crate::chat;
use crate::models;

pub struct GeminiWeb;

impl Provider for GeminiWeb {
    type Completion = Answer;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "gemini-web".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gemini through the gemini.google.com web app, with the account's Google session cookies".into(),
            hosts: vec![
                "gemini.google.com".into(),
                "accounts.google.com".into(),
                "content-push.googleapis.com".into(),
                "*.googleusercontent.com".into(),
            ],
            secrets: account::secret_specs(),
            settings: account::setting_specs(),
            models: table_models(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        let account = Account::from_config(host::account_id(), host::secret, host::setting)?;
        if let Some(overrides) = &account.model_overrides {
            models::parse_overrides(overrides).map_err(chat::model_error)?;
        }
        Ok(chat::list(Rc::new(WasiHost), account)
            .into_iter()
            .map(|(id, display)| ModelInfo {
                id,
                display_name: Some(display),
                context_window: None,
            })
            .collect())
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let account = Account::from_config(host::account_id(), host::secret, host::setting)?;
        Ok(Completion::new(chat::start(
            Rc::new(WasiHost),
            account,
            &request,
        )?))
    }
}

fn table_models() -> Vec<ModelInfo> {
    models::table_names()
        .into_iter()
        .map(|(id, display)| ModelInfo {
            id,
            display_name: Some(display),
            context_window: None,
        })
        .collect()
}
