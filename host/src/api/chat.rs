//! `POST /v1/chat/completions`: OpenAI's chat completions, parsed into the
//! host's request and written back as `chat.completion` or a stream of
//! `chat.completion.chunk` frames. Running the chat is [`super::chat_core`]'s.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::chat_core::{self, ChatCall, Door, Shape, StreamEncoder};
use super::error::ApiError;
use super::reasoning::{Reasoning, Shaped};
use super::request::ChatCompletionRequest;
use super::response::{
    Annotation, AssistantMessage, ChunkWriter, Completion, CompletionChoice, Delta, ExtraContent,
    FunctionWhole, SSE_DONE, ToolCallOut, ToolCallWhole, completion_id, finish_reason, sse_data,
};
use super::tool_memory::CallerTag;
use crate::runtime::bindings::{Event, FinishReason, Usage};

pub use chat_core::SERVED_BY;

pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Option<Extension<CallerTag>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match chat_core::body(&state, body) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let request = match ChatCompletionRequest::parse(&body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    // Converted (and validated) once, before routing, so a malformed request
    // is a 400 whatever its model; the dispatcher sets the upstream name.
    let chat = match request.to_chat_request(&request.model) {
        Ok(chat) => chat,
        Err(error) => return chat_core::refused(error, &request.model, request.stream),
    };
    let door = OpenAi {
        model: request.model.clone(),
        include_usage: request.include_usage(),
    };
    let call = ChatCall {
        chat,
        model: request.model,
        stream: request.stream,
        caller: CallerTag::from_extension(caller),
    };
    chat_core::run(state, headers, call, door).await
}

/// OpenAI's chat completions as a front door.
struct OpenAi {
    model: String,
    include_usage: bool,
}

impl Door for OpenAi {
    type Encoder = ChunkStream;

    fn encoder(&self, shape: &Shape) -> ChunkStream {
        ChunkStream {
            writer: ChunkWriter::new(&self.model),
            include_usage: self.include_usage,
            usage: None,
            finish: None,
            saw_tool_call: false,
            reasoning: Reasoning::new(shape.reasoning),
            shape: shape.clone(),
        }
    }

    fn whole(&self, events: Vec<Event>, shape: &Shape) -> Response {
        completion(events, &self.model, shape).into_response()
    }
}

/// One streamed answer as `chat.completion.chunk` frames.
struct ChunkStream {
    writer: ChunkWriter,
    include_usage: bool,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    saw_tool_call: bool,
    reasoning: Reasoning,
    shape: Shape,
}

impl StreamEncoder for ChunkStream {
    /// The assistant-role frame.
    fn begin(&mut self) -> Vec<u8> {
        self.writer
            .delta(Delta {
                role: Some("assistant"),
                content: Some("".into()),
                ..Delta::default()
            })
            .to_vec()
    }

    fn event(&mut self, event: Event) -> Vec<u8> {
        self.frame_for(event)
            .map(|frame| frame.to_vec())
            .unwrap_or_default()
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = self
            .close_reasoning()
            .map(|f| f.to_vec())
            .unwrap_or_default();
        out.extend_from_slice(&self.ending());
        out
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        sse_data(&error.to_json()).to_vec()
    }
}

impl ChunkStream {
    /// The `</think>` frame when reasoning was inline and something else follows.
    fn close_reasoning(&mut self) -> Option<Bytes> {
        let close = self.reasoning.close()?;
        Some(self.writer.delta(Delta {
            content: Some(close.into()),
            ..Delta::default()
        }))
    }

    fn frame_for(&mut self, event: Event) -> Option<Bytes> {
        let closing = match &event {
            Event::Text(text) if !text.is_empty() => self.close_reasoning(),
            Event::ToolCall(_) | Event::Image(_) => self.close_reasoning(),
            _ => None,
        };
        let writer = &self.writer;
        let frame = match event {
            Event::Text(text) if !text.is_empty() => Some(writer.delta(Delta {
                content: Some(text.into()),
                ..Delta::default()
            })),
            Event::Reasoning(text) if !text.is_empty() => match self.reasoning.piece(&text) {
                Shaped::Field(text) => Some(writer.delta(Delta {
                    reasoning_content: Some(&text),
                    ..Delta::default()
                })),
                Shaped::Content(text) => Some(writer.delta(Delta {
                    content: Some(text.into()),
                    ..Delta::default()
                })),
                Shaped::Nothing => None,
            },
            Event::ToolCall(call) => {
                self.saw_tool_call = true;
                Some(writer.delta(Delta {
                    tool_calls: Some([ToolCallOut::from(&call)]),
                    ..Delta::default()
                }))
            }
            Event::Image(media) => Some(writer.delta(Delta {
                content: Some(self.shape.images.markdown(&media).into()),
                ..Delta::default()
            })),
            Event::Usage(usage) => {
                self.usage = Some(usage);
                None
            }
            Event::Finish(reason) => {
                self.finish = Some(reason);
                None
            }
            Event::Citation(citation) => Some(writer.delta(Delta {
                annotations: Some([(&citation).into()]),
                ..Delta::default()
            })),
            // OpenAI's chat API has no place for a reasoning signature.
            Event::ReasoningSignature(_) => None,
            Event::Text(_) | Event::Reasoning(_) => None,
        };
        match (closing, frame) {
            (Some(close), Some(frame)) => Some(Bytes::from([&close[..], &frame[..]].concat())),
            (closing, frame) => frame.or(closing),
        }
    }

    /// The finish frame, the usage frame if asked for, and `[DONE]`.
    fn ending(&self) -> Bytes {
        let reason = match self.finish {
            Some(FinishReason::Stop) | None if self.saw_tool_call => "tool_calls",
            Some(reason) => finish_reason(reason),
            None => "stop",
        };
        let mut out = self.writer.finish(reason).to_vec();
        if self.include_usage {
            let usage = self.usage.unwrap_or(Usage {
                prompt_tokens: 0,
                completion_tokens: 0,
                reasoning_tokens: None,
                total_tokens: 0,
            });
            out.extend_from_slice(&self.writer.usage(&usage));
        }
        out.extend_from_slice(SSE_DONE);
        Bytes::from(out)
    }
}

/// A whole answer as a non-streaming reply.
fn completion(events: Vec<Event>, model: &str, shape: &Shape) -> axum::Json<Completion> {
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut calls: BTreeMap<u32, ToolCallWhole> = BTreeMap::new();
    let mut usage = None;
    let mut finish = None;
    let mut annotations = Vec::new();
    for event in events {
        match event {
            Event::Text(text) => content.push_str(&text),
            Event::Reasoning(text) => reasoning.push_str(&text),
            Event::ReasoningSignature(_) => {}
            Event::Citation(citation) => {
                let annotation = Annotation::from(&citation);
                annotations.push(serde_json::to_value(annotation).unwrap_or_default());
            }
            Event::ToolCall(delta) => {
                let call = calls.entry(delta.index).or_insert_with(|| ToolCallWhole {
                    id: String::new(),
                    kind: "function",
                    function: FunctionWhole {
                        name: String::new(),
                        arguments: String::new(),
                    },
                    extra_content: None,
                });
                if let Some(data) = &delta.provider_data {
                    call.extra_content = serde_json::to_value(ExtraContent::of(Some(data))).ok();
                }
                if let Some(id) = delta.id {
                    call.id = id;
                }
                if let Some(name) = delta.name {
                    call.function.name.push_str(&name);
                }
                call.function.arguments.push_str(&delta.arguments);
            }
            Event::Image(media) => content.push_str(&shape.images.markdown(&media)),
            Event::Usage(u) => usage = Some(u),
            Event::Finish(reason) => finish = Some(reason),
        }
    }
    let (content, reasoning) = Reasoning::whole(shape.reasoning, content, reasoning);
    let tool_calls: Vec<ToolCallWhole> = calls.into_values().collect();
    let reason = match finish {
        Some(FinishReason::Stop) | None if !tool_calls.is_empty() => "tool_calls",
        Some(reason) => finish_reason(reason),
        None => "stop",
    };
    axum::Json(Completion {
        id: completion_id(),
        object: "chat.completion",
        created: crate::clock::unix_seconds(),
        model: model.to_string(),
        choices: [CompletionChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: (!content.is_empty() || tool_calls.is_empty()).then_some(content),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                tool_calls,
                annotations,
            },
            finish_reason: reason,
        }],
        usage: usage.as_ref().map(Into::into),
    })
}
