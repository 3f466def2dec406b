//! A plugin that reads a file. `std::fs` makes the component import
//! `wasi:filesystem`, which the gateway never links: loading it must fail
//! with a clear error while every other plugin keeps working.

// Only the component build exports the provider; natively it is unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, CompletionStream, Event, ModelInfo, PluginManifest, Provider,
    ProviderError, export_provider,
};

struct ReadsFiles;

impl Provider for ReadsFiles {
    type Completion = Nothing;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "reads-files".into(),
            version: "0.1.0".into(),
            description: "Test plugin: tries to read /etc/passwd.".into(),
            hosts: vec![],
            secrets: vec![],
            settings: vec![],
            models: vec![ModelInfo {
                id: "reads-files".into(),
                display_name: None,
                context_window: None,
            }],
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(Self::manifest().models)
    }

    fn chat(_request: ChatRequest) -> Result<Completion, ProviderError> {
        let text = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| ProviderError::Internal(e.to_string()))?;
        Err(ProviderError::Internal(format!(
            "read {} bytes",
            text.len()
        )))
    }
}

struct Nothing;

impl CompletionStream for Nothing {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        Ok(Vec::new())
    }
}

export_provider!(ReadsFiles);
