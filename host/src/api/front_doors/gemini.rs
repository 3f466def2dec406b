//! The Gemini API as Google's SDKs and hajimi's clients call it:
//! `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse` for SSE, else one JSON array written
//! element by element), `:countTokens` (an estimate), `GET /v1beta/models`
//! and `GET /v1beta/models/{model}`; the methods also under `/v1/models/…`
//! (the SDKs' `apiVersion: "v1"`). The key comes as `x-goog-api-key` or
//! `?key=`.
//!
//! `contents` become the host's messages: `model` turns the assistant's
//! (their `functionCall` parts tool calls, with the part's `thoughtSignature`
//! as the call's provider data; `thought` parts reasoning), a user turn's
//! `functionResponse` parts tool messages answering the call of that id or,
//! as Gemini rarely names calls, the earliest unanswered call of that name.
//! `generationConfig` fields the contract has are mapped; the rest
//! (`thinkingConfig`, `responseMimeType`, …) and `safetySettings` travel in
//! `extra` under their own names, which the Gemini plugins merge into their
//! upstream request. Answers come back as `GenerateContentResponse`s.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{
    decode_base64, effort_for_budget, estimate_tokens, new_chat, new_id, parse_json, provider_data,
    reasoning_part, set_extra, set_reasoning_effort, tool_call, url_part,
};
use crate::api::AppState;
use crate::api::chat_core::{self, ChatCall, Door, Shape, StreamEncoder};
use crate::api::error::{ApiError, Dialect};
use crate::api::tool_memory::CallerTag;
use crate::config::ReasoningMode;
use crate::runtime::bindings::{
    ChatRequest, ContentPart, Event, FinishReason, Message, Role, Tool, ToolChoice, Usage,
};

/// `GET /v1beta/models`: what `GET /v1/models` lists, in Google's shape.
pub async fn list_models(State(state): State<AppState>) -> Response {
    let models: Vec<Value> = served_models(&state)
        .into_iter()
        .map(|id| model_json(&id))
        .collect();
    axum::Json(json!({ "models": models })).into_response()
}

/// `GET /v1beta/models/{model}`.
pub async fn get_model(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let id = name.strip_prefix("models/").unwrap_or(&name);
    if served_models(&state).iter().any(|served| served == id) {
        axum::Json(model_json(id)).into_response()
    } else {
        ApiError::model_not_found(format!("models/{id} is not found.")).into_response()
    }
}

fn served_models(state: &AppState) -> Vec<String> {
    crate::api::models::served(state, false)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn model_json(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "001",
        "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}

/// `POST /v1beta/models/{model}:{method}`.
pub async fn model_method(
    State(state): State<AppState>,
    caller: Option<axum::Extension<CallerTag>>,
    Path(target): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some((model, method)) = target.rsplit_once(':') else {
        return ApiError::not_found(format!(
            "Unknown path /v1beta/models/{target}: expected models/{{model}}:generateContent."
        ))
        .into_response();
    };
    let model = model.strip_prefix("models/").unwrap_or(model).to_string();
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => return count_tokens(&state, &model, body),
        other => {
            return ApiError::not_found(format!(
                "Method {other:?} is not served: generateContent, streamGenerateContent or countTokens."
            ))
            .into_response();
        }
    };
    let sse = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "alt=sse");
    let request: Value = match chat_core::body(&state, body).and_then(|body| parse_json(&body)) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let chat = match convert(&request, &model, stream) {
        Ok(chat) => chat,
        Err(error) => return chat_core::refused(error, &model, stream),
    };
    let door = Gemini {
        model: model.clone(),
        sse,
    };
    let call = ChatCall {
        chat,
        model,
        stream,
        caller: CallerTag::from_extension(caller),
    };
    chat_core::run(state, headers, call, door).await
}

/// `countTokens`: an estimate (characters / 4 of the text), for a model the
/// gateway serves.
fn count_tokens(state: &AppState, model: &str, body: Result<Bytes, BytesRejection>) -> Response {
    let counted = chat_core::body(state, body)
        .and_then(|body| parse_json::<Value>(&body))
        .and_then(|request| {
            state.registry.load().resolve(model)?;
            // Either `contents` or a whole `generateContentRequest`.
            let request = request
                .get("generateContentRequest")
                .cloned()
                .unwrap_or(request);
            let chat = convert(&request, model, false)?;
            let texts = chat.messages.iter().flat_map(|message| {
                message
                    .content
                    .iter()
                    .map(|part| match part {
                        ContentPart::Text(text) => text.len(),
                        _ => 0,
                    })
                    .chain(
                        message
                            .tool_calls
                            .iter()
                            .map(|call| call.name.len() + call.arguments.len()),
                    )
                    .collect::<Vec<_>>()
            });
            Ok(estimate_tokens(texts))
        });
    match counted {
        Ok(tokens) => axum::Json(json!({ "totalTokens": tokens })).into_response(),
        Err(error) => error.into_response(),
    }
}

/// A field under its lowerCamelCase or snake_case name (Google accepts both).
fn field<'a>(object: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    object
        .get(camel)
        .or_else(|| object.get(snake))
        .filter(|value| !value.is_null())
}

fn invalid(param: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_param(param, format!("Invalid value at '{param}': {why}"))
}

/// A tool call already made, for matching its `functionResponse`.
struct MadeCall {
    /// The call's own id, else `call_<n>` in the order calls were made.
    id: String,
    name: String,
    answered: bool,
}

fn convert(request: &Value, model: &str, stream: bool) -> Result<ChatRequest, ApiError> {
    let contents = match request.get("contents") {
        Some(Value::Array(contents)) if !contents.is_empty() => contents,
        _ => {
            return Err(invalid(
                "contents",
                "GenerateContentRequest.contents must be a non-empty list.",
            ));
        }
    };
    let mut messages = Vec::new();
    if let Some(system) = field(request, "systemInstruction", "system_instruction") {
        let text = texts_of(system).join("\n");
        if !text.is_empty() {
            messages.push(Message {
                role: Role::System,
                content: vec![ContentPart::Text(text)],
                name: None,
                tool_calls: Vec::new(),
                tool_call_id: None,
            });
        }
    }
    let mut calls: Vec<MadeCall> = Vec::new();
    for (index, content) in contents.iter().enumerate() {
        let param = format!("contents[{index}]");
        let role = match content.get("role").and_then(Value::as_str) {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(invalid(
                    &format!("{param}.role"),
                    format!("{other:?}; please use a valid role: user, model."),
                ));
            }
        };
        let Some(Value::Array(parts)) = content.get("parts") else {
            return Err(invalid(&format!("{param}.parts"), "parts must be a list."));
        };
        let mut message = Message {
            role,
            content: Vec::new(),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        };
        for (at, part) in parts.iter().enumerate() {
            let param = format!("{param}.parts[{at}]");
            let signature = field(part, "thoughtSignature", "thought_signature")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(call) = field(part, "functionCall", "function_call") {
                if role != Role::Assistant {
                    return Err(invalid(&param, "a functionCall belongs to a model turn."));
                }
                let name = call
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&param, "functionCall.name is required."))?;
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map_or_else(|| format!("call_{}", calls.len()), str::to_string);
                let arguments = field(call, "args", "arguments")
                    .map_or_else(|| "{}".to_string(), Value::to_string);
                let made = tool_call(id.clone(), name.to_string(), arguments, signature);
                calls.push(MadeCall {
                    id,
                    name: name.to_string(),
                    answered: false,
                });
                message.tool_calls.push(made);
            } else if let Some(response) = field(part, "functionResponse", "function_response") {
                let name = response
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&param, "functionResponse.name is required."))?;
                let id = response.get("id").and_then(Value::as_str);
                let at = calls
                    .iter()
                    .position(|call| !call.answered && id.is_some_and(|id| call.id == id))
                    .or_else(|| {
                        // Gemini rarely names calls: the earliest unanswered one of that name.
                        calls
                            .iter()
                            .position(|call| !call.answered && call.name == name)
                    })
                    .ok_or_else(|| {
                        invalid(
                            &param,
                            format!(
                                "the functionResponse for {name:?} answers no earlier functionCall."
                            ),
                        )
                    })?;
                let made = &mut calls[at];
                made.answered = true;
                let output = response.get("response").cloned().unwrap_or(Value::Null);
                messages.push(Message {
                    role: Role::Tool,
                    content: vec![ContentPart::Text(output.to_string())],
                    name: Some(name.to_string()),
                    tool_calls: Vec::new(),
                    tool_call_id: Some(made.id.clone()),
                });
            } else if part.get("thought").and_then(Value::as_bool) == Some(true) {
                let text = part.get("text").and_then(Value::as_str).unwrap_or_default();
                message
                    .content
                    .extend(reasoning_part(text.to_string(), signature));
            } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                message.content.push(ContentPart::Text(text.to_string()));
            } else if let Some(blob) = field(part, "inlineData", "inline_data") {
                let mime = field(blob, "mimeType", "mime_type")
                    .and_then(Value::as_str)
                    .unwrap_or("application/octet-stream");
                let data = blob.get("data").and_then(Value::as_str).unwrap_or_default();
                let media = decode_base64(mime, data)
                    .map_err(|why| invalid(&format!("{param}.inlineData.data"), why))?;
                message.content.push(if mime.starts_with("image/") {
                    ContentPart::Image(media)
                } else {
                    ContentPart::File(media)
                });
            } else if let Some(file) = field(part, "fileData", "file_data") {
                let uri = field(file, "fileUri", "file_uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let part = url_part(uri).map_err(|why| {
                    invalid(
                        &format!("{param}.fileData.fileUri"),
                        format!("{why}; this gateway fetches http(s) URLs only."),
                    )
                })?;
                message.content.push(part);
            } else {
                return Err(invalid(
                    &param,
                    "expected text, inlineData, fileData, functionCall or functionResponse.",
                ));
            }
        }
        if !message.content.is_empty() || !message.tool_calls.is_empty() {
            messages.push(message);
        }
    }
    let mut chat = new_chat(model, messages, stream);
    let (declared, search) = tools(request)?;
    chat.tools = declared;
    if search {
        set_extra(&mut chat, "web_search_options", json!({}));
    }
    if let Some(choice) = field(request, "toolConfig", "tool_config")
        .and_then(|config| field(config, "functionCallingConfig", "function_calling_config"))
    {
        let allowed: Vec<&str> = field(choice, "allowedFunctionNames", "allowed_function_names")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        chat.tool_choice = match choice.get("mode").and_then(Value::as_str) {
            None | Some("AUTO") | Some("MODE_UNSPECIFIED") | Some("VALIDATED") => {
                Some(ToolChoice::Auto)
            }
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") if allowed.len() == 1 => Some(ToolChoice::Function(allowed[0].to_string())),
            Some("ANY") => Some(ToolChoice::Required),
            Some(other) => {
                return Err(invalid(
                    "toolConfig.functionCallingConfig.mode",
                    format!("{other:?}; expected AUTO, ANY or NONE."),
                ));
            }
        };
    }
    if let Some(config) = field(request, "generationConfig", "generation_config") {
        generation_config(config, &mut chat)?;
    }
    if let Some(safety) = field(request, "safetySettings", "safety_settings") {
        set_extra(&mut chat, "safetySettings", safety.clone());
    }
    Ok(chat)
}

/// The text parts of a `Content` (or a bare string).
fn texts_of(content: &Value) -> Vec<String> {
    if let Some(text) = content.as_str() {
        return vec![text.to_string()];
    }
    content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// `functionDeclarations` as tools, and whether Google Search was asked for
/// (grounding: OpenAI's `web_search_options`, which the Gemini plugins read).
fn tools(request: &Value) -> Result<(Vec<Tool>, bool), ApiError> {
    let mut out = Vec::new();
    let Some(Value::Array(tools)) = request.get("tools") else {
        return Ok((out, false));
    };
    let mut search = false;
    for (index, tool) in tools.iter().enumerate() {
        let param = format!("tools[{index}]");
        if let Some(declarations) = field(tool, "functionDeclarations", "function_declarations") {
            for declaration in declarations.as_array().into_iter().flatten() {
                let name = declaration
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&param, "a function declaration needs a name."))?;
                let parameters = field(declaration, "parameters", "parameters").or_else(|| {
                    field(
                        declaration,
                        "parametersJsonSchema",
                        "parameters_json_schema",
                    )
                });
                out.push(Tool {
                    name: name.to_string(),
                    description: declaration
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    parameters: parameters.map(Value::to_string),
                });
            }
        } else if field(tool, "googleSearch", "google_search").is_some()
            || field(tool, "googleSearchRetrieval", "google_search_retrieval").is_some()
        {
            search = true;
        } else {
            return Err(invalid(
                &param,
                "only functionDeclarations and googleSearch tools are served by this gateway.",
            ));
        }
    }
    Ok((out, search))
}

/// The contract's sampling fields from `generationConfig`; the fields it has
/// no place for go on in `extra.generationConfig`.
fn generation_config(config: &Value, chat: &mut ChatRequest) -> Result<(), ApiError> {
    let Some(config) = config.as_object() else {
        return Err(invalid("generationConfig", "must be an object."));
    };
    let mut rest: Map<String, Value> = Map::new();
    let float = |value: &Value, name: &str| {
        value
            .as_f64()
            .map(|v| v as f32)
            .ok_or_else(|| invalid(&format!("generationConfig.{name}"), "must be a number."))
    };
    let integer = |value: &Value, name: &str| {
        value
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                invalid(
                    &format!("generationConfig.{name}"),
                    "must be a whole number.",
                )
            })
    };
    for (key, value) in config {
        if value.is_null() {
            continue;
        }
        let sampling = &mut chat.sampling;
        match key.as_str() {
            "temperature" => sampling.temperature = Some(float(value, key)?),
            "topP" | "top_p" => sampling.top_p = Some(float(value, key)?),
            "topK" | "top_k" => sampling.top_k = Some(integer(value, key)?),
            "maxOutputTokens" | "max_output_tokens" => {
                sampling.max_tokens = Some(integer(value, key)?)
            }
            "presencePenalty" | "presence_penalty" => {
                sampling.presence_penalty = Some(float(value, key)?)
            }
            "frequencyPenalty" | "frequency_penalty" => {
                sampling.frequency_penalty = Some(float(value, key)?)
            }
            "seed" => {
                sampling.seed =
                    Some(value.as_i64().ok_or_else(|| {
                        invalid("generationConfig.seed", "must be a whole number.")
                    })?)
            }
            "stopSequences" | "stop_sequences" => {
                chat.stop = value
                    .as_array()
                    .map(|stops| {
                        stops
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
            }
            "candidateCount" | "candidate_count" if value.as_u64() != Some(1) => {
                return Err(invalid(
                    "generationConfig.candidateCount",
                    "only 1 candidate is served by this gateway.",
                ));
            }
            "candidateCount" | "candidate_count" => {}
            _ => {
                rest.insert(key.clone(), value.clone());
            }
        }
    }
    // The thinking asked for, also as the contract's reasoning effort (for
    // plugins other than Gemini's, which get `thinkingConfig` as it came).
    let thinking = rest
        .get("thinkingConfig")
        .or_else(|| rest.get("thinking_config"));
    let effort = thinking.and_then(|thinking| {
        let level = field(thinking, "thinkingLevel", "thinking_level").and_then(Value::as_str);
        let budget = field(thinking, "thinkingBudget", "thinking_budget").and_then(Value::as_i64);
        match (level, budget) {
            (Some(level), _) => Some(level.to_ascii_lowercase()),
            // -1 is Gemini's "as the model sees fit": no effort to name.
            (None, Some(budget)) if budget >= 0 => {
                Some(effort_for_budget(u32::try_from(budget).unwrap_or(u32::MAX)).to_string())
            }
            _ => None,
        }
    });
    if let Some(effort) = effort {
        set_reasoning_effort(chat, &effort);
    }
    if !rest.is_empty() {
        set_extra(chat, "generationConfig", Value::Object(rest));
    }
    Ok(())
}

/// The Gemini API as a front door.
struct Gemini {
    model: String,
    /// `alt=sse`: SSE frames; otherwise one JSON array.
    sse: bool,
}

fn finish_reason(reason: Option<FinishReason>) -> &'static str {
    match reason {
        Some(FinishReason::Length) => "MAX_TOKENS",
        Some(FinishReason::ContentFilter) => "SAFETY",
        Some(FinishReason::Other) => "OTHER",
        _ => "STOP",
    }
}

fn usage_metadata(usage: &Usage) -> Value {
    let mut metadata = json!({
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage
            .completion_tokens
            .saturating_sub(usage.reasoning_tokens.unwrap_or(0)),
        "totalTokenCount": usage.total_tokens,
    });
    if let Some(thoughts) = usage.reasoning_tokens {
        metadata["thoughtsTokenCount"] = thoughts.into();
    }
    metadata
}

fn inline_data(media: &crate::runtime::bindings::Media) -> Value {
    json!({ "inlineData": {
        "mimeType": media.mime_type,
        "data": base64::engine::general_purpose::STANDARD.encode(&media.data),
    } })
}

/// Tool calls assembled from their pieces, in the order they began.
#[derive(Default)]
struct Calls {
    calls: Vec<AssembledCall>,
}

#[derive(Default)]
struct AssembledCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
    /// The thought signature, as the plugin attached it.
    provider_data: Option<String>,
}

impl Calls {
    fn add(&mut self, delta: &crate::runtime::bindings::ToolCallDelta) {
        let at = match self.calls.iter().position(|call| call.index == delta.index) {
            Some(at) => at,
            None => {
                self.calls.push(AssembledCall {
                    index: delta.index,
                    ..AssembledCall::default()
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at];
        if let Some(id) = &delta.id {
            call.id = id.clone();
        }
        if let Some(name) = &delta.name {
            call.name.push_str(name);
        }
        call.arguments.push_str(&delta.arguments);
        if let Some(data) = provider_data(delta) {
            call.provider_data = Some(data.to_string());
        }
    }

    /// `functionCall` parts, each with its thought signature.
    fn parts(&self) -> Vec<Value> {
        self.calls
            .iter()
            .map(|call| {
                let args = serde_json::from_str::<Value>(&call.arguments)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({}));
                let mut part = json!({ "functionCall": { "name": call.name, "args": args } });
                if !call.id.is_empty() {
                    part["functionCall"]["id"] = call.id.as_str().into();
                }
                if let Some(signature) = &call.provider_data {
                    part["thoughtSignature"] = signature.as_str().into();
                }
                part
            })
            .collect()
    }
}

fn response(
    model: &str,
    id: &str,
    parts: Vec<Value>,
    finish: Option<&str>,
    usage: Option<&Usage>,
) -> Value {
    let mut candidate = json!({ "index": 0 });
    if !parts.is_empty() {
        candidate["content"] = json!({ "role": "model", "parts": parts });
    }
    if let Some(finish) = finish {
        candidate["finishReason"] = finish.into();
    }
    let mut out = json!({ "candidates": [candidate], "modelVersion": model, "responseId": id });
    if let Some(usage) = usage {
        out["usageMetadata"] = usage_metadata(usage);
    }
    out
}

impl Door for Gemini {
    type Encoder = ChunkStream;

    fn encoder(&self, shape: &Shape) -> ChunkStream {
        ChunkStream {
            model: self.model.clone(),
            id: new_id(""),
            sse: self.sse,
            opened: false,
            written: 0,
            drop_thoughts: shape.reasoning == ReasoningMode::Drop,
            calls: Calls::default(),
            usage: None,
            finish: None,
        }
    }

    fn whole(&self, events: Vec<Event>, shape: &Shape) -> Response {
        let mut parts: Vec<Value> = Vec::new();
        let mut calls = Calls::default();
        let (mut usage, mut finish) = (None, None);
        // Pieces of the same kind in a row make one part.
        let push_text = |parts: &mut Vec<Value>, text: &str, thought: bool| {
            if let Some(last) = parts.last_mut()
                && last.get("text").is_some()
                && last.get("thought").is_some() == thought
            {
                let joined = format!("{}{text}", last["text"].as_str().unwrap_or_default());
                last["text"] = joined.into();
                return;
            }
            let mut part = json!({ "text": text });
            if thought {
                part["thought"] = true.into();
            }
            parts.push(part);
        };
        for event in events {
            match event {
                Event::Text(text) if !text.is_empty() => push_text(&mut parts, &text, false),
                Event::Reasoning(text) if !text.is_empty() => {
                    if shape.reasoning != ReasoningMode::Drop {
                        push_text(&mut parts, &text, true);
                    }
                }
                Event::ToolCall(delta) => calls.add(&delta),
                Event::Image(media) => parts.push(inline_data(&media)),
                Event::Usage(u) => usage = Some(u),
                Event::Finish(reason) => finish = Some(reason),
                Event::ReasoningSignature(signature) => {
                    if shape.reasoning == ReasoningMode::Drop {
                        continue;
                    }
                    match parts
                        .iter_mut()
                        .rev()
                        .find(|part| part.get("thought").is_some())
                    {
                        Some(part) => part["thoughtSignature"] = signature.into(),
                        None => parts.push(json!({
                            "text": "", "thought": true, "thoughtSignature": signature,
                        })),
                    }
                }
                // Grounding sources: not carried by this door yet.
                Event::Text(_) | Event::Reasoning(_) | Event::Citation(_) => {}
            }
        }
        parts.extend(calls.parts());
        axum::Json(response(
            &self.model,
            &new_id(""),
            parts,
            Some(finish_reason(finish)),
            usage.as_ref(),
        ))
        .into_response()
    }
}

/// One streamed answer as `GenerateContentResponse` chunks. Tool calls are
/// sent whole with the last chunk, as Gemini sends a `functionCall` part
/// whole.
struct ChunkStream {
    model: String,
    id: String,
    sse: bool,
    /// The JSON array's `[` is out.
    opened: bool,
    /// Chunks written.
    written: usize,
    drop_thoughts: bool,
    calls: Calls,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl ChunkStream {
    /// One chunk in the stream's framing.
    fn frame(&mut self, chunk: &Value) -> Vec<u8> {
        let json = serde_json::to_vec(chunk).unwrap_or_default();
        let mut out = Vec::with_capacity(json.len() + 8);
        if self.sse {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&json);
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            if !self.opened {
                out.push(b'[');
                self.opened = true;
            } else if self.written > 0 {
                out.extend_from_slice(b",\r\n");
            }
            out.extend_from_slice(&json);
        }
        self.written += 1;
        out
    }

    fn part(&mut self, part: Value) -> Vec<u8> {
        let chunk = response(&self.model, &self.id, vec![part], None, None);
        self.frame(&chunk)
    }
}

impl StreamEncoder for ChunkStream {
    fn content_type(&self) -> &'static str {
        if self.sse {
            "text/event-stream"
        } else {
            "application/json"
        }
    }

    /// Whitespace is valid anywhere between a JSON array's elements.
    fn keep_alive(&self) -> &'static [u8] {
        if self.sse {
            crate::api::heartbeat::COMMENT
        } else {
            b"\n"
        }
    }

    fn begin(&mut self) -> Vec<u8> {
        if self.sse {
            Vec::new()
        } else {
            self.opened = true;
            b"[".to_vec()
        }
    }

    fn event(&mut self, event: Event) -> Vec<u8> {
        match event {
            Event::Text(text) if !text.is_empty() => self.part(json!({ "text": text })),
            Event::Reasoning(text) if !text.is_empty() && !self.drop_thoughts => {
                self.part(json!({ "text": text, "thought": true }))
            }
            Event::Image(media) => self.part(inline_data(&media)),
            Event::ToolCall(delta) => {
                self.calls.add(&delta);
                Vec::new()
            }
            Event::Usage(usage) => {
                self.usage = Some(usage);
                Vec::new()
            }
            Event::Finish(reason) => {
                self.finish = Some(reason);
                Vec::new()
            }
            Event::ReasoningSignature(signature) if !self.drop_thoughts => self.part(json!({
                "text": "", "thought": true, "thoughtSignature": signature,
            })),
            // Grounding sources: not carried by this door yet.
            Event::ReasoningSignature(_) | Event::Citation(_) => Vec::new(),
            Event::Text(_) | Event::Reasoning(_) => Vec::new(),
        }
    }

    fn end(&mut self) -> Vec<u8> {
        let last = response(
            &self.model,
            &self.id,
            self.calls.parts(),
            Some(finish_reason(self.finish)),
            self.usage.as_ref(),
        );
        let mut out = self.frame(&last);
        if !self.sse {
            out.push(b']');
        }
        out
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        let json = error.to_json_as(Dialect::Google);
        if self.sse {
            let mut out = b"data: ".to_vec();
            out.extend_from_slice(&json);
            out.extend_from_slice(b"\r\n\r\n");
            return out;
        }
        let mut out = Vec::new();
        if !self.opened {
            out.push(b'[');
        } else if self.written > 0 {
            out.extend_from_slice(b",\r\n");
        }
        out.extend_from_slice(&json);
        out.push(b']');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_responses_answer_the_call_of_their_id_else_the_earliest_of_their_name() {
        let request = json!({ "contents": [
            { "role": "user", "parts": [{ "text": "weather in Paris and Rome?" }] },
            { "role": "model", "parts": [
                { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } }, "thoughtSignature": "c2ln" },
                { "functionCall": { "name": "get_weather", "args": { "city": "Rome" } } },
                { "functionCall": { "id": "fc-9", "name": "get_time", "args": {} } },
            ] },
            { "role": "user", "parts": [
                { "functionResponse": { "id": "fc-9", "name": "get_time", "response": { "t": 1 } } },
                { "functionResponse": { "name": "get_weather", "response": { "sky": "sun" } } },
                { "functionResponse": { "name": "get_weather", "response": { "sky": "rain" } } },
            ] },
        ] });
        let chat = convert(&request, "m", false).unwrap();
        let calls = &chat.messages[1].tool_calls;
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#);
        let answered: Vec<(&str, &str)> = chat.messages[2..]
            .iter()
            .map(|m| {
                let ContentPart::Text(text) = &m.content[0] else {
                    panic!()
                };
                (m.tool_call_id.as_deref().unwrap(), text.as_str())
            })
            .collect();
        assert_eq!(answered[0], (calls[2].id.as_str(), r#"{"t":1}"#));
        assert_eq!(answered[1], (calls[0].id.as_str(), r#"{"sky":"sun"}"#));
        assert_eq!(answered[2], (calls[1].id.as_str(), r#"{"sky":"rain"}"#));

        let orphan = json!({ "contents": [
            { "role": "user", "parts": [{ "functionResponse": { "name": "f", "response": {} } }] },
        ] });
        let error = convert(&orphan, "m", false).unwrap_err();
        assert!(
            error.message.contains("answers no earlier functionCall"),
            "{}",
            error.message
        );
    }

    #[test]
    fn generation_config_maps_what_the_contract_has_and_passes_the_rest_on() {
        let request = json!({
            "contents": [{ "parts": [{ "text": "hi" }] }],
            "generationConfig": { "temperature": 0.2, "maxOutputTokens": 50, "stopSequences": ["END"],
                "thinkingConfig": { "thinkingBudget": 0 }, "responseMimeType": "application/json" },
            "tools": [{ "googleSearch": {} }],
        });
        let chat = convert(&request, "m", false).unwrap();
        assert_eq!(chat.sampling.temperature, Some(0.2));
        assert_eq!(chat.sampling.max_tokens, Some(50));
        assert_eq!(chat.stop, ["END"]);
        let extra: Value = serde_json::from_str(chat.extra.as_deref().unwrap()).unwrap();
        assert_eq!(
            extra["generationConfig"]["thinkingConfig"]["thinkingBudget"],
            0
        );
        assert_eq!(
            extra["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert!(extra["generationConfig"].get("temperature").is_none());
        assert_eq!(extra["web_search_options"], json!({}));
        assert!(matches!(
            chat.reasoning_effort,
            Some(crate::runtime::bindings::ReasoningEffort::None)
        ));
        let two = json!({ "contents": [{ "parts": [{ "text": "hi" }] }],
            "generationConfig": { "candidateCount": 2 } });
        assert_eq!(convert(&two, "m", false).unwrap_err().status, 400);
    }
}
