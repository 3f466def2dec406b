//! The contract's types in OpenAI's JSON vocabulary, which they mirror: for
//! plugins whose upstream speaks an OpenAI-shaped chat API (messages with
//! content parts, function tools, streamed `delta`s, `usage`).

use serde_json::{Map, Value, json};

use crate::{ContentPart, Message, ProviderError, Role, Sampling, Tool, ToolCallDelta};
use crate::{Event, FinishReason, ReasoningEffort, ToolChoice, Usage};

/// A message: `content` is a string when it is all text (`null` for an
/// assistant turn that only called tools), else a list of `text`,
/// `image_url` (inline images as data URLs) and `file` parts.
pub fn message(m: &Message) -> Value {
    let parts = m.content.iter().filter_map(|part| match part {
        ContentPart::Text(text) => Some(json!({"type": "text", "text": text})),
        ContentPart::Image(i) => {
            Some(json!({"type": "image_url", "image_url": {"url": i.data_url()}}))
        }
        ContentPart::ImageUrl(url) => Some(json!({"type": "image_url", "image_url": {"url": url}})),
        ContentPart::File(f) => Some(json!({"type": "file", "file": {"file_data": f.data_url()}})),
        // OpenAI's chat API takes no reasoning back (some servers refuse it).
        ContentPart::Reasoning(_) => None,
    });
    let parts: Vec<Value> = parts.collect();
    let texts: Option<String> = parts.iter().map(|p| p.get("text")?.as_str()).collect();
    let content = match texts {
        Some(text) if text.is_empty() && !m.tool_calls.is_empty() => Value::Null,
        Some(text) => json!(text),
        None => json!(parts),
    };
    let calls = m.tool_calls.iter().map(|c| {
        let function = json!({"name": c.name, "arguments": c.arguments});
        let mut call = json!({"id": c.id, "type": "function", "function": function});
        // Where Gemini's OpenAI-compatible API carries its thought signature.
        if let Some(data) = &c.provider_data {
            call["extra_content"] = json!({"google": {"thought_signature": data}});
        }
        call
    });
    let calls: Vec<Value> = calls.collect();
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    Value::Object(object([
        ("role", Some(json!(role))),
        ("content", Some(content)),
        ("name", m.name.as_ref().map(|n| json!(n))),
        ("tool_calls", (!calls.is_empty()).then(|| json!(calls))),
        ("tool_call_id", m.tool_call_id.as_ref().map(|id| json!(id))),
    ]))
}

/// A function tool; its parameters must be a JSON text (none: no parameters).
pub fn tool(t: &Tool) -> Result<Value, ProviderError> {
    let schema = t
        .parameters
        .as_deref()
        .unwrap_or(r#"{"type":"object","properties":{}}"#);
    let parameters: Value = serde_json::from_str(schema).map_err(|e| {
        ProviderError::BadRequest(format!("the parameters of tool `{}`: {e}", t.name))
    })?;
    let function = object([
        ("name", Some(json!(t.name))),
        ("description", t.description.as_ref().map(|d| json!(d))),
        ("parameters", Some(parameters)),
    ]);
    Ok(json!({"type": "function", "function": function}))
}

pub fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

/// OpenAI's name for a reasoning effort.
pub fn reasoning_effort(effort: ReasoningEffort) -> &'static str {
    match effort {
        ReasoningEffort::None => "none",
        ReasoningEffort::Minimal => "minimal",
        ReasoningEffort::Low => "low",
        ReasoningEffort::Medium => "medium",
        ReasoningEffort::High => "high",
        ReasoningEffort::Xhigh => "xhigh",
    }
}

/// The sampling options that are set, by OpenAI's names (`top_k` as
/// llama.cpp, vLLM and OpenRouter take it), decimals as the caller wrote them.
pub fn sampling(s: &Sampling) -> Map<String, Value> {
    let decimal = |value: f32| json!(value.to_string().parse::<f64>().ok());
    object([
        ("temperature", s.temperature.map(decimal)),
        ("top_p", s.top_p.map(decimal)),
        ("top_k", s.top_k.map(Value::from)),
        ("max_tokens", s.max_tokens.map(Value::from)),
        ("seed", s.seed.map(Value::from)),
        ("presence_penalty", s.presence_penalty.map(decimal)),
        ("frequency_penalty", s.frequency_penalty.map(decimal)),
    ])
}

/// A JSON object of the fields that are set.
pub fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Map<String, Value> {
    let set = fields
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)));
    set.collect()
}

/// One entry of a streamed `delta.tool_calls`.
pub fn tool_call_delta(call: &Value) -> ToolCallDelta {
    let string = |v: &Value| v.as_str().map(str::to_string);
    ToolCallDelta {
        index: call["index"].as_u64().unwrap_or(0).min(u32::MAX.into()) as u32,
        id: string(&call["id"]),
        name: string(&call["function"]["name"]),
        arguments: string(&call["function"]["arguments"]).unwrap_or_default(),
        provider_data: string(&call["extra_content"]["google"]["thought_signature"]),
    }
}

/// A `usage` object (`completion_tokens_details.reasoning_tokens` when given;
/// the total is the sum when missing); `None` unless the counts are there.
pub fn usage(u: &Value) -> Option<Usage> {
    let count = |v: &Value| Some(v.as_u64()?.min(u32::MAX.into()) as u32);
    let (prompt, completion) = (count(&u["prompt_tokens"])?, count(&u["completion_tokens"])?);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        reasoning_tokens: count(&u["completion_tokens_details"]["reasoning_tokens"]),
        total_tokens: count(&u["total_tokens"]).unwrap_or(prompt.saturating_add(completion)),
    })
}

/// One streamed `chat.completion.chunk`'s events into `out` (reasoning as
/// `reasoning_content` or OpenRouter's `reasoning`, text, tool calls, usage);
/// its finish reason, for the caller to yield last (usage may come after it).
pub fn chunk_events(
    chunk: &Value,
    out: &mut Vec<Event>,
) -> Result<Option<FinishReason>, ProviderError> {
    if let Some(error) = chunk.get("error") {
        let message = format!("failed mid-answer: {}", error_text(error));
        return Err(ProviderError::upstream(0, message));
    }
    let (choice, usage) = (&chunk["choices"][0], chunk.get("usage"));
    let delta = &choice["delta"];
    let text = |key: &str| Some(delta[key].as_str().filter(|t| !t.is_empty())?.to_string());
    let reasoning = text("reasoning_content").or_else(|| text("reasoning"));
    out.extend(reasoning.map(Event::Reasoning));
    out.extend(text("content").map(Event::Text));
    let calls = delta["tool_calls"].as_array().into_iter().flatten();
    out.extend(calls.map(|call| Event::ToolCall(tool_call_delta(call))));
    out.extend(usage.and_then(self::usage).map(Event::Usage));
    let finish = choice["finish_reason"].as_str();
    Ok(finish.map(FinishReason::from_name))
}

/// An error object's message (or the error itself), at most 500 characters.
pub fn error_text(error: &Value) -> String {
    let text = error["message"].as_str().or(error.as_str());
    let text = text.map_or_else(|| error.to_string(), str::to_string);
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Media, ToolCall};

    #[test]
    fn messages_text_parts_tool_calls_and_results() {
        let text = Message::new(Role::User, vec![ContentPart::Text("Hi".into())]);
        assert_eq!(message(&text), json!({"role": "user", "content": "Hi"}));
        let parts = Message::new(
            Role::User,
            vec![
                ContentPart::Text("What is this?".into()),
                ContentPart::Image(Media {
                    mime_type: "image/png".into(),
                    data: vec![1, 2, 3],
                }),
                ContentPart::ImageUrl("https://example.com/cat.jpg".into()),
            ],
        );
        assert_eq!(
            message(&parts)["content"],
            json!([
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AQID"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ])
        );
        let call = Message {
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: "{\"city\":\"Paris\"}".into(),
                provider_data: None,
            }],
            name: Some("bot".into()),
            ..Message::new(Role::Assistant, vec![])
        };
        assert_eq!(
            message(&call),
            json!({"role": "assistant", "content": null, "name": "bot", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]})
        );
        let result = Message {
            tool_call_id: Some("call_1".into()),
            ..Message::new(Role::Tool, vec![ContentPart::Text("sunny".into())])
        };
        assert_eq!(
            message(&result),
            json!({"role": "tool", "content": "sunny", "tool_call_id": "call_1"})
        );
    }

    #[test]
    fn tools_choices_and_sampling() {
        let weather = Tool {
            name: "weather".into(),
            description: Some("Weather".into()),
            parameters: Some(r#"{"type":"object"}"#.into()),
        };
        assert_eq!(
            tool(&weather).unwrap(),
            json!({"type": "function", "function":
                {"name": "weather", "description": "Weather", "parameters": {"type": "object"}}})
        );
        let broken = Tool {
            parameters: Some("{not json".into()),
            ..weather
        };
        assert!(matches!(tool(&broken), Err(ProviderError::BadRequest(_))));
        assert_eq!(tool_choice(&ToolChoice::Required), json!("required"));
        assert_eq!(
            tool_choice(&ToolChoice::Function("f".into())),
            json!({"type": "function", "function": {"name": "f"}})
        );
        let s = Sampling {
            temperature: Some(0.7),
            top_p: None,
            top_k: Some(40),
            max_tokens: Some(64),
            seed: Some(-5),
            presence_penalty: None,
            frequency_penalty: Some(0.25),
        };
        assert_eq!(
            Value::Object(sampling(&s)),
            json!({"temperature": 0.7, "top_k": 40, "max_tokens": 64, "seed": -5,
                   "frequency_penalty": 0.25})
        );
    }

    #[test]
    fn deltas_and_usage() {
        let first = json!({"index": 1, "id": "call_9", "type": "function",
                           "function": {"name": "weather", "arguments": ""}});
        let delta = tool_call_delta(&first);
        assert_eq!(
            (delta.index, delta.id.as_deref(), delta.name.as_deref()),
            (1, Some("call_9"), Some("weather"))
        );
        let later = tool_call_delta(&json!({"index": 1, "function": {"arguments": "{\"a\""}}));
        assert_eq!(
            (later.id, later.name, later.arguments.as_str()),
            (None, None, "{\"a\"")
        );
        let u = usage(
            &json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                              "completion_tokens_details": {"reasoning_tokens": 3}}),
        )
        .unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.reasoning_tokens,
                u.total_tokens
            ),
            (5, 7, Some(3), 12)
        );
        let summed = usage(&json!({"prompt_tokens": 2, "completion_tokens": 3})).unwrap();
        assert_eq!((summed.total_tokens, summed.reasoning_tokens), (5, None));
        assert!(usage(&json!({"prompt_tokens": 2})).is_none());
        assert!(usage(&Value::Null).is_none());
    }
}
