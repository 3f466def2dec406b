//! The models served when the operator configures nothing else. Vertex's
//! publisher-model list needs a project-level permission many service
//! accounts lack, so the plugin does not ask it.

use wasmgate_plugin_sdk::ModelInfo;

/// Checked 2026-12-05: no retired model (`gemini-3-pro-preview`, shut down
/// March 2026; the `gemini-2.0-flash` family), per googleapis/python-genai
/// @ `66807187` (2026-08-21) model options, kept to the ids Vertex's model
/// garden also serves (not AI Studio's `-latest` aliases).
pub fn default_models() -> Vec<ModelInfo> {
    gemini_format::model_infos(&[
        ("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview"),
        ("gemini-3-flash-preview", "Gemini 3 Flash Preview"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro"),
        ("gemini-2.5-flash", "Gemini 2.5 Flash"),
        ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_hold_no_retired_model() {
        for model in super::default_models() {
            assert!(!gemini_format::is_retired(&model.id), "{}", model.id);
        }
    }
}
