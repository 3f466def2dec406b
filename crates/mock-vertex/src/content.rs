//! What the mock answers: a deterministic echo of the last user turn, a
//! function call, thoughts, refusals on content grounds, as
//! `GenerateContentResponse` objects (`docs/protocols/vertex.md`, "Responses").

use serde_json::{Map, Value, json};

use crate::google_errors;
use crate::scenario::Scenario;

/// The answer text for a prompt: `echo: <last user text>`.
pub fn echo_text(text: &str) -> String {
    format!("echo: {text}")
}

/// The arguments the `tool_call` scenario calls a function with.
pub fn tool_call_args() -> Value {
    json!({ "city": "Paris" })
}

/// What the mock reads from a request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    /// The text parts of the last `user` turn, joined by a space.
    pub last_user_text: String,
    /// A `functionResponse` in the last `user` turn: its name and `response`.
    pub function_response: Option<(String, Value)>,
    /// The names in `tools[].functionDeclarations`.
    pub declared_functions: Vec<String>,
    /// Words in every text part (contents and systemInstruction).
    pub prompt_tokens: u32,
}

/// Validates a `generateContent` body as Vertex does; the error is the
/// `400 INVALID_ARGUMENT` body to answer.
pub fn read_request(body: &Value) -> Result<Prompt, Value> {
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .filter(|contents| !contents.is_empty())
        .ok_or_else(|| {
            google_errors::invalid_argument(
                "Unable to submit request because it has an empty contents field.",
            )
        })?;
    let mut prompt = Prompt::default();
    for turn in contents {
        // Vertex, unlike the Gemini API, needs a role on every turn.
        match turn.get("role").and_then(Value::as_str) {
            Some("user" | "model") => {}
            _ => return Err(google_errors::bad_role()),
        }
        let parts = turn
            .get("parts")
            .and_then(Value::as_array)
            .filter(|parts| !parts.is_empty())
            .ok_or_else(|| google_errors::invalid_argument("Unable to submit request because it must include at least one parts field, which describes the prompt input."))?;
        prompt.prompt_tokens += words(parts);
    }
    if let Some(parts) = body
        .pointer("/systemInstruction/parts")
        .and_then(Value::as_array)
    {
        prompt.prompt_tokens += words(parts);
    }
    if let Some(last) = contents.last().filter(|turn| turn["role"] == "user") {
        let parts = last["parts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        prompt.last_user_text = parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        prompt.function_response = parts.iter().find_map(|part| {
            let response = part.get("functionResponse")?;
            Some((
                response.get("name")?.as_str()?.to_string(),
                response.get("response").cloned().unwrap_or(Value::Null),
            ))
        });
    }
    prompt.declared_functions = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .filter_map(|declaration| declaration.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    Ok(prompt)
}

/// What Vertex checks per model beyond the shape: `fileData` needs its
/// `mimeType`, and Gemini 3 refuses a history function call without a
/// `thoughtSignature` (any value, Google's documented dummy
/// `skip_thought_signature_validator` included).
pub fn check_parts(body: &Value, model: &str) -> Result<(), Value> {
    let parts = body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|turn| turn.get("parts").and_then(Value::as_array))
        .flatten();
    for part in parts {
        if let Some(file_data) = part.get("fileData")
            && file_data
                .get("mimeType")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(google_errors::invalid_argument(
                "Request contains an invalid argument. fileData.mimeType is required.",
            ));
        }
        if model.starts_with("gemini-3")
            && part.get("functionCall").is_some()
            && part
                .get("thoughtSignature")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(google_errors::invalid_argument(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance.",
            ));
        }
    }
    Ok(())
}

fn words(parts: &[Value]) -> u32 {
    parts
        .iter()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .map(|text| text.split_whitespace().count() as u32)
        .sum()
}

/// An answer, before it is framed as one body or as stream chunks.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The parts of each stream chunk, in order.
    pub chunk_parts: Vec<Vec<Value>>,
    pub finish_reason: Option<&'static str>,
    pub usage: Value,
    /// Set when the prompt itself was blocked: there is no candidate then.
    pub prompt_feedback: Option<Value>,
}

/// The answer a scenario gives to a prompt (scenarios that fail with an
/// HTTP error never get here).
pub fn answer(scenario: Scenario, prompt: &Prompt) -> Answer {
    let echo = || echo_text(&prompt.last_user_text);
    let mut thoughts = 0;
    let (chunk_parts, finish_reason, candidates_text) = match scenario {
        Scenario::BlockedPrompt => {
            return Answer {
                chunk_parts: Vec::new(),
                finish_reason: None,
                usage: json!({ "promptTokenCount": prompt.prompt_tokens, "totalTokenCount": prompt.prompt_tokens }),
                prompt_feedback: Some(json!({
                    "blockReason": "SAFETY",
                    "safetyRatings": [{ "category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true }]
                })),
            };
        }
        Scenario::BlockedOutput => (vec![Vec::new()], "SAFETY", String::new()),
        Scenario::ToolCall => {
            match (&prompt.function_response, prompt.declared_functions.first()) {
                (Some((name, response)), _) => {
                    let content = match response.get("content") {
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => response.to_string(),
                    };
                    let text = format!("{name} said: {content}");
                    (text_chunks(&text), "STOP", text)
                }
                (None, Some(name)) => (
                    vec![vec![
                        json!({ "functionCall": { "name": name, "args": tool_call_args() } }),
                    ]],
                    "STOP",
                    String::new(),
                ),
                (None, None) => (text_chunks(&echo()), "STOP", echo()),
            }
        }
        Scenario::Thinking => {
            let thought = format!("Thinking about {:?}.", prompt.last_user_text);
            thoughts = thought.split_whitespace().count() as u32;
            let mut chunks = vec![vec![json!({ "text": thought, "thought": true })]];
            chunks.extend(text_chunks(&echo()));
            (chunks, "STOP", echo())
        }
        Scenario::MaxTokens => {
            let text: String = echo().chars().take(8).collect();
            (text_chunks(&text), "MAX_TOKENS", text)
        }
        _ => (text_chunks(&echo()), "STOP", echo()),
    };
    let candidates = candidates_text.split_whitespace().count() as u32
        + u32::from(
            chunk_parts
                .iter()
                .flatten()
                .any(|part| part.get("functionCall").is_some()),
        );
    let mut usage = json!({
        "promptTokenCount": prompt.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt.prompt_tokens + candidates + thoughts,
        "trafficType": "ON_DEMAND",
    });
    if thoughts > 0 {
        usage["thoughtsTokenCount"] = thoughts.into();
    }
    Answer {
        chunk_parts,
        finish_reason: Some(finish_reason),
        usage,
        prompt_feedback: None,
    }
}

/// A text in three stream chunks (fewer when it is that short), cut between
/// characters.
fn text_chunks(text: &str) -> Vec<Vec<Value>> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars
        .chunks(size)
        .map(|piece| vec![json!({ "text": piece.iter().collect::<String>() })])
        .collect()
}

impl Answer {
    fn response(&self, model: &str, candidate: Option<Value>, last: bool) -> Value {
        let mut response = Map::new();
        if let Some(candidate) = candidate {
            response.insert("candidates".into(), json!([candidate]));
        }
        if let Some(feedback) = &self.prompt_feedback {
            response.insert("promptFeedback".into(), feedback.clone());
        }
        if last {
            response.insert("usageMetadata".into(), self.usage.clone());
        }
        response.insert("modelVersion".into(), model.into());
        response.insert("createTime".into(), "2026-01-01T00:00:00.123456Z".into());
        response.insert("responseId".into(), "mockResp123".into());
        Value::Object(response)
    }

    fn candidate(&self, parts: &[Value], last: bool) -> Value {
        let mut candidate = json!({ "index": 0 });
        if !parts.is_empty() {
            candidate["content"] = json!({ "role": "model", "parts": parts });
        }
        if last && let Some(reason) = self.finish_reason {
            candidate["finishReason"] = reason.into();
            if reason == "SAFETY" {
                candidate["safetyRatings"] = json!([{ "category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true }]);
            }
        }
        candidate
    }

    /// The `generateContent` body: every part in one candidate.
    pub fn whole(&self, model: &str) -> Value {
        if self.prompt_feedback.is_some() {
            return self.response(model, None, true);
        }
        let parts: Vec<Value> = merge_texts(self.chunk_parts.iter().flatten().cloned());
        self.response(model, Some(self.candidate(&parts, true)), true)
    }

    /// The stream chunks; the last one has `finishReason` and the usage.
    pub fn chunks(&self, model: &str) -> Vec<Value> {
        if self.prompt_feedback.is_some() {
            return vec![self.response(model, None, true)];
        }
        let count = self.chunk_parts.len();
        self.chunk_parts
            .iter()
            .enumerate()
            .map(|(index, parts)| {
                let last = index + 1 == count;
                self.response(model, Some(self.candidate(parts, last)), last)
            })
            .collect()
    }
}

/// Adjacent text parts of the same kind (thought or not) joined.
fn merge_texts(parts: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for part in parts {
        if let (Some(last), Some(text)) =
            (merged.last_mut(), part.get("text").and_then(Value::as_str))
            && let Some(previous) = last.get("text").and_then(Value::as_str)
            && last.get("thought") == part.get("thought")
        {
            last["text"] = format!("{previous}{text}").into();
            continue;
        }
        merged.push(part);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(body: Value) -> Prompt {
        read_request(&body).unwrap()
    }

    #[test]
    fn file_data_needs_a_mime_type_and_gemini_3_calls_a_signature() {
        let file =
            |data: Value| json!({"contents": [{"role": "user", "parts": [{"fileData": data}]}]});
        assert!(check_parts(&file(json!({"fileUri": "gs://b/x"})), "gemini-2.5-flash").is_err());
        assert!(
            check_parts(
                &file(json!({"fileUri": "gs://b/x.png", "mimeType": "image/png"})),
                "m"
            )
            .is_ok()
        );
        let call = |part: Value| {
            json!({"contents": [{"role": "user", "parts": [{"text": "q"}]},
                                {"role": "model", "parts": [part]}]})
        };
        let unsigned = call(json!({"functionCall": {"name": "f", "args": {}}}));
        assert!(check_parts(&unsigned, "gemini-3.1-pro-preview").is_err());
        assert!(check_parts(&unsigned, "gemini-2.5-pro").is_ok());
        let dummy = call(json!({"functionCall": {"name": "f", "args": {}},
                                "thoughtSignature": "skip_thought_signature_validator"}));
        assert!(check_parts(&dummy, "gemini-3.1-pro-preview").is_ok());
    }

    #[test]
    fn roles_must_be_user_or_model() {
        let ok = json!({"contents": [{"role": "user", "parts": [{"text": "hi there"}]}],
                        "systemInstruction": {"parts": [{"text": "be brief"}]}});
        let read = prompt(ok);
        assert_eq!(read.last_user_text, "hi there");
        assert_eq!(read.prompt_tokens, 4);
        for role in [json!("system"), json!("tool"), Value::Null] {
            let body = json!({"contents": [{"role": role, "parts": [{"text": "x"}]}]});
            assert_eq!(read_request(&body).unwrap_err(), google_errors::bad_role());
        }
        assert!(read_request(&json!({"contents": []})).is_err());
    }

    #[test]
    fn echo_streams_in_three_chunks_and_whole_in_one() {
        let read = prompt(json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}));
        let answer = answer(Scenario::Normal, &read);
        let chunks = answer.chunks("gemini-2.5-flash");
        assert_eq!(chunks.len(), 3);
        let text = mock_gemini::content::chunks_text(&chunks);
        assert_eq!(text, "echo: hello");
        assert!(chunks[0]["candidates"][0].get("finishReason").is_none());
        assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 3);
        let whole = answer.whole("gemini-2.5-flash");
        assert_eq!(
            whole["candidates"][0]["content"]["parts"],
            json!([{"text": "echo: hello"}])
        );
    }

    #[test]
    fn tool_call_then_its_result() {
        let tools = json!([{"functionDeclarations": [{"name": "get_weather"}]}]);
        let first = prompt(
            json!({"contents": [{"role": "user", "parts": [{"text": "weather?"}]}], "tools": tools}),
        );
        let call = answer(Scenario::ToolCall, &first).whole("m");
        assert_eq!(
            call["candidates"][0]["content"]["parts"],
            json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}])
        );
        let second = prompt(json!({"contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "18°C"}}}]}
        ], "tools": tools}));
        let text = answer(Scenario::ToolCall, &second).whole("m");
        assert_eq!(
            text["candidates"][0]["content"]["parts"][0]["text"],
            "get_weather said: 18°C"
        );
    }

    #[test]
    fn thinking_and_refusals() {
        let read = prompt(json!({"contents": [{"role": "user", "parts": [{"text": "q"}]}]}));
        let thinking = answer(Scenario::Thinking, &read).chunks("m");
        assert_eq!(
            thinking[0]["candidates"][0]["content"]["parts"][0]["thought"],
            true
        );
        assert!(
            thinking.last().unwrap()["usageMetadata"]["thoughtsTokenCount"]
                .as_u64()
                .unwrap()
                > 0
        );
        let blocked = answer(Scenario::BlockedPrompt, &read).chunks("m");
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0]["promptFeedback"]["blockReason"], "SAFETY");
        assert!(blocked[0].get("candidates").is_none());
        let output = answer(Scenario::BlockedOutput, &read).whole("m");
        assert_eq!(output["candidates"][0]["finishReason"], "SAFETY");
        assert!(output["candidates"][0].get("content").is_none());
    }
}
