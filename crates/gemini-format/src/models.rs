//! Model names as clients send them → the name to put in the URL.
//!
//! Google's model ids are lower case; clients (and seeds' configs) are not
//! always. Retired models answer 404, yet users of the seeds still send
//! them: each is sent as its documented successor instead, unless the
//! upstream's own live list still offers it.

use wasmgate_plugin_sdk::ModelInfo;

/// The input tokens the Gemini models read (2.5 and later).
pub const CONTEXT_WINDOW: u32 = 1_048_576;

/// Retired model → successor, checked 2026-12-05 (googleapis/python-genai
/// @ `66807187` of 2026-08-21 lists neither `gemini-3-pro-preview`, shut down
/// in March 2026, nor the `gemini-2.0-flash` family among its model options;
/// `gemini-3.1-pro-preview` replaced the former; for the latter (and 1.5)
/// we pick the 2.5 model of the same tier).
pub const SUCCESSORS: &[(&str, &str)] = &[
    ("gemini-3-pro-preview", "gemini-3.1-pro-preview"),
    ("gemini-2.0-flash", "gemini-2.5-flash"),
    ("gemini-2.0-flash-001", "gemini-2.5-flash"),
    ("gemini-2.0-flash-exp", "gemini-2.5-flash"),
    ("gemini-2.0-flash-lite", "gemini-2.5-flash-lite"),
    ("gemini-2.0-flash-lite-001", "gemini-2.5-flash-lite"),
    ("gemini-1.5-flash", "gemini-2.5-flash"),
    ("gemini-1.5-pro", "gemini-2.5-pro"),
];

/// Whether `id` names a retired model (one of [`SUCCESSORS`]).
pub fn is_retired(id: &str) -> bool {
    SUCCESSORS.iter().any(|(retired, _)| *retired == id)
}

/// A plugin's model list from `(id, display name)` pairs.
pub fn model_infos(models: &[(&str, &str)]) -> Vec<ModelInfo> {
    models
        .iter()
        .map(|(id, name)| ModelInfo {
            id: id.to_string(),
            display_name: Some(name.to_string()),
            context_window: Some(CONTEXT_WINDOW),
        })
        .collect()
}

/// The id to send for `requested`: lower case, without a `models/` prefix;
/// a retired model becomes its successor unless `live` (the upstream's own
/// list, when known) still has it.
pub fn upstream_model_id(requested: &str, live: Option<&[String]>) -> String {
    let id = requested.trim().to_ascii_lowercase();
    let id = id.strip_prefix("models/").unwrap_or(&id).to_string();
    if live.is_some_and(|live| live.iter().any(|known| known.eq_ignore_ascii_case(&id))) {
        return id;
    }
    SUCCESSORS
        .iter()
        .find(|(retired, _)| *retired == id)
        .map_or(id, |(_, successor)| successor.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowered_and_retired_ones_replaced() {
        assert_eq!(
            upstream_model_id("Gemini-2.5-Flash", None),
            "gemini-2.5-flash"
        );
        assert_eq!(
            upstream_model_id("models/gemini-2.5-pro", None),
            "gemini-2.5-pro"
        );
        assert_eq!(
            upstream_model_id("gemini-2.0-flash", None),
            "gemini-2.5-flash"
        );
        assert_eq!(
            upstream_model_id("GEMINI-3-PRO-PREVIEW", None),
            "gemini-3.1-pro-preview"
        );
        assert_eq!(upstream_model_id("mock-thinking", None), "mock-thinking");
    }

    #[test]
    fn the_live_list_wins_over_the_table() {
        let live = vec!["gemini-2.0-flash".to_string()];
        assert_eq!(
            upstream_model_id("gemini-2.0-flash", Some(&live)),
            "gemini-2.0-flash"
        );
        assert_eq!(
            upstream_model_id("gemini-3-pro-preview", Some(&live)),
            "gemini-3.1-pro-preview"
        );
    }

    #[test]
    fn successors_are_not_retired_themselves() {
        for (retired, successor) in SUCCESSORS {
            assert!(is_retired(retired));
            assert!(!is_retired(successor), "{successor}");
        }
    }
}
