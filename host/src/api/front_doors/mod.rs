//! Front doors besides OpenAI's chat completions: other protocols onto the
//! same routes, pools, plugins and sandbox. Each module parses its
//! protocol's request into the host's `ChatRequest`, runs it through
//! [`super::chat_core`], and writes the events back in its protocol, errors
//! included (their shape comes from the router's `error::reshape` layer).
//!
//! Tool calls' provider data (a Gemini thought signature) and signed
//! reasoning go through the few helpers below (`tool_call`,
//! `provider_data`, `reasoning_part`), so every door treats them alike; the
//! per-caller memory of provider data by tool-call id is `chat_core`'s.

pub mod anthropic;
pub mod gemini;
pub mod images;
pub mod responses;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::runtime::bindings::{
    ChatRequest, ContentPart, Media, Message, ReasoningPart, Sampling, ToolCall, ToolCallDelta,
};

/// Parses a JSON body into `T`, with errors that say what is wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid_json(
            "The request body is empty; expected a JSON object.",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::invalid_json(format!("The request body is not valid JSON: {err}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid_json(
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value)
        .map_err(|err| ApiError::invalid_request(format!("Invalid request: {err}")))
}

/// A fresh id for an answer: `prefix` and 24 random hex digits.
pub fn new_id(prefix: &str) -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new();
    let high = random.hash_one(crate::clock::unix_millis());
    let low = random.hash_one(high) as u32;
    format!("{prefix}{high:016x}{low:08x}")
}

/// A tool call of an earlier turn, as the contract holds it. `provider_data`
/// is what the caller sent back with it (a Gemini thought signature).
pub fn tool_call(
    id: String,
    name: String,
    arguments: String,
    provider_data: Option<String>,
) -> ToolCall {
    ToolCall {
        id,
        name,
        arguments,
        provider_data: provider_data.filter(|data| !data.is_empty()),
    }
}

/// The provider data a plugin attached to a tool call, to hand to the caller.
pub fn provider_data(call: &ToolCallDelta) -> Option<&str> {
    call.provider_data.as_deref()
}

/// Thinking from an earlier assistant turn, with its signature.
pub fn reasoning_part(text: String, signature: Option<String>) -> Option<ContentPart> {
    (!text.is_empty() || signature.is_some())
        .then_some(ContentPart::Reasoning(ReasoningPart { text, signature }))
}

/// Characters of the text in a request, divided by four: the usual rough
/// estimate of tokens, for `count_tokens` endpoints.
pub fn estimate_tokens(texts: impl IntoIterator<Item = usize>) -> u32 {
    let characters: usize = texts.into_iter().sum();
    u32::try_from(characters.div_ceil(4)).unwrap_or(u32::MAX)
}

/// A request with the contract's defaults: no sampling options, tools or
/// stop sequences. Doors fill in what their protocol says.
pub fn new_chat(model: &str, messages: Vec<Message>, stream: bool) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        messages,
        sampling: Sampling {
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
        },
        stop: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        stream,
        reasoning_effort: None,
        extra: None,
    }
}

/// Sets one field of the request's `extra` object (what the plugins read
/// besides the contract's fields, in OpenAI's names).
pub fn set_extra(chat: &mut ChatRequest, key: &str, value: Value) {
    let mut extra = chat
        .extra
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Map<String, Value>>(text).ok())
        .unwrap_or_default();
    extra.insert(key.to_string(), value);
    chat.extra = Some(Value::Object(extra).to_string());
}

/// The caller's reasoning effort (`none` … `xhigh`, OpenAI's names), in the
/// contract's typed field; a name it does not know is left unset.
pub fn set_reasoning_effort(chat: &mut ChatRequest, effort: &str) {
    chat.reasoning_effort = super::request::reasoning_effort(effort);
}

/// A thinking budget in tokens as an effort (Anthropic's `budget_tokens`,
/// Gemini's `thinkingBudget`).
pub fn effort_for_budget(budget: u32) -> &'static str {
    match budget {
        0 => "none",
        1..=2048 => "low",
        2049..=12288 => "medium",
        _ => "high",
    }
}

/// One SSE frame with an event name.
pub fn sse_event(name: &str, data: &Value) -> Vec<u8> {
    let mut frame = format!("event: {name}\ndata: ").into_bytes();
    frame.extend_from_slice(&serde_json::to_vec(data).unwrap_or_default());
    frame.extend_from_slice(b"\n\n");
    frame
}

/// `media_type` and base64 `data` as bytes, or why not.
pub fn decode_base64(media_type: &str, data: &str) -> Result<Media, String> {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|err| format!("the data is not valid base64: {err}"))?;
    Ok(Media {
        mime_type: media_type.to_string(),
        data,
    })
}

/// A remote `http(s)` URL as an image part (the host fetches it when
/// `fetch-urls` is on), or why not.
pub fn url_part(url: &str) -> Result<ContentPart, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(ContentPart::ImageUrl(url.to_string()))
    } else if url.starts_with("data:") {
        super::request::decode_data_url(url).map(ContentPart::Image)
    } else {
        Err("a URL must be http(s) or a data: URL".into())
    }
}
