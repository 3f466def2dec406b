//! Reading a `GenerateContentRequest`, and the deterministic answers.
//!
//! The answer echoes the last user turn: `echo: <its parts>`, where a text
//! part is its text, an image `[inlineData image/png 1234 bytes]`, a file URI
//! `[fileData gs://…]` and a tool result `[functionResponse name {…}]`. So a
//! test can assert the exact text, and see that an image arrived inline.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::google_errors::{self, GoogleError};
use crate::scenario::Scenario;

/// The thought signature put on every `functionCall` (base64 of
/// `mock-thought-signature`), so a test can check it comes back in history.
pub const THOUGHT_SIGNATURE: &str = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==";

/// What the answer is made from.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    /// The last user turn, rendered as text.
    pub text: String,
    /// `generationConfig.thinkingConfig.includeThoughts` was true.
    pub include_thoughts: bool,
    /// The first declared function: its name and parameter schema.
    pub function: Option<(String, Option<Value>)>,
    /// The last user turn carries a `functionResponse`.
    pub answers_tool: bool,
    /// Characters of every text in the request, divided by four.
    pub prompt_tokens: u32,
}

/// A field under its lowerCamelCase or snake_case name (both are accepted).
pub fn field<'a>(object: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// Validates a `generateContent` body as Google would, and reads it.
pub fn inspect(body: &Value) -> Result<Prompt, GoogleError> {
    if !body.is_object() {
        return Err(google_errors::invalid_argument(
            "Invalid JSON payload received. Expected an object.",
        ));
    }
    let contents = match body.get("contents") {
        Some(Value::Array(contents)) if !contents.is_empty() => contents,
        _ => {
            return Err(google_errors::invalid_argument(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
    };
    let mut prompt = Prompt::default();
    let mut characters = text_characters(field(body, "systemInstruction", "system_instruction"));
    for (index, content) in contents.iter().enumerate() {
        let role = content.get("role").and_then(Value::as_str);
        if !matches!(role, None | Some("user") | Some("model")) {
            return Err(google_errors::invalid_argument(
                "Please use a valid role: user, model.",
            ));
        }
        let parts = match content.get("parts") {
            Some(Value::Array(parts)) if !parts.is_empty() => parts,
            _ => {
                return Err(google_errors::invalid_argument(&format!(
                    "* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n"
                )));
            }
        };
        characters += text_characters(Some(content));
        if role != Some("model") {
            let mut rendered = Vec::new();
            let mut answers_tool = false;
            for (part_index, part) in parts.iter().enumerate() {
                if field(part, "functionResponse", "function_response").is_some() {
                    answers_tool = true;
                }
                if let Some(text) = render_part(part, index, part_index)? {
                    rendered.push(text);
                }
            }
            prompt.text = rendered.join(" ");
            prompt.answers_tool = answers_tool;
        } else {
            for (part_index, part) in parts.iter().enumerate() {
                render_part(part, index, part_index)?; // validates inline data
            }
        }
    }
    prompt.prompt_tokens = characters / 4;
    prompt.include_thoughts = field(body, "generationConfig", "generation_config")
        .and_then(|config| field(config, "thinkingConfig", "thinking_config"))
        .and_then(|thinking| field(thinking, "includeThoughts", "include_thoughts"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    prompt.function = first_function(body);
    Ok(prompt)
}

/// Characters of the text parts of a content (or system instruction).
fn text_characters(content: Option<&Value>) -> u32 {
    content
        .and_then(|content| content.get("parts"))
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .map(|text| text.chars().count() as u32)
                .sum()
        })
        .unwrap_or(0)
}

fn render_part(part: &Value, content: usize, index: usize) -> Result<Option<String>, GoogleError> {
    if let Some(text) = part.get("text").and_then(Value::as_str) {
        return Ok(Some(text.to_string()));
    }
    if let Some(blob) = field(part, "inlineData", "inline_data") {
        let mime_type = field(blob, "mimeType", "mime_type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let data = blob.get("data").and_then(Value::as_str).unwrap_or("");
        let bytes = BASE64.decode(data).map_err(|_| {
            google_errors::invalid_argument(&format!(
                "Invalid value at 'contents[{content}].parts[{index}].inline_data.data' (TYPE_BYTES), Base64 decoding failed"
            ))
        })?;
        return Ok(Some(format!(
            "[inlineData {mime_type} {} bytes]",
            bytes.len()
        )));
    }
    if let Some(file) = field(part, "fileData", "file_data") {
        let uri = field(file, "fileUri", "file_uri")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Ok(Some(format!("[fileData {uri}]")));
    }
    if let Some(response) = field(part, "functionResponse", "function_response") {
        let name = response.get("name").and_then(Value::as_str).unwrap_or("");
        let result = response.get("response").cloned().unwrap_or(Value::Null);
        return Ok(Some(format!("[functionResponse {name} {result}]")));
    }
    Ok(None)
}

fn first_function(body: &Value) -> Option<(String, Option<Value>)> {
    body.get("tools")?.as_array()?.iter().find_map(|tool| {
        let declaration = field(tool, "functionDeclarations", "function_declarations")?
            .as_array()?
            .first()?;
        let name = declaration.get("name")?.as_str()?.to_string();
        let parameters = declaration
            .get("parameters")
            .or_else(|| {
                field(
                    declaration,
                    "parametersJsonSchema",
                    "parameters_json_schema",
                )
            })
            .cloned();
        Some((name, parameters))
    })
}

/// Arguments for a declared function: every required property (every
/// property if none is required) with a fixed value per type: strings
/// `"Paris"`, integers 1, numbers 1.5, booleans true, arrays `[]`, objects `{}`.
fn arguments(parameters: Option<&Value>) -> Value {
    let Some(properties) = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object)
    else {
        return json!({});
    };
    let required: Vec<&str> = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut args = Map::new();
    for (name, schema) in properties {
        if !required.is_empty() && !required.contains(&name.as_str()) {
            continue;
        }
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
            .to_ascii_lowercase();
        let value = match kind.as_str() {
            "integer" => json!(1),
            "number" => json!(1.5),
            "boolean" => json!(true),
            "array" => json!([]),
            "object" => json!({}),
            _ => json!("Paris"),
        };
        args.insert(name.clone(), value);
    }
    Value::Object(args)
}

/// Identifies one answer.
#[derive(Debug, Clone)]
pub struct Meta {
    pub model: String,
    pub response_id: String,
}

/// An answer, before it is framed as one body or as stream chunks.
#[derive(Debug, Clone)]
pub enum Reply {
    Text {
        thought: Option<String>,
        pieces: Vec<String>,
        finish: &'static str,
    },
    Call {
        thought: Option<String>,
        name: String,
        args: Value,
    },
    BlockedPrompt,
    BlockedOutput,
    Empty,
}

/// The echo answer for a prompt.
pub fn echo_text(prompt: &Prompt) -> String {
    format!("echo: {}", prompt.text)
}

/// The reply a scenario gives (error scenarios answer before this).
pub fn reply(prompt: &Prompt, scenario: Scenario) -> Reply {
    let thought = (prompt.include_thoughts || scenario == Scenario::Thinking)
        .then(|| format!("Thinking about: {}", prompt.text));
    let pieces_wanted = if thought.is_some() { 3 } else { 4 };
    match scenario {
        Scenario::ToolCall if !prompt.answers_tool => {
            let (name, args) = match &prompt.function {
                Some((name, parameters)) => (name.clone(), arguments(parameters.as_ref())),
                None => ("get_weather".to_string(), json!({ "city": "Paris" })),
            };
            Reply::Call {
                thought,
                name,
                args,
            }
        }
        Scenario::BlockedPrompt => Reply::BlockedPrompt,
        Scenario::BlockedOutput => Reply::BlockedOutput,
        Scenario::Empty => Reply::Empty,
        Scenario::MaxTokens => {
            let mut pieces = split_pieces(&echo_text(prompt), pieces_wanted);
            pieces.truncate(pieces.len().div_ceil(2));
            Reply::Text {
                thought,
                pieces,
                finish: "MAX_TOKENS",
            }
        }
        _ => Reply::Text {
            thought,
            pieces: split_pieces(&echo_text(prompt), pieces_wanted),
            finish: "STOP",
        },
    }
}

/// Splits `text` into up to `wanted` non-empty pieces at word starts (at
/// least two pieces when the text has two characters).
pub fn split_pieces(text: &str, wanted: usize) -> Vec<String> {
    let word_starts: Vec<usize> = text
        .char_indices()
        .zip(text.chars().skip(1))
        .filter(|((_, c), next)| c.is_whitespace() && !next.is_whitespace())
        .map(|((at, c), _)| at + c.len_utf8())
        .collect();
    let words = word_starts.len() + 1;
    let cuts: Vec<usize> = if words >= 2 {
        let wanted = wanted.min(words);
        (1..wanted)
            .map(|i| word_starts[i * words / wanted - 1])
            .collect()
    } else {
        // One word: cut inside it, so a stream still has two pieces.
        let chars: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        let wanted = wanted.min(2).min(chars.len()).max(1);
        (1..wanted)
            .map(|i| chars[i * chars.len() / wanted])
            .collect()
    };
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([text.len()]) {
        if cut > start {
            pieces.push(text[start..cut].to_string());
            start = cut;
        }
    }
    if pieces.is_empty() {
        pieces.push(String::new());
    }
    pieces
}

fn word_count(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

fn usage(prompt_tokens: u32, candidates: u32, thoughts: Option<u32>) -> Value {
    let mut usage = json!({
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt_tokens + candidates + thoughts.unwrap_or(0),
        "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": prompt_tokens }]
    });
    if let Some(thoughts) = thoughts {
        usage["thoughtsTokenCount"] = thoughts.into();
    }
    usage
}

fn response(parts: Vec<Value>, finish: Option<&str>, usage: Value, meta: &Meta) -> Value {
    let mut candidate = json!({ "content": { "parts": parts, "role": "model" }, "index": 0 });
    if let Some(finish) = finish {
        candidate["finishReason"] = finish.into();
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": meta.model,
        "responseId": meta.response_id
    })
}

fn thought_part(thought: &str) -> Value {
    json!({ "text": thought, "thought": true })
}

fn call_part(name: &str, args: &Value) -> Value {
    json!({ "functionCall": { "name": name, "args": args }, "thoughtSignature": THOUGHT_SIGNATURE })
}

/// Output tokens a function call counts for.
const CALL_TOKENS: u32 = 8;

impl Reply {
    /// The answer as stream chunks, each a `GenerateContentResponse` with the
    /// new parts only and running usage; the last carries `finishReason`.
    pub fn chunks(&self, prompt_tokens: u32, meta: &Meta) -> Vec<Value> {
        match self {
            Reply::Text {
                thought,
                pieces,
                finish,
            } => {
                let thoughts = thought.as_deref().map(word_count);
                let mut chunks = Vec::new();
                if let Some(thought) = thought {
                    chunks.push(response(
                        vec![thought_part(thought)],
                        None,
                        usage(prompt_tokens, 0, thoughts),
                        meta,
                    ));
                }
                let mut so_far = String::new();
                for (index, piece) in pieces.iter().enumerate() {
                    so_far.push_str(piece);
                    let last = index + 1 == pieces.len();
                    chunks.push(response(
                        vec![json!({ "text": piece })],
                        last.then_some(*finish),
                        usage(prompt_tokens, word_count(&so_far), thoughts),
                        meta,
                    ));
                }
                chunks
            }
            Reply::Call {
                thought,
                name,
                args,
            } => {
                let thoughts = thought.as_deref().map(word_count);
                let mut chunks = Vec::new();
                if let Some(thought) = thought {
                    chunks.push(response(
                        vec![thought_part(thought)],
                        None,
                        usage(prompt_tokens, 0, thoughts),
                        meta,
                    ));
                }
                chunks.push(response(
                    vec![call_part(name, args)],
                    Some("STOP"),
                    usage(prompt_tokens, CALL_TOKENS, thoughts),
                    meta,
                ));
                chunks
            }
            other => vec![other.whole(prompt_tokens, meta)],
        }
    }

    /// The answer as one `GenerateContentResponse` (`generateContent`).
    pub fn whole(&self, prompt_tokens: u32, meta: &Meta) -> Value {
        let bare_usage =
            json!({ "promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens });
        match self {
            Reply::Text {
                thought,
                pieces,
                finish,
            } => {
                let text: String = pieces.concat();
                let thoughts = thought.as_deref().map(word_count);
                let mut parts: Vec<Value> = thought.iter().map(|t| thought_part(t)).collect();
                parts.push(json!({ "text": text }));
                response(
                    parts,
                    Some(finish),
                    usage(prompt_tokens, word_count(&text), thoughts),
                    meta,
                )
            }
            Reply::Call {
                thought,
                name,
                args,
            } => {
                let thoughts = thought.as_deref().map(word_count);
                let mut parts: Vec<Value> = thought.iter().map(|t| thought_part(t)).collect();
                parts.push(call_part(name, args));
                response(
                    parts,
                    Some("STOP"),
                    usage(prompt_tokens, CALL_TOKENS, thoughts),
                    meta,
                )
            }
            Reply::BlockedPrompt => json!({
                "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" },
                "usageMetadata": bare_usage,
                "modelVersion": meta.model,
                "responseId": meta.response_id
            }),
            Reply::BlockedOutput => json!({
                "candidates": [{
                    "finishReason": "SAFETY",
                    "index": 0,
                    "safetyRatings": [
                        { "category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "HIGH", "blocked": true },
                        { "category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE" }
                    ]
                }],
                "usageMetadata": bare_usage,
                "modelVersion": meta.model,
                "responseId": meta.response_id
            }),
            Reply::Empty => json!({
                "candidates": [{ "content": { "role": "model", "parts": [{ "text": "" }] }, "finishReason": "STOP", "index": 0 }],
                "usageMetadata": bare_usage,
                "modelVersion": meta.model,
                "responseId": meta.response_id
            }),
        }
    }
}

/// The text of the first part of each chunk, joined: what a client shows of
/// a plain streamed answer.
pub fn chunks_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect()
}

#[cfg(test)]
mod tests;

/// Gemini 3 refuses a history function call without a `thoughtSignature`
/// (any value: Google documents the dummy `skip_thought_signature_validator`
/// for calls whose signature was lost).
pub fn check_thought_signatures(body: &Value, model: &str) -> Result<(), GoogleError> {
    if !model.starts_with("gemini-3") {
        return Ok(());
    }
    let unsigned = body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|turn| turn.get("parts").and_then(Value::as_array))
        .flatten()
        .any(|part| {
            part.get("functionCall").is_some()
                && part
                    .get("thoughtSignature")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        });
    if unsigned {
        return Err(google_errors::invalid_argument(
            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance.",
        ));
    }
    Ok(())
}
