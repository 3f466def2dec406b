//! The body of `POST /v1/chat/completions`, and its translation into the
//! contract's `chat-request`. Fields the gateway does not map travel to the
//! plugin in `extra`.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::runtime::bindings::{
    ChatRequest, ContentPart, Media, Message, ReasoningEffort, ReasoningPart, Role, Sampling, Tool,
    ToolCall, ToolChoice,
};

#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub stop: Option<Stop>,
    pub n: Option<u32>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    pub tool_choice: Option<Value>,
    pub reasoning_effort: Option<Value>,
    /// Everything else (`response_format`, `user`, vendor options…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    pub name: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCallSpec>,
    pub tool_call_id: Option<String>,
    /// Thinking of an earlier assistant turn, as DeepSeek-style clients send it back.
    pub reasoning_content: Option<String>,
    /// OpenRouter's form, with the upstream's signature.
    #[serde(default)]
    pub reasoning_details: Vec<ReasoningDetail>,
}

#[derive(Debug, Deserialize)]
pub struct ReasoningDetail {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    InputAudio { input_audio: InputAudio },
    File { file: FileData },
}

#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub struct InputAudio {
    pub data: String,
    pub format: String,
}

#[derive(Debug, Deserialize)]
pub struct FileData {
    pub file_data: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallSpec {
    pub id: String,
    pub function: FunctionCall,
    /// What the upstream attached to the call, as this gateway and Gemini's
    /// OpenAI-compatible API return it: `{"google": {"thought_signature": …}}`.
    pub extra_content: Option<Value>,
    /// The same, as LiteLLM returns it: `{"thought_signature": …}`.
    pub provider_specific_fields: Option<Value>,
}

impl ToolCallSpec {
    fn provider_data(&self) -> Option<String> {
        let from = |value: Option<&Value>| value?.as_str().map(str::to_string);
        from(
            self.extra_content
                .as_ref()
                .and_then(|v| v.pointer("/google/thought_signature")),
        )
        .or_else(|| {
            from(
                self.provider_specific_fields
                    .as_ref()
                    .and_then(|v| v.get("thought_signature")),
            )
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub struct ToolSpec {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionSpec,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
}

impl ChatCompletionRequest {
    /// Parses a body, with errors that say what is wrong and where.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
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

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }

    /// The contract's request for `model` (the upstream name).
    pub fn to_chat_request(&self, model: &str) -> Result<ChatRequest, ApiError> {
        if self.model.is_empty() {
            return Err(ApiError::invalid_param(
                "model",
                "`model` must not be empty.",
            ));
        }
        if self.messages.is_empty() {
            return Err(ApiError::invalid_param(
                "messages",
                "`messages` must contain at least one message.",
            ));
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::invalid_param("n", "Only n = 1 is supported."));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(ApiError::invalid_param(
                "temperature",
                "`temperature` must be between 0 and 2.",
            ));
        }
        if let Some(p) = self.top_p
            && !(0.0..=1.0).contains(&p)
        {
            return Err(ApiError::invalid_param(
                "top_p",
                "`top_p` must be between 0 and 1.",
            ));
        }
        let messages = self
            .messages
            .iter()
            .enumerate()
            .map(|(index, message)| convert_message(index, message))
            .collect::<Result<Vec<_>, _>>()?;
        let tools = self
            .tools
            .iter()
            .enumerate()
            .map(|(index, tool)| {
                if tool.kind != "function" {
                    return Err(ApiError::invalid_param(
                        &format!("tools[{index}].type"),
                        format!("Unsupported tool type {:?}; only \"function\".", tool.kind),
                    ));
                }
                Ok(Tool {
                    name: tool.function.name.clone(),
                    description: tool.function.description.clone(),
                    parameters: tool.function.parameters.as_ref().map(Value::to_string),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ChatRequest {
            model: model.to_string(),
            messages,
            sampling: Sampling {
                temperature: self.temperature,
                top_p: self.top_p,
                top_k: self.top_k,
                max_tokens: self.max_completion_tokens.or(self.max_tokens),
                seed: self.seed,
                presence_penalty: self.presence_penalty,
                frequency_penalty: self.frequency_penalty,
            },
            stop: match &self.stop {
                None => Vec::new(),
                Some(Stop::One(s)) => vec![s.clone()],
                Some(Stop::Many(v)) => v.clone(),
            },
            tools,
            tool_choice: self
                .tool_choice
                .as_ref()
                .map(convert_tool_choice)
                .transpose()?,
            stream: self.stream,
            reasoning_effort: self
                .reasoning_effort
                .as_ref()
                .filter(|v| !v.is_null())
                .map(|value| {
                    value.as_str().and_then(reasoning_effort).ok_or_else(|| {
                        ApiError::invalid_param(
                            "reasoning_effort",
                            "`reasoning_effort` must be one of none, minimal, low, medium, high, xhigh.",
                        )
                    })
                })
                .transpose()?,
            extra: (!self.extra.is_empty()).then(|| Value::Object(self.extra.clone()).to_string()),
        })
    }
}

fn convert_message(index: usize, message: &ChatMessage) -> Result<Message, ApiError> {
    let param = |field: &str| format!("messages[{index}].{field}");
    let role = match message.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" | "function" => Role::Tool,
        other => {
            return Err(ApiError::invalid_param(
                &param("role"),
                format!(
                    "Unknown role {other:?}: expected system, developer, user, assistant or tool."
                ),
            ));
        }
    };
    let content = match &message.content {
        None => Vec::new(),
        Some(Content::Text(text)) => vec![ContentPart::Text(text.clone())],
        Some(Content::Parts(parts)) => parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                convert_part(part)
                    .map_err(|msg| ApiError::invalid_param(&param(&format!("content[{i}]")), msg))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut content = content;
    if role == Role::Assistant {
        // Earlier thinking first, as it came before the answer.
        let reasoning = message
            .reasoning_details
            .iter()
            .filter_map(|detail| {
                Some(ContentPart::Reasoning(ReasoningPart {
                    text: detail.text.clone().unwrap_or_default(),
                    signature: detail.signature.clone(),
                }))
                .filter(|_| detail.text.is_some() || detail.signature.is_some())
            })
            .collect::<Vec<_>>();
        let reasoning = match (reasoning.is_empty(), &message.reasoning_content) {
            (true, Some(text)) if !text.is_empty() => vec![ContentPart::Reasoning(ReasoningPart {
                text: text.clone(),
                signature: None,
            })],
            _ => reasoning,
        };
        content.splice(0..0, reasoning);
    }
    if role == Role::Tool && message.tool_call_id.is_none() {
        return Err(ApiError::invalid_param(
            &param("tool_call_id"),
            "A tool message needs `tool_call_id`.",
        ));
    }
    Ok(Message {
        role,
        content,
        name: message.name.clone(),
        tool_calls: message
            .tool_calls
            .iter()
            .map(|call| ToolCall {
                id: call.id.clone(),
                name: call.function.name.clone(),
                arguments: call.function.arguments.clone(),
                provider_data: call.provider_data(),
            })
            .collect(),
        tool_call_id: message.tool_call_id.clone(),
    })
}

/// OpenAI's `reasoning_effort` names (shared by every front door).
pub fn reasoning_effort(name: &str) -> Option<ReasoningEffort> {
    Some(match name.to_ascii_lowercase().as_str() {
        "none" => ReasoningEffort::None,
        "minimal" => ReasoningEffort::Minimal,
        "low" => ReasoningEffort::Low,
        "medium" => ReasoningEffort::Medium,
        "high" => ReasoningEffort::High,
        "xhigh" => ReasoningEffort::Xhigh,
        _ => return None,
    })
}

fn convert_part(part: &Part) -> Result<ContentPart, String> {
    Ok(match part {
        Part::Text { text } => ContentPart::Text(text.clone()),
        Part::ImageUrl { image_url } => {
            if image_url.url.starts_with("data:") {
                ContentPart::Image(decode_data_url(&image_url.url)?)
            } else if image_url.url.starts_with("http://") || image_url.url.starts_with("https://")
            {
                ContentPart::ImageUrl(image_url.url.clone())
            } else {
                return Err("An image URL must be a data: URL or an http(s) URL.".into());
            }
        }
        Part::InputAudio { input_audio } => ContentPart::File(Media {
            mime_type: format!("audio/{}", input_audio.format),
            data: base64::engine::general_purpose::STANDARD
                .decode(input_audio.data.trim())
                .map_err(|err| format!("input_audio.data is not base64: {err}"))?,
        }),
        Part::File { file } => {
            let data = file
                .file_data
                .as_deref()
                .ok_or("A file part needs `file_data` (a data: URL or an http(s) URL).")?;
            if data.starts_with("http://") || data.starts_with("https://") {
                // Fetched by the host before the plugin sees it (`fetch-urls`).
                ContentPart::ImageUrl(data.to_string())
            } else {
                ContentPart::File(decode_data_url(data)?)
            }
        }
    })
}

/// `data:<mime>;base64,<payload>` → bytes with their type.
pub fn decode_data_url(url: &str) -> Result<Media, String> {
    let rest = url.strip_prefix("data:").ok_or("not a data: URL")?;
    let (meta, payload) = rest
        .split_once(',')
        .ok_or("a data: URL needs a comma before its payload")?;
    let mime = meta
        .strip_suffix(";base64")
        .ok_or("only base64 data: URLs are supported")?;
    let mime = if mime.is_empty() {
        "application/octet-stream"
    } else {
        mime
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|err| format!("the data: URL's payload is not valid base64: {err}"))?;
    Ok(Media {
        mime_type: mime.to_string(),
        data,
    })
}

fn convert_tool_choice(value: &Value) -> Result<ToolChoice, ApiError> {
    let invalid = || {
        ApiError::invalid_param(
            "tool_choice",
            "Expected \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}.",
        )
    };
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid()),
        },
        Value::Object(object) => object
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Function(name.to_string()))
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ChatRequest, ApiError> {
        ChatCompletionRequest::parse(json.as_bytes())?.to_chat_request("upstream")
    }

    #[test]
    fn a_full_request_maps_onto_the_contract() {
        let request = parse(
            r#"{"model":"m","stream":true,"temperature":0.5,"max_tokens":10,"stop":"END",
                "reasoning_effort":"low",
                "messages":[{"role":"system","content":"be brief"},
                  {"role":"user","content":[{"type":"text","text":"what is this?"},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
                  {"role":"assistant","content":null,"reasoning_content":"thinking",
                   "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"},
                     "extra_content":{"google":{"thought_signature":"c2ln"}}}]},
                  {"role":"tool","tool_call_id":"call_1","content":"42"}],
                "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
                "tool_choice":"auto"}"#,
        )
        .unwrap();
        let call = &request.messages[2].tool_calls[0];
        assert_eq!(call.provider_data.as_deref(), Some("c2ln"));
        assert!(matches!(
            &request.messages[2].content[0],
            ContentPart::Reasoning(ReasoningPart { text, signature: None }) if text == "thinking"
        ));
        assert_eq!(request.model, "upstream");
        assert_eq!(request.messages.len(), 4);
        assert_eq!(request.messages[0].role, Role::System);
        match &request.messages[1].content[1] {
            ContentPart::Image(media) => {
                assert_eq!(media.mime_type, "image/png");
                assert_eq!(&media.data[..4], b"\x89PNG");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(request.messages[2].tool_calls[0].name, "f");
        assert_eq!(request.stop, ["END"]);
        assert_eq!(request.sampling.max_tokens, Some(10));
        assert!(matches!(
            request.reasoning_effort,
            Some(ReasoningEffort::Low)
        ));
        assert_eq!(request.extra, None, "a typed field, not a pass-through one");
        assert!(matches!(request.tool_choice, Some(ToolChoice::Auto)));
    }

    #[test]
    fn bad_input_is_a_clear_400() {
        for (body, needle) in [
            ("", "empty"),
            ("{not json", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"model":"m"}"#, "messages"),
            (r#"{"model":"m","messages":[]}"#, "at least one"),
            (
                r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#,
                "Unknown role",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@"}}]}]}"#,
                "base64",
            ),
            (
                r#"{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}"#,
                "n = 1",
            ),
            (
                r#"{"model":"m","reasoning_effort":"extreme","messages":[{"role":"user","content":"x"}]}"#,
                "reasoning_effort",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.status, 400, "{body}");
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
    }
}
