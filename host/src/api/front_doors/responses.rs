//! OpenAI's Responses API, `POST /v1/responses`, without server-side state:
//! nothing is stored, so `previous_response_id` is refused with a 400 that
//! says to send the whole conversation in `input` (which every client can).
//!
//! `input` (a string or items) and `instructions` become the host's
//! messages: `message` items by role, `function_call` items the assistant's
//! tool calls, `function_call_output` items tool messages, `reasoning` items
//! reasoning parts. The answer is `output` items — `reasoning` (its text as a
//! summary), `message` with `output_text`, `function_call` — whole, or
//! streamed as the Responses events (`response.created`, `…output_item.added`,
//! the deltas, `…done`, `response.completed`), each with its
//! `sequence_number`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    decode_base64, new_chat, new_id, parse_json, reasoning_part, set_extra, set_reasoning_effort,
    sse_event, tool_call, url_part,
};
use crate::api::AppState;
use crate::api::chat_core::{self, ChatCall, Door, Shape, StreamEncoder};
use crate::api::error::ApiError;
use crate::api::tool_memory::CallerTag;
use crate::config::ReasoningMode;
use crate::runtime::bindings::{
    ChatRequest, Citation, ContentPart, Event, FinishReason, Message, Role, Tool, ToolChoice, Usage,
};

pub async fn responses(
    State(state): State<AppState>,
    caller: Option<axum::Extension<CallerTag>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: Value = match chat_core::body(&state, body).and_then(|body| parse_json(&body)) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    let chat = match convert(&request, &model, stream) {
        Ok(chat) => chat,
        Err(error) => return chat_core::refused(error, &model, stream),
    };
    let door = Responses {
        model: model.clone(),
        echo: Echo::of(&request),
    };
    let call = ChatCall {
        chat,
        model,
        stream,
        caller: CallerTag::from_extension(caller),
    };
    chat_core::run(state, headers, call, door).await
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

fn convert(request: &Value, model: &str, stream: bool) -> Result<ChatRequest, ApiError> {
    if model.is_empty() {
        return Err(ApiError::invalid_param("model", "`model` is required."));
    }
    if request
        .get("previous_response_id")
        .is_some_and(|id| !id.is_null())
    {
        return Err(ApiError::invalid_param(
            "previous_response_id",
            "This gateway does not store responses: send the whole conversation in `input` instead of `previous_response_id`.",
        ));
    }
    let mut messages = Vec::new();
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str) {
        messages.push(text_message(Role::System, instructions.to_string()));
    }
    match request.get("input") {
        Some(Value::String(text)) => messages.push(text_message(Role::User, text.clone())),
        Some(Value::Array(items)) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                convert_item(index, item, &mut messages)?;
            }
        }
        _ => {
            return Err(ApiError::invalid_param(
                "input",
                "`input` must be a string or a non-empty list of items.",
            ));
        }
    }
    let mut chat = new_chat(model, messages, stream);
    let number = |name: &str| request.get(name).and_then(Value::as_f64).map(|v| v as f32);
    chat.sampling.temperature = number("temperature");
    chat.sampling.top_p = number("top_p");
    chat.sampling.max_tokens = request
        .get("max_output_tokens")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok());
    for (index, tool) in request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => chat.tools.push(Tool {
                name: tool
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::invalid_param(
                            &format!("tools[{index}].name"),
                            "A function tool needs a `name`.",
                        )
                    })?
                    .to_string(),
                description: tool
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                parameters: tool
                    .get("parameters")
                    .filter(|p| !p.is_null())
                    .map(Value::to_string),
            }),
            Some("web_search" | "web_search_preview") => {
                set_extra(&mut chat, "web_search_options", json!({}));
            }
            other => {
                return Err(ApiError::invalid_param(
                    &format!("tools[{index}].type"),
                    format!(
                        "Tool type {:?} is not served by this gateway: function and web_search are.",
                        other.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    chat.tool_choice = match request.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(choice)) => Some(match choice.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(bad_tool_choice()),
        }),
        Some(choice) => Some(ToolChoice::Function(
            choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(bad_tool_choice)?
                .to_string(),
        )),
    };
    if let Some(effort) = request.pointer("/reasoning/effort").and_then(Value::as_str) {
        set_reasoning_effort(&mut chat, effort);
    }
    // A JSON schema answer, as chat completions' `response_format`.
    if let Some(format) = request.pointer("/text/format").filter(|f| !f.is_null()) {
        let response_format = match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => json!({
                "type": "json_schema",
                "json_schema": {
                    "name": format.get("name").cloned().unwrap_or("answer".into()),
                    "schema": format.get("schema").cloned().unwrap_or(json!({})),
                    "strict": format.get("strict").cloned().unwrap_or(Value::Null),
                },
            }),
            Some("json_object") => json!({ "type": "json_object" }),
            _ => Value::Null,
        };
        if !response_format.is_null() {
            set_extra(&mut chat, "response_format", response_format);
        }
    }
    Ok(chat)
}

fn bad_tool_choice() -> ApiError {
    ApiError::invalid_param(
        "tool_choice",
        "Expected \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\": …}.",
    )
}

/// One input item as host messages.
fn convert_item(index: usize, item: &Value, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let param = format!("input[{index}]");
    let bad = |why: &str| ApiError::invalid_param(&param, format!("{param}: {why}"));
    let text_field = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&format!("`{name}` is required.")))
    };
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system" | "developer") => Role::System,
                _ => return Err(bad("`role` must be user, assistant, system or developer.")),
            };
            let content = match item.get("content") {
                Some(Value::String(text)) => vec![ContentPart::Text(text.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(at, part)| {
                        content_part(part).map_err(|why| {
                            let param = format!("{param}.content[{at}]");
                            ApiError::invalid_param(&param, format!("{param}: {why}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => return Err(bad("`content` must be a string or a list of parts.")),
            };
            out.push(Message {
                role,
                content,
                name: None,
                tool_calls: Vec::new(),
                tool_call_id: None,
            });
        }
        "function_call" => {
            let call = tool_call(
                text_field("call_id")?.to_string(),
                text_field("name")?.to_string(),
                item.get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("{}")
                    .to_string(),
                item.get("provider_data")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            );
            // Calls in a row (and after the assistant's text) are one turn.
            match out.last_mut() {
                Some(last) if last.role == Role::Assistant => last.tool_calls.push(call),
                _ => out.push(Message {
                    role: Role::Assistant,
                    content: Vec::new(),
                    name: None,
                    tool_calls: vec![call],
                    tool_call_id: None,
                }),
            }
        }
        "function_call_output" => {
            let output = match item.get("output") {
                Some(Value::String(text)) => vec![ContentPart::Text(text.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .map(content_part)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|why| bad(&why))?
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => return Err(bad("`output` must be a string or a list of parts.")),
            };
            out.push(Message {
                role: Role::Tool,
                content: output,
                name: None,
                tool_calls: Vec::new(),
                tool_call_id: Some(text_field("call_id")?.to_string()),
            });
        }
        "reasoning" => {
            let text: String = item
                .get("summary")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            let signature = item
                .get("encrypted_content")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(part) = reasoning_part(text, signature) {
                match out.last_mut() {
                    Some(last) if last.role == Role::Assistant => last.content.push(part),
                    _ => out.push(Message {
                        role: Role::Assistant,
                        content: vec![part],
                        name: None,
                        tool_calls: Vec::new(),
                        tool_call_id: None,
                    }),
                }
            }
        }
        other => {
            return Err(bad(&format!(
                "items of type {other:?} are not served by this gateway (it stores nothing to refer to)."
            )));
        }
    }
    Ok(())
}

/// One content part of an input message.
fn content_part(part: &Value) -> Result<Option<ContentPart>, String> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
    let text = || part.get("text").and_then(Value::as_str).map(str::to_string);
    Ok(Some(match kind {
        "input_text" | "output_text" | "text" => {
            ContentPart::Text(text().ok_or("a text part needs `text`")?)
        }
        "refusal" => return Ok(None),
        "input_image" => {
            let url = part
                .get("image_url")
                .and_then(Value::as_str)
                .ok_or("an input_image needs `image_url` (file ids are not served)")?;
            url_part(url)?
        }
        "input_file" => {
            if let Some(url) = part.get("file_url").and_then(Value::as_str) {
                url_part(url)?
            } else {
                let data = part
                    .get("file_data")
                    .and_then(Value::as_str)
                    .ok_or("an input_file needs `file_data` or `file_url`")?;
                match data.strip_prefix("data:") {
                    Some(_) => ContentPart::File(crate::api::request::decode_data_url(data)?),
                    None => ContentPart::File(decode_base64("application/pdf", data)?),
                }
            }
        }
        other => return Err(format!("parts of type {other:?} are not served")),
    }))
}

/// Request fields a response repeats back.
#[derive(Clone)]
struct Echo {
    instructions: Value,
    tools: Value,
    tool_choice: Value,
    temperature: Value,
    top_p: Value,
    max_output_tokens: Value,
    reasoning: Value,
}

impl Echo {
    fn of(request: &Value) -> Echo {
        let get = |name: &str| request.get(name).cloned().unwrap_or(Value::Null);
        Echo {
            instructions: get("instructions"),
            tools: request.get("tools").cloned().unwrap_or(json!([])),
            tool_choice: request.get("tool_choice").cloned().unwrap_or("auto".into()),
            temperature: get("temperature"),
            top_p: get("top_p"),
            max_output_tokens: get("max_output_tokens"),
            reasoning: request
                .get("reasoning")
                .cloned()
                .unwrap_or(json!({ "effort": null, "summary": null })),
        }
    }
}

/// The Responses API as a front door.
struct Responses {
    model: String,
    echo: Echo,
}

impl Door for Responses {
    type Encoder = ResponseWriter;

    fn encoder(&self, shape: &Shape) -> ResponseWriter {
        ResponseWriter {
            id: new_id("resp_"),
            created_at: crate::clock::unix_seconds(),
            model: self.model.clone(),
            echo: self.echo.clone(),
            shape: shape.clone(),
            sequence: 0,
            output: Vec::new(),
            open: None,
            usage: None,
            finish: None,
        }
    }

    /// The same items a stream builds, without its events.
    fn whole(&self, events: Vec<Event>, shape: &Shape) -> Response {
        let mut writer = self.encoder(shape);
        for event in events {
            writer.event(event);
        }
        writer.close();
        axum::Json(writer.response()).into_response()
    }
}

/// The output item being written.
enum Open {
    Reasoning,
    Message,
    /// A function call, by the plugin's call index.
    Call(u32),
}

/// Builds the response's output items from the events, and the stream's
/// events for them (ignored for a whole answer).
struct ResponseWriter {
    id: String,
    created_at: u64,
    model: String,
    echo: Echo,
    shape: Shape,
    sequence: u64,
    output: Vec<Value>,
    open: Option<Open>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl ResponseWriter {
    /// One event of the stream, numbered.
    fn emit(&mut self, kind: &str, mut data: Value) -> Vec<u8> {
        data["type"] = kind.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        sse_event(kind, &data)
    }

    fn at(&self) -> usize {
        self.output.len() - 1
    }

    fn item_id(&self) -> Value {
        self.output[self.at()]["id"].clone()
    }

    fn add_item(&mut self, item: Value, open: Open) -> Vec<u8> {
        let mut out = self.close();
        self.output.push(item.clone());
        self.open = Some(open);
        let output_index = self.at();
        out.extend(self.emit(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": item }),
        ));
        out
    }

    /// Ends the open item: its `…done` events.
    fn close(&mut self) -> Vec<u8> {
        let Some(open) = self.open.take() else {
            return Vec::new();
        };
        let (output_index, item_id) = (self.at(), self.item_id());
        let mut out = Vec::new();
        match open {
            Open::Reasoning => {
                // Signed reasoning without text has no summary part to end.
                let part = self.output[output_index]["summary"][0].clone();
                if !part.is_null() {
                    out.extend(self.emit(
                    "response.reasoning_summary_text.done",
                    json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "text": part["text"] }),
                ));
                    out.extend(self.emit(
                    "response.reasoning_summary_part.done",
                    json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "part": part }),
                ));
                }
            }
            Open::Message => {
                let part = self.output[output_index]["content"][0].clone();
                out.extend(self.emit(
                    "response.output_text.done",
                    json!({ "item_id": item_id, "output_index": output_index, "content_index": 0, "text": part["text"], "logprobs": [] }),
                ));
                out.extend(self.emit(
                    "response.content_part.done",
                    json!({ "item_id": item_id, "output_index": output_index, "content_index": 0, "part": part }),
                ));
            }
            Open::Call(_) => {
                let arguments = self.output[output_index]["arguments"].clone();
                out.extend(self.emit(
                    "response.function_call_arguments.done",
                    json!({ "item_id": item_id, "output_index": output_index, "arguments": arguments }),
                ));
            }
        }
        let item = &mut self.output[output_index];
        if item.get("status").is_some() {
            item["status"] = "completed".into();
        }
        let item = item.clone();
        out.extend(self.emit(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": item }),
        ));
        out
    }

    fn text(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !matches!(self.open, Some(Open::Message)) {
            out.extend(self.add_item(
                json!({
                    "type": "message", "id": new_id("msg_"), "status": "in_progress",
                    "role": "assistant", "content": [],
                }),
                Open::Message,
            ));
            let (output_index, item_id) = (self.at(), self.item_id());
            let part = json!({ "type": "output_text", "text": "", "annotations": [] });
            self.output[output_index]["content"] = json!([part.clone()]);
            out.extend(self.emit(
                "response.content_part.added",
                json!({ "item_id": item_id, "output_index": output_index, "content_index": 0, "part": part }),
            ));
        }
        let (output_index, item_id) = (self.at(), self.item_id());
        append(&mut self.output[output_index]["content"][0]["text"], text);
        out.extend(self.emit(
            "response.output_text.delta",
            json!({ "item_id": item_id, "output_index": output_index, "content_index": 0, "delta": text, "logprobs": [] }),
        ));
        out
    }

    fn reasoning(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !matches!(self.open, Some(Open::Reasoning)) {
            out.extend(self.add_item(
                json!({ "type": "reasoning", "id": new_id("rs_"), "summary": [] }),
                Open::Reasoning,
            ));
            let (output_index, item_id) = (self.at(), self.item_id());
            let part = json!({ "type": "summary_text", "text": "" });
            self.output[output_index]["summary"] = json!([part.clone()]);
            out.extend(self.emit(
                "response.reasoning_summary_part.added",
                json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "part": part }),
            ));
        }
        let (output_index, item_id) = (self.at(), self.item_id());
        append(&mut self.output[output_index]["summary"][0]["text"], text);
        out.extend(self.emit(
            "response.reasoning_summary_text.delta",
            json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "delta": text }),
        ));
        out
    }

    /// Signed reasoning: the reasoning item's `encrypted_content`, which a
    /// caller sends back with the item on its next turn.
    fn signature(&mut self, signature: String) -> Vec<u8> {
        if self.shape.reasoning == ReasoningMode::Drop {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !matches!(self.open, Some(Open::Reasoning)) {
            out.extend(self.add_item(
                json!({ "type": "reasoning", "id": new_id("rs_"), "summary": [] }),
                Open::Reasoning,
            ));
        }
        let at = self.at();
        self.output[at]["encrypted_content"] = signature.into();
        out
    }

    /// A source of the answer as a `url_citation` annotation on the message
    /// its text is in (the open one, else the last).
    fn citation(&mut self, citation: &Citation) -> Vec<u8> {
        let Some(at) = self
            .output
            .iter()
            .rposition(|item| item["type"] == "message")
        else {
            return Vec::new();
        };
        let mut annotation = json!({
            "type": "url_citation",
            "url": citation.url,
            "title": citation.title.clone().unwrap_or_else(|| citation.url.clone()),
        });
        if let Some(start) = citation.start_index {
            annotation["start_index"] = start.into();
        }
        if let Some(end) = citation.end_index {
            annotation["end_index"] = end.into();
        }
        let annotations = &mut self.output[at]["content"][0]["annotations"];
        let Some(list) = annotations.as_array_mut() else {
            return Vec::new();
        };
        list.push(annotation.clone());
        let annotation_index = list.len() - 1;
        let item_id = self.output[at]["id"].clone();
        self.emit(
            "response.output_text.annotation.added",
            json!({
                "item_id": item_id, "output_index": at, "content_index": 0,
                "annotation_index": annotation_index, "annotation": annotation,
            }),
        )
    }

    fn call(&mut self, delta: &crate::runtime::bindings::ToolCallDelta) -> Vec<u8> {
        let mut out = Vec::new();
        if !matches!(self.open, Some(Open::Call(index)) if index == delta.index) {
            let mut item = json!({
                "type": "function_call", "id": new_id("fc_"),
                "call_id": delta.id.clone().unwrap_or_default(),
                "name": delta.name.clone().unwrap_or_default(),
                "arguments": "", "status": "in_progress",
            });
            if let Some(data) = super::provider_data(delta) {
                item["provider_data"] = data.into();
            }
            out.extend(self.add_item(item, Open::Call(delta.index)));
        }
        if delta.arguments.is_empty() {
            return out;
        }
        let (output_index, item_id) = (self.at(), self.item_id());
        append(
            &mut self.output[output_index]["arguments"],
            &delta.arguments,
        );
        out.extend(self.emit(
            "response.function_call_arguments.delta",
            json!({ "item_id": item_id, "output_index": output_index, "delta": delta.arguments }),
        ));
        out
    }

    /// The response object, `in_progress` until the items are closed.
    fn response_with(&self, status: &str) -> Value {
        let incomplete = match (status, self.finish) {
            ("completed", Some(FinishReason::Length)) => {
                Some(json!({ "reason": "max_output_tokens" }))
            }
            ("completed", Some(FinishReason::ContentFilter)) => {
                Some(json!({ "reason": "content_filter" }))
            }
            _ => None,
        };
        let status = if incomplete.is_some() {
            "incomplete"
        } else {
            status
        };
        let usage = self.usage.as_ref().map(|usage| {
            json!({
                "input_tokens": usage.prompt_tokens,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens": usage.completion_tokens,
                "output_tokens_details": { "reasoning_tokens": usage.reasoning_tokens.unwrap_or(0) },
                "total_tokens": usage.total_tokens,
            })
        });
        let echo = &self.echo;
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": incomplete,
            "model": self.model,
            "output": self.output,
            "usage": usage,
            "instructions": echo.instructions,
            "tools": echo.tools,
            "tool_choice": echo.tool_choice,
            "temperature": echo.temperature,
            "top_p": echo.top_p,
            "max_output_tokens": echo.max_output_tokens,
            "reasoning": echo.reasoning,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "store": false,
            "text": { "format": { "type": "text" } },
            "truncation": "disabled",
            "metadata": {},
        })
    }

    fn response(&self) -> Value {
        self.response_with("completed")
    }
}

fn append(field: &mut Value, text: &str) {
    let mut joined = field.as_str().unwrap_or_default().to_string();
    joined.push_str(text);
    *field = joined.into();
}

impl StreamEncoder for ResponseWriter {
    fn begin(&mut self) -> Vec<u8> {
        let response = self.response_with("in_progress");
        let mut out = self.emit("response.created", json!({ "response": response }));
        out.extend(self.emit("response.in_progress", json!({ "response": response })));
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
                    Vec::new()
                } else {
                    self.reasoning(&text)
                }
            }
            Event::ToolCall(delta) => self.call(&delta),
            Event::Usage(usage) => {
                self.usage = Some(usage);
                Vec::new()
            }
            Event::Finish(reason) => {
                self.finish = Some(reason);
                Vec::new()
            }
            Event::ReasoningSignature(signature) => self.signature(signature),
            Event::Citation(citation) => self.citation(&citation),
            Event::Text(_) | Event::Reasoning(_) => Vec::new(),
        }
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = self.close();
        let response = self.response();
        out.extend(self.emit("response.completed", json!({ "response": response })));
        out
    }

    /// An `error` event with the error object, which OpenAI's SDKs throw.
    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        let body: Value = serde_json::from_slice(&error.to_json()).unwrap_or_default();
        let sequence = self.sequence;
        sse_event(
            "error",
            &json!({
                "type": "error",
                "sequence_number": sequence,
                "code": error.code,
                "message": error.message,
                "param": error.param,
                "error": body["error"],
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::chat_core::Images;
    use crate::runtime::bindings::Citation;

    #[tokio::test]
    async fn signed_reasoning_and_citations_land_on_their_items() {
        let shape = Shape {
            reasoning: ReasoningMode::ReasoningContent,
            images: Images::Inline,
        };
        let door = Responses {
            model: "m".into(),
            echo: Echo::of(&json!({})),
        };
        let events = vec![
            Event::Reasoning("hmm".into()),
            Event::ReasoningSignature("sig-1".into()),
            Event::Text("hello world".into()),
            Event::Citation(Citation {
                url: "https://example.com/a".into(),
                title: None,
                start_index: Some(0),
                end_index: Some(5),
            }),
        ];
        let whole = door.whole(events, &shape);
        let body = axum::body::to_bytes(whole.into_body(), usize::MAX)
            .await
            .unwrap();
        let response: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(response["output"][0]["encrypted_content"], "sig-1");
        let annotation = &response["output"][1]["content"][0]["annotations"][0];
        assert_eq!(annotation["type"], "url_citation");
        assert_eq!(annotation["url"], "https://example.com/a");
        assert_eq!(annotation["end_index"], 5);
    }
}
