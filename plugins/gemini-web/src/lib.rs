//! The Gemini web app (gemini.google.com) as a wasmgate provider.
//!
//! Each request: restore the account's cookie jar from the state store,
//! rotate `__Secure-1PSIDTS` if due, get the page values (cached, or read
//! from `/app`), upload attachments, fold the conversation into one prompt
//! of a fresh chat, send StreamGenerate, and stream the cumulative snapshots
//! out as deltas. Protocol logic lives in the pure modules below the glue.

// Pure protocol modules (no host calls; unit-tested natively, public so
// that the mock's tests can read its streams with them).
pub mod assembler;
pub mod cookies;
pub mod delta;
pub mod display_text;
pub mod endpoints;
pub mod envelope;
pub mod failures;
pub mod framing;
pub mod generate_request;
pub mod images;
pub mod json_path;
pub mod models;
pub mod page;
pub mod prompt;
pub mod rotation;
pub mod snapshot;
pub mod upload;

// Glue to the host. It also compiles natively (for tests of the pure
// modules), where nothing exports it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod account;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod answer;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod session;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod transport;

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, ModelInfo, PluginManifest, Provider, ProviderError, host,
};

use crate::account::Account;
use crate::answer::Answer;
use crate::models::{MODELS, ModelError};
use crate::session::Session;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct GeminiWeb;

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
        let mut models = table_models();
        if let Some(overrides) = host::setting(account::SETTING_MODEL_OVERRIDES) {
            let extra = models::parse_overrides(&overrides).map_err(model_error)?;
            for model in extra {
                if models.iter().all(|known| known.id != model.name) {
                    models.push(ModelInfo {
                        id: model.name,
                        display_name: None,
                        context_window: None,
                    });
                }
            }
        }
        Ok(models)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let account = Account::load()?;
        let model = models::resolve(&request.model, account.model_overrides.as_deref())
            .map_err(model_error)?;
        let prompt = prompt::fold(&request.messages)
            .map_err(|why| ProviderError::BadRequest(why.to_string()))?;
        if !request.tools.is_empty() {
            host::debug("gemini-web has no function calling: tools are ignored");
        }

        let mut session = Session::open(account);
        session.rotate_if_due()?;
        let mut page = session.page()?;
        let files = prompt
            .attachments
            .iter()
            .map(|attachment| session.upload(&page, attachment))
            .collect::<Result<Vec<_>, _>>()?;
        let response = session.generate(&mut page, &model, &prompt.text, &files)?;
        let answer = Answer::new(session, response, &model.name);
        answer.prime()?;
        Ok(Completion::new(answer))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn table_models() -> Vec<ModelInfo> {
    MODELS
        .iter()
        .map(|row| ModelInfo {
            id: row.name.into(),
            display_name: Some(row.display.into()),
            context_window: None,
        })
        .collect()
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn model_error(error: ModelError) -> ProviderError {
    match error {
        ModelError::Unknown(name) => ProviderError::ModelNotFound(format!(
            "gemini-web has no model '{name}' (known: {})",
            MODELS
                .iter()
                .map(|row| row.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ModelError::BadOverride(entry) => ProviderError::Internal(format!(
            "the `model-overrides` setting has an invalid entry {entry:?} (want name=hexid[:capacity])"
        )),
    }
}

// A native cdylib cannot carry the component's export names.
#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(GeminiWeb);
