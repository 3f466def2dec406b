//! Anthropic's Messages API: `POST /v1/messages` and
//! `POST /v1/messages/count_tokens`, as Claude Code and Anthropic's SDKs
//! call them (key in `x-api-key`, an `anthropic-version` header that is
//! accepted whatever its value).
//!
//! A request becomes the host's: `system` a system message, `tool_result`
//! blocks tool messages (ahead of the rest of their user turn, as Anthropic
//! orders them), `tool_use` blocks the assistant's tool calls, `thinking`
//! blocks reasoning parts, `thinking.budget_tokens` a reasoning effort. The
//! answer comes back as content blocks (`thinking`, `text`, `tool_use`); a
//! stream follows Anthropic's event sequence: `message_start`, `ping`, per
//! block `content_block_start`/`_delta`/`_stop`, `message_delta` with the
//! stop reason and usage, `message_stop` (or `error`).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    decode_base64, effort_for_budget, estimate_tokens, new_chat, new_id, parse_json, provider_data,
    reasoning_part, set_reasoning_effort, sse_event, tool_call, url_part,
};
use crate::api::AppState;
use crate::api::chat_core::{self, ChatCall, Door, Shape, StreamEncoder};
use crate::api::error::{ApiError, Dialect};
use crate::api::tool_memory::CallerTag;
use crate::config::ReasoningMode;
use crate::runtime::bindings::{
    ChatRequest, ContentPart, Event, FinishReason, Message, Role, Tool, ToolChoice, Usage,
};

#[derive(Debug, Deserialize)]
struct MessagesRequest {
    model: String,
    max_tokens: Option<u32>,
    messages: Vec<InMessage>,
    system: Option<System>,
    #[serde(default)]
    stream: bool,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    tools: Vec<ToolSpec>,
    tool_choice: Option<ToolChoiceSpec>,
    thinking: Option<Thinking>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum System {
    Text(String),
    Blocks(Vec<TextBlock>),
}

#[derive(Debug, Deserialize)]
struct TextBlock {
    text: String,
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: Source,
    },
    Document {
        source: Source,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
        /// Not Anthropic's: what this gateway hands out with a call so that
        /// it can come back (a Gemini thought signature).
        provider_data: Option<String>,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<ToolResultContent>,
        #[serde(default)]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        signature: Option<String>,
    },
    RedactedThinking {},
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Source {
    Base64 { media_type: String, data: String },
    Url { url: String },
    Text { data: String },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ToolResultContent {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Deserialize)]
struct ToolSpec {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: String,
    description: Option<String>,
    input_schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ToolChoiceSpec {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: String,
    budget_tokens: Option<u32>,
}

pub async fn messages(
    State(state): State<AppState>,
    caller: Option<axum::Extension<CallerTag>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: MessagesRequest =
        match chat_core::body(&state, body).and_then(|body| parse_json(&body)) {
            Ok(request) => request,
            Err(error) => return error.into_response(),
        };
    let chat = match to_chat_request(&request) {
        Ok(chat) => chat,
        Err(error) => return chat_core::refused(error, &request.model, request.stream),
    };
    let door = Anthropic {
        model: request.model.clone(),
    };
    let call = ChatCall {
        chat,
        model: request.model,
        stream: request.stream,
        caller: CallerTag::from_extension(caller),
    };
    chat_core::run(state, headers, call, door).await
}

/// `count_tokens`: an estimate (characters / 4 of the text sent), since the
/// upstreams behind the gateway have no common way to count; the model must
/// be one the gateway serves.
pub async fn count_tokens(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let counted = chat_core::body(&state, body)
        .and_then(|body| parse_json::<MessagesRequest>(&body))
        .and_then(|request| {
            state.registry.load().resolve(&request.model)?;
            let chat = convert(&request)?;
            let texts = chat.messages.iter().flat_map(|message| {
                let calls = message
                    .tool_calls
                    .iter()
                    .map(|call| call.name.len() + call.arguments.len());
                message
                    .content
                    .iter()
                    .map(|part| match part {
                        ContentPart::Text(text) => text.len(),
                        _ => 0,
                    })
                    .chain(calls)
                    .collect::<Vec<_>>()
            });
            let tools = chat.tools.iter().map(|tool| {
                tool.name.len()
                    + tool.description.as_ref().map_or(0, String::len)
                    + tool.parameters.as_ref().map_or(0, String::len)
            });
            Ok(estimate_tokens(texts.chain(tools)))
        });
    match counted {
        Ok(tokens) => axum::Json(json!({ "input_tokens": tokens })).into_response(),
        Err(error) => error.into_response(),
    }
}

fn to_chat_request(request: &MessagesRequest) -> Result<ChatRequest, ApiError> {
    if request.max_tokens.is_none() {
        return Err(ApiError::invalid_param(
            "max_tokens",
            "max_tokens: Field required",
        ));
    }
    convert(request)
}

fn convert(request: &MessagesRequest) -> Result<ChatRequest, ApiError> {
    if request.model.is_empty() {
        return Err(ApiError::invalid_param(
            "model",
            "`model` must not be empty.",
        ));
    }
    if request.messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "`messages` must contain at least one message.",
        ));
    }
    let mut messages = Vec::new();
    match &request.system {
        None => {}
        Some(System::Text(text)) => messages.push(text_message(Role::System, text.clone())),
        Some(System::Blocks(blocks)) => {
            let text: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
            messages.push(text_message(Role::System, text.join("\n")));
        }
    }
    for (index, message) in request.messages.iter().enumerate() {
        convert_message(index, message, &mut messages)?;
    }
    let mut chat = new_chat(&request.model, messages, request.stream);
    chat.sampling.temperature = request.temperature;
    chat.sampling.top_p = request.top_p;
    chat.sampling.top_k = request.top_k;
    chat.sampling.max_tokens = request.max_tokens;
    chat.stop = request.stop_sequences.clone();
    chat.tools = request
        .tools
        .iter()
        .enumerate()
        .map(|(index, tool)| match tool.kind.as_deref() {
            None | Some("custom") => Ok(Tool {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: tool.input_schema.as_ref().map(Value::to_string),
            }),
            Some(other) => Err(ApiError::invalid_param(
                &format!("tools.{index}.type"),
                format!("Tool type {other:?} is not supported by this gateway; only custom tools."),
            )),
        })
        .collect::<Result<_, _>>()?;
    chat.tool_choice = match &request.tool_choice {
        None => None,
        Some(choice) => Some(match (choice.kind.as_str(), &choice.name) {
            ("auto", _) => ToolChoice::Auto,
            ("any", _) => ToolChoice::Required,
            ("none", _) => ToolChoice::None,
            ("tool", Some(name)) => ToolChoice::Function(name.clone()),
            _ => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "tool_choice: expected {\"type\": \"auto\" | \"any\" | \"none\"} or {\"type\": \"tool\", \"name\": …}.",
                ));
            }
        }),
    };
    if let Some(thinking) = &request.thinking {
        match (thinking.kind.as_str(), thinking.budget_tokens) {
            ("enabled", Some(budget)) => set_reasoning_effort(&mut chat, effort_for_budget(budget)),
            ("disabled", _) => {}
            ("adaptive", _) => {}
            _ => {
                return Err(ApiError::invalid_param(
                    "thinking",
                    "thinking: expected {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}.",
                ));
            }
        }
    }
    Ok(chat)
}

fn text_message(role: Role, text: String) -> Message {
    Message {
        role,
        content: vec![ContentPart::Text(text)],
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

/// One Anthropic message as host messages: a user turn's tool results each
/// become a tool message, the rest of it one user message.
fn convert_message(
    index: usize,
    message: &InMessage,
    out: &mut Vec<Message>,
) -> Result<(), ApiError> {
    let role = match message.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(ApiError::invalid_param(
                &format!("messages.{index}.role"),
                format!(
                    "messages.{index}.role: unexpected value {other:?}; expected user or assistant."
                ),
            ));
        }
    };
    let blocks = match &message.content {
        Content::Text(text) => {
            out.push(text_message(role, text.clone()));
            return Ok(());
        }
        Content::Blocks(blocks) => blocks,
    };
    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    for (at, block) in blocks.iter().enumerate() {
        let param = format!("messages.{index}.content.{at}");
        let bad = |why: String| ApiError::invalid_param(&param, format!("{param}: {why}"));
        match block {
            Block::ToolUse {
                id,
                name,
                input,
                provider_data,
            } if role == Role::Assistant => {
                let arguments = if input.is_null() {
                    "{}".to_string()
                } else {
                    input.to_string()
                };
                tool_calls.push(tool_call(
                    id.clone(),
                    name.clone(),
                    arguments,
                    provider_data.clone(),
                ));
            }
            Block::ToolResult {
                tool_use_id,
                content: result,
                is_error,
            } if role == Role::User => {
                let mut parts = Vec::new();
                match result {
                    None => {}
                    Some(ToolResultContent::Text(text)) => {
                        parts.push(ContentPart::Text(text.clone()))
                    }
                    Some(ToolResultContent::Blocks(inner)) => {
                        for block in inner {
                            parts.extend(simple_part(block).map_err(&bad)?);
                        }
                    }
                }
                if *is_error {
                    parts.insert(0, ContentPart::Text("Error:".into()));
                }
                out.push(Message {
                    role: Role::Tool,
                    content: parts,
                    name: None,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(tool_use_id.clone()),
                });
            }
            Block::ToolUse { .. } => {
                return Err(bad("tool_use blocks belong to assistant turns".into()));
            }
            Block::ToolResult { .. } => {
                return Err(bad("tool_result blocks belong to user turns".into()));
            }
            Block::Thinking {
                thinking,
                signature,
            } => {
                content.extend(reasoning_part(thinking.clone(), signature.clone()));
            }
            Block::RedactedThinking {} => {}
            other => content.extend(simple_part(other).map_err(&bad)?),
        }
    }
    if !content.is_empty() || !tool_calls.is_empty() {
        out.push(Message {
            role,
            content,
            name: None,
            tool_calls,
            tool_call_id: None,
        });
    }
    Ok(())
}

/// A text, image or document block as a content part.
fn simple_part(block: &Block) -> Result<Option<ContentPart>, String> {
    Ok(Some(match block {
        Block::Text { text } => ContentPart::Text(text.clone()),
        Block::Image { source } => match source {
            Source::Base64 { media_type, data } => {
                ContentPart::Image(decode_base64(media_type, data)?)
            }
            Source::Url { url } => url_part(url)?,
            Source::Text { .. } => return Err("an image's source must be base64 or url".into()),
        },
        Block::Document { source } => match source {
            Source::Base64 { media_type, data } => {
                ContentPart::File(decode_base64(media_type, data)?)
            }
            Source::Url { url } => url_part(url)?,
            Source::Text { data } => ContentPart::Text(data.clone()),
        },
        Block::Thinking { .. } | Block::RedactedThinking {} => return Ok(None),
        Block::ToolUse { .. } | Block::ToolResult { .. } => {
            return Err("a tool result holds text, images or documents only".into());
        }
    }))
}

/// Anthropic's Messages as a front door.
struct Anthropic {
    model: String,
}

/// Anthropic's `stop_reason`.
fn stop_reason(finish: Option<FinishReason>, saw_tool_call: bool) -> &'static str {
    match finish {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ContentFilter) => "refusal",
        _ if saw_tool_call => "tool_use",
        Some(FinishReason::ToolCalls) => "tool_use",
        _ => "end_turn",
    }
}

fn usage_json(usage: Option<&Usage>) -> Value {
    json!({
        "input_tokens": usage.map_or(0, |u| u.prompt_tokens),
        "output_tokens": usage.map_or(0, |u| u.completion_tokens),
    })
}

/// Tool-call arguments as the `input` object Anthropic's clients expect.
fn input_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({ "arguments": arguments }),
    }
}

impl Door for Anthropic {
    type Encoder = MessageStream;

    fn encoder(&self, shape: &Shape) -> MessageStream {
        MessageStream {
            id: new_id("msg_"),
            model: self.model.clone(),
            shape: shape.clone(),
            open: None,
            next_block: 0,
            usage: None,
            finish: None,
            saw_tool_call: false,
        }
    }

    fn whole(&self, events: Vec<Event>, shape: &Shape) -> Response {
        let mut blocks: Vec<Value> = Vec::new();
        let mut usage = None;
        let mut finish = None;
        let mut saw_tool_call = false;
        // The tool call each `tool_use` block came from, by the call's index.
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let last_is =
            |blocks: &[Value], kind: &str| blocks.last().is_some_and(|block| block["type"] == kind);
        for event in events {
            match event {
                Event::Text(text) if !text.is_empty() => {
                    if !last_is(&blocks, "text") {
                        blocks.push(json!({ "type": "text", "text": "" }));
                    }
                    append(blocks.last_mut(), "text", &text);
                }
                Event::Image(media) => {
                    if !last_is(&blocks, "text") {
                        blocks.push(json!({ "type": "text", "text": "" }));
                    }
                    append(blocks.last_mut(), "text", &shape.images.markdown(&media));
                }
                Event::Reasoning(text) if !text.is_empty() => {
                    if shape.reasoning == ReasoningMode::Drop {
                        continue;
                    }
                    if !last_is(&blocks, "thinking") {
                        blocks.push(json!({ "type": "thinking", "thinking": "", "signature": "" }));
                    }
                    append(blocks.last_mut(), "thinking", &text);
                }
                Event::ToolCall(delta) => {
                    saw_tool_call = true;
                    let at = match calls.iter().find(|(index, _)| *index == delta.index) {
                        Some((_, at)) => *at,
                        None => {
                            blocks.push(json!({
                                "type": "tool_use", "id": "", "name": "", "input": {}, "arguments": ""
                            }));
                            calls.push((delta.index, blocks.len() - 1));
                            blocks.len() - 1
                        }
                    };
                    let block = &mut blocks[at];
                    if let Some(id) = &delta.id {
                        block["id"] = id.clone().into();
                    }
                    if let Some(name) = &delta.name {
                        append(Some(block), "name", name);
                    }
                    if let Some(data) = provider_data(&delta) {
                        block["provider_data"] = data.into();
                    }
                    append(Some(block), "arguments", &delta.arguments);
                }
                Event::Usage(u) => usage = Some(u),
                Event::Finish(reason) => finish = Some(reason),
                Event::ReasoningSignature(signature) => {
                    if shape.reasoning == ReasoningMode::Drop {
                        continue;
                    }
                    if !last_is(&blocks, "thinking") {
                        blocks.push(json!({ "type": "thinking", "thinking": "", "signature": "" }));
                    }
                    if let Some(block) = blocks.last_mut() {
                        block["signature"] = signature.into();
                    }
                }
                Event::Text(_) | Event::Reasoning(_) | Event::Citation(_) => {}
            }
        }
        for block in &mut blocks {
            if let Some(object) = block.as_object_mut()
                && let Some(Value::String(arguments)) = object.remove("arguments")
            {
                object.insert("input".into(), input_object(&arguments));
            }
        }
        axum::Json(json!({
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": blocks,
            "stop_reason": stop_reason(finish, saw_tool_call),
            "stop_sequence": null,
            "usage": usage_json(usage.as_ref()),
        }))
        .into_response()
    }
}

/// Appends `text` to the string field `key` of `block`.
fn append(block: Option<&mut Value>, key: &str, text: &str) {
    if let Some(block) = block {
        let mut joined = block[key].as_str().unwrap_or_default().to_string();
        joined.push_str(text);
        block[key] = joined.into();
    }
}

/// The content block a stream has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A `tool_use` block, for the tool call of this index.
    Tool(u32),
}

/// One streamed answer as Anthropic's events.
struct MessageStream {
    id: String,
    model: String,
    shape: Shape,
    /// The block open now and its index.
    open: Option<(Open, u32)>,
    next_block: u32,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    saw_tool_call: bool,
}

impl MessageStream {
    /// Closes the open block unless it is `wanted`; opens `start` as
    /// `wanted` if it is not open. Returns the frames and the block's index.
    fn ensure(&mut self, wanted: Open, start: impl FnOnce() -> Value) -> (Vec<u8>, u32) {
        if let Some((open, index)) = self.open
            && open == wanted
        {
            return (Vec::new(), index);
        }
        let mut out = self.close();
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((wanted, index));
        out.extend(sse_event(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": start() }),
        ));
        (out, index)
    }

    fn close(&mut self) -> Vec<u8> {
        match self.open.take() {
            Some((_, index)) => sse_event(
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            ),
            None => Vec::new(),
        }
    }

    fn delta(index: u32, delta: Value) -> Vec<u8> {
        sse_event(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        )
    }

    /// A signature over the thinking so far, on its thinking block (opened
    /// if the plugin signed without thinking text), as `signature_delta`.
    fn signature(&mut self, signature: &str) -> Vec<u8> {
        if self.shape.reasoning == ReasoningMode::Drop {
            return Vec::new();
        }
        self.thinking(json!({ "type": "signature_delta", "signature": signature }))
    }

    /// `delta` on the thinking block, opened first if it is not.
    fn thinking(&mut self, delta: Value) -> Vec<u8> {
        let (mut out, index) = self.ensure(
            Open::Thinking,
            || json!({ "type": "thinking", "thinking": "", "signature": "" }),
        );
        out.extend(Self::delta(index, delta));
        out
    }

    fn text(&mut self, text: &str) -> Vec<u8> {
        let (mut out, index) = self.ensure(Open::Text, || json!({ "type": "text", "text": "" }));
        out.extend(Self::delta(
            index,
            json!({ "type": "text_delta", "text": text }),
        ));
        out
    }
}

impl StreamEncoder for MessageStream {
    fn begin(&mut self) -> Vec<u8> {
        let mut out = sse_event(
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": self.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": usage_json(None),
                },
            }),
        );
        out.extend(sse_event("ping", &json!({ "type": "ping" })));
        out
    }

    fn event(&mut self, event: Event) -> Vec<u8> {
        match event {
            Event::Text(text) if !text.is_empty() => self.text(&text),
            Event::Image(media) => {
                let markdown = self.shape.images.markdown(&media);
                self.text(&markdown)
            }
            Event::Reasoning(text) if !text.is_empty() => {
                if self.shape.reasoning == ReasoningMode::Drop {
                    return Vec::new();
                }
                self.thinking(json!({ "type": "thinking_delta", "thinking": text }))
            }
            Event::ToolCall(call) => {
                self.saw_tool_call = true;
                let (mut out, index) = self.ensure(Open::Tool(call.index), || {
                    let mut block = json!({
                        "type": "tool_use",
                        "id": call.id.clone().unwrap_or_default(),
                        "name": call.name.clone().unwrap_or_default(),
                        "input": {},
                    });
                    if let Some(data) = provider_data(&call) {
                        block["provider_data"] = data.into();
                    }
                    block
                });
                if !call.arguments.is_empty() {
                    out.extend(Self::delta(
                        index,
                        json!({ "type": "input_json_delta", "partial_json": call.arguments }),
                    ));
                }
                out
            }
            Event::Usage(usage) => {
                self.usage = Some(usage);
                Vec::new()
            }
            Event::Finish(reason) => {
                self.finish = Some(reason);
                Vec::new()
            }
            Event::ReasoningSignature(signature) => self.signature(&signature),
            // Anthropic's citations point into documents and searches of its
            // own; a plugin's web sources have no place in them.
            Event::Citation(_) => Vec::new(),
            Event::Text(_) | Event::Reasoning(_) => Vec::new(),
        }
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = self.close();
        out.extend(sse_event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason(self.finish, self.saw_tool_call),
                    "stop_sequence": null,
                },
                "usage": usage_json(self.usage.as_ref()),
            }),
        ));
        out.extend(sse_event(
            "message_stop",
            &json!({ "type": "message_stop" }),
        ));
        out
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        let body: Value =
            serde_json::from_slice(&error.to_json_as(Dialect::Anthropic)).unwrap_or_default();
        sse_event("error", &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        to_chat_request(&parse_json(body.to_string().as_bytes())?)
    }

    #[test]
    fn tool_results_become_tool_messages_ahead_of_the_rest_of_their_turn() {
        let chat = parse(json!({
            "model": "m", "max_tokens": 10, "system": [{ "type": "text", "text": "be brief" }],
            "messages": [
                { "role": "user", "content": "weather?" },
                { "role": "assistant", "content": [
                    { "type": "text", "text": "Let me look." },
                    { "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": { "city": "Paris" } },
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_1", "is_error": true,
                      "content": [{ "type": "text", "text": "no network" }] },
                    { "type": "text", "text": "try again" },
                ] },
            ],
        }))
        .unwrap();
        let roles: Vec<Role> = chat.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(
            chat.messages[2].tool_calls[0].arguments,
            r#"{"city":"Paris"}"#
        );
        assert_eq!(chat.messages[3].tool_call_id.as_deref(), Some("toolu_1"));
        assert!(matches!(&chat.messages[3].content[0], ContentPart::Text(t) if t == "Error:"));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let base = |extra: Value| {
            let mut body = json!({ "model": "m", "max_tokens": 10,
                "messages": [{ "role": "user", "content": "hi" }] });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(body).unwrap_err().message
        };
        assert!(base(json!({ "max_tokens": null })).contains("max_tokens"));
        assert!(
            base(json!({ "messages": [{ "role": "system", "content": "x" }] })).contains("role")
        );
        assert!(
            base(json!({ "messages": [{ "role": "user", "content": [
            { "type": "tool_use", "id": "a", "name": "f", "input": {} }] }] }))
            .contains("assistant turns")
        );
        assert!(
            base(json!({ "tools": [{ "type": "web_search_20250305", "name": "web_search" }] }))
                .contains("not supported")
        );
    }

    #[tokio::test]
    async fn a_reasoning_signature_ends_its_thinking_block_streamed_and_whole() {
        use crate::api::chat_core::Images;
        let shape = Shape {
            reasoning: ReasoningMode::ReasoningContent,
            images: Images::Inline,
        };
        let door = Anthropic { model: "m".into() };
        let events = || {
            vec![
                Event::Reasoning("hmm".into()),
                Event::ReasoningSignature("sig-1".into()),
                Event::Text("hi".into()),
            ]
        };
        let mut stream = door.encoder(&shape);
        let mut out = stream.begin();
        for event in events() {
            out.extend(stream.event(event));
        }
        out.extend(stream.end());
        let text = String::from_utf8(out).unwrap();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        assert!(at(r#""thinking_delta""#) < at(r#""signature":"sig-1""#));
        assert!(at(r#""signature_delta""#) < at(r#""content_block":{"text":"","type":"text"}"#));
        let whole = door.whole(events(), &shape);
        let body = axum::body::to_bytes(whole.into_body(), usize::MAX)
            .await
            .unwrap();
        let message: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(message["content"][0]["type"], "thinking");
        assert_eq!(message["content"][0]["signature"], "sig-1");
        assert_eq!(message["content"][1]["text"], "hi");
    }
}
