//! `models.list` pages, and the models the plugin serves by default.

use serde::Deserialize;
use wasmgate_plugin_sdk::{ModelInfo, ProviderError};

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ListModelsResponse {
    models: Vec<Model>,
    next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Model {
    /// `models/gemini-2.5-flash`.
    name: String,
    display_name: Option<String>,
    input_token_limit: Option<u32>,
    supported_generation_methods: Option<Vec<String>>,
}

/// One page of the model list.
#[derive(Debug)]
pub struct ModelPage {
    pub models: Vec<ModelInfo>,
    pub next_page_token: Option<String>,
}

/// Parses a page, keeping only the models that can chat (`generateContent`).
pub fn parse_page(body: &str) -> Result<ModelPage, ProviderError> {
    let page: ListModelsResponse = serde_json::from_str(body)
        .map_err(|err| ProviderError::upstream(200, format!("unexpected model list: {err}")))?;
    let models = page
        .models
        .into_iter()
        .filter(|model| {
            model
                .supported_generation_methods
                .as_ref()
                .is_none_or(|methods| methods.iter().any(|m| m == "generateContent"))
        })
        .filter_map(|model| {
            let id = model.name.strip_prefix("models/").unwrap_or(&model.name);
            (!id.is_empty()).then(|| ModelInfo {
                id: id.to_string(),
                display_name: model.display_name,
                context_window: model.input_token_limit,
            })
        })
        .collect();
    let next_page_token = page.next_page_token.filter(|token| !token.is_empty());
    Ok(ModelPage {
        models,
        next_page_token,
    })
}

/// Served when the operator configures nothing else and before the live
/// list is known. Checked 2026-12-05 against googleapis/python-genai
/// @ `66807187` (2026-08-21) model options: no retired model
/// (`gemini-3-pro-preview`, the `gemini-2.0-flash` family).
pub fn default_models() -> Vec<ModelInfo> {
    gemini_format::model_infos(&[
        ("gemini-3.5-flash", "Gemini 3.5 Flash"),
        ("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview"),
        ("gemini-3.1-flash-lite", "Gemini 3.1 Flash-Lite"),
        ("gemini-3-flash-preview", "Gemini 3 Flash Preview"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro"),
        ("gemini-2.5-flash", "Gemini 2.5 Flash"),
        ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
        ("gemini-flash-latest", "Gemini Flash Latest"),
        ("gemini-pro-latest", "Gemini Pro Latest"),
    ])
}

/// The live list's ids as stored in plugin state (one per line).
pub fn encode_ids(models: &[ModelInfo]) -> String {
    models
        .iter()
        .map(|model| model.id.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn decode_ids(stored: &str) -> Vec<String> {
    stored
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_keep_chat_models() {
        let body = r#"{"models":[
          {"name":"models/gemini-2.5-flash","version":"001","displayName":"Gemini 2.5 Flash",
           "inputTokenLimit":1048576,"outputTokenLimit":65536,
           "supportedGenerationMethods":["generateContent","countTokens"],
           "temperature":1.0,"maxTemperature":2.0,"topP":0.95,"topK":64,"thinking":true},
          {"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]},
          {"name":"models/custom"}],
         "nextPageToken":"Cg5tb2NrLXBhZ2UtdG9rZW4"}"#;
        let page = parse_page(body).unwrap();
        let ids: Vec<&str> = page.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["gemini-2.5-flash", "custom"]);
        assert_eq!(
            page.models[0].display_name.as_deref(),
            Some("Gemini 2.5 Flash")
        );
        assert_eq!(page.models[0].context_window, Some(1_048_576));
        assert_eq!(
            page.next_page_token.as_deref(),
            Some("Cg5tb2NrLXBhZ2UtdG9rZW4")
        );
    }

    #[test]
    fn defaults_hold_no_retired_model() {
        for model in default_models() {
            assert!(!gemini_format::is_retired(&model.id), "{}", model.id);
        }
        let ids = encode_ids(&default_models()[..2]);
        assert_eq!(
            decode_ids(&ids),
            ["gemini-3.5-flash", "gemini-3.1-pro-preview"]
        );
    }

    #[test]
    fn last_page_and_garbage() {
        assert!(
            parse_page(r#"{"models":[],"nextPageToken":""}"#)
                .unwrap()
                .next_page_token
                .is_none()
        );
        assert!(parse_page("{}").unwrap().models.is_empty());
        assert!(matches!(
            parse_page("<html>"),
            Err(ProviderError::Upstream(_))
        ));
    }
}
