//! Which models think, and how OpenAI's `reasoning_effort` maps onto them.
//!
//! Everything here is model-name folklore rather than protocol, so it is kept
//! in one place (`docs/protocols/gemini-api.md`, "Thinking settings").
//! UNCONFIRMED: Google documents `thinkingBudget` (0–24576 on 2.5 Flash, 0
//! disables) and `thinkingLevel` for newer models; the effort → budget figures
//! (1K/8K/24K) follow Google's own OpenAI-compatible endpoint.

use serde_json::{Value, json};

/// A thinking setting for `generationConfig.thinkingConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// Gemini 2.5: a token budget (0 disables thinking where allowed).
    Budget(i64),
    /// Gemini 3: a named level.
    Level(&'static str),
}

impl Thinking {
    /// The `thinkingConfig` keys this setting contributes.
    pub fn config(self) -> Value {
        match self {
            Thinking::Budget(budget) => json!({"thinkingBudget": budget}),
            Thinking::Level(level) => json!({"thinkingLevel": level}),
        }
    }
}

/// Whether the model thinks, so asking for its thoughts makes sense. Asking a
/// model that does not think for `includeThoughts` risks a 400.
pub fn model_thinks(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let excluded = [
        "tts",
        "embedding",
        "live",
        "native-audio",
        "2.5-flash-image",
    ];
    if excluded.iter().any(|word| model.contains(word)) {
        return false;
    }
    model.contains("gemini-2.5")
        || model.contains("gemini-3")
        || model.contains("thinking")
        || matches!(
            model.as_str(),
            "gemini-flash-latest" | "gemini-flash-lite-latest" | "gemini-pro-latest"
        )
}

/// The setting for an OpenAI `reasoning_effort`, or an error naming the
/// accepted values.
pub fn for_effort(model: &str, effort: &str) -> Result<Thinking, String> {
    let model = model.to_ascii_lowercase();
    let pro = model.contains("pro");
    let effort = effort.to_ascii_lowercase();
    if model.contains("gemini-3") {
        // Gemini 3 Pro knows only `low` and `high`; Flash adds `minimal` and `medium`.
        let level = match effort.as_str() {
            "none" | "minimal" if pro => "low",
            "none" | "minimal" => "minimal",
            "low" => "low",
            "medium" if pro => "high",
            "medium" => "medium",
            "high" | "xhigh" => "high",
            other => return Err(unknown(other)),
        };
        return Ok(Thinking::Level(level));
    }
    let budget = match effort.as_str() {
        // 2.5 Pro cannot stop thinking; 128 is its smallest budget.
        "none" if pro => 128,
        "none" => 0,
        "minimal" | "low" => 1024,
        "medium" => 8192,
        "high" => 24576,
        "xhigh" if pro => 32768,
        "xhigh" => 24576,
        other => return Err(unknown(other)),
    };
    Ok(Thinking::Budget(budget))
}

fn unknown(effort: &str) -> String {
    format!(
        "unsupported reasoning_effort {effort:?}: use none, minimal, low, medium, high or xhigh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_models() {
        assert!(model_thinks("gemini-2.5-pro"));
        assert!(model_thinks("gemini-2.5-flash-lite"));
        assert!(model_thinks("gemini-3-pro-preview"));
        assert!(model_thinks("gemini-flash-latest"));
        assert!(!model_thinks("gemini-2.0-flash"));
        assert!(!model_thinks("gemini-2.5-flash-image"));
        assert!(!model_thinks("gemini-2.5-flash-preview-tts"));
    }

    #[test]
    fn efforts_map_to_budgets_and_levels() {
        assert_eq!(
            for_effort("gemini-2.5-flash", "none"),
            Ok(Thinking::Budget(0))
        );
        assert_eq!(
            for_effort("gemini-2.5-pro", "none"),
            Ok(Thinking::Budget(128))
        );
        assert_eq!(
            for_effort("gemini-2.5-flash", "low"),
            Ok(Thinking::Budget(1024))
        );
        assert_eq!(
            for_effort("gemini-2.5-flash", "medium"),
            Ok(Thinking::Budget(8192))
        );
        assert_eq!(
            for_effort("gemini-2.5-pro", "HIGH"),
            Ok(Thinking::Budget(24576))
        );
        assert_eq!(
            for_effort("gemini-3-pro-preview", "medium"),
            Ok(Thinking::Level("high"))
        );
        assert_eq!(
            for_effort("gemini-3-pro-preview", "minimal"),
            Ok(Thinking::Level("low"))
        );
        assert_eq!(
            for_effort("gemini-3-flash-preview", "minimal"),
            Ok(Thinking::Level("minimal"))
        );
        assert!(for_effort("gemini-2.5-flash", "extreme").is_err());
    }
}
