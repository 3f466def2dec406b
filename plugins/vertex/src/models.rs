//! The models served when the operator configures nothing else. Vertex's
//! publisher-model list needs a project-level permission many service
//! accounts lack, so the plugin does not ask it.

use wasmgate_plugin_sdk::ModelInfo;

pub fn default_models() -> Vec<ModelInfo> {
    [
        ("gemini-3-pro-preview", "Gemini 3 Pro Preview"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro"),
        ("gemini-2.5-flash", "Gemini 2.5 Flash"),
        ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
        ("gemini-2.0-flash-001", "Gemini 2.0 Flash"),
        ("gemini-2.0-flash-lite-001", "Gemini 2.0 Flash-Lite"),
    ]
    .into_iter()
    .map(|(id, name)| ModelInfo {
        id: id.into(),
        display_name: Some(name.into()),
        context_window: Some(1_048_576),
    })
    .collect()
}
