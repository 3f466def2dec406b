//! Google Search grounding (issue #19, "Search").
//!
//! A request is grounded when its model name ends in `-search` (hajimi's
//! `SEARCH_MODE` models) or when it carries OpenAI's `web_search_options`
//! (any value but `null`; it arrives in `extra`). The upstream then gets the
//! base model in its URL and `{"googleSearch": {}}` in `tools`, next to the
//! caller's function declarations (Gemini combines built-in tools with
//! function calling; a model that does not answers 400 and that is passed on).
//!
//! Citations (`groundingMetadata`) come back as `citation` events, mapped in
//! `response.rs` (`docs/protocols/gemini-api.md`, "Google Search grounding").

use serde_json::{Map, Value, json};
use wasmgate_plugin_sdk::ChatRequest;

/// The model-name suffix that asks for grounding.
pub const SEARCH_SUFFIX: &str = "-search";

/// The OpenAI request field that asks for grounding.
pub const WEB_SEARCH_OPTIONS: &str = "web_search_options";

/// `model` without a trailing `-search` (any case), or `model` itself.
pub fn base_model(model: &str) -> &str {
    let trimmed = model.trim();
    match trimmed.len().checked_sub(SEARCH_SUFFIX.len()) {
        Some(cut)
            if cut > 0
                && trimmed.is_char_boundary(cut)
                && trimmed[cut..].eq_ignore_ascii_case(SEARCH_SUFFIX) =>
        {
            &trimmed[..cut]
        }
        _ => model,
    }
}

/// Whether the request asks for Google Search grounding.
pub(crate) fn wanted(request: &ChatRequest, extra: &Map<String, Value>) -> bool {
    base_model(&request.model).len() != request.model.len()
        || extra
            .get(WEB_SEARCH_OPTIONS)
            .is_some_and(|options| !options.is_null())
}

/// Adds the search tool to `body["tools"]`, after any function declarations.
pub(crate) fn add_tool(body: &mut Map<String, Value>) {
    let tool = json!({ "googleSearch": {} });
    match body.get_mut("tools") {
        Some(Value::Array(tools)) => tools.push(tool),
        _ => {
            body.insert("tools".into(), Value::Array(vec![tool]));
        }
    }
}

#[cfg(test)]
mod tests;
