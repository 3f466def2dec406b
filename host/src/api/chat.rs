//! `POST /v1/chat/completions`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::{self, Stream};

use super::AppState;
use super::error::{ApiError, from_call};
use super::request::ChatCompletionRequest;
use super::response::{
    AssistantMessage, ChunkWriter, Completion, CompletionChoice, Delta, FunctionWhole, SSE_DONE,
    ToolCallOut, ToolCallWhole, completion_id, finish_reason, image_markdown, sse_data,
};
use crate::dispatch;
use crate::pool::Lease;
use crate::runtime::Session;
use crate::runtime::bindings::{Event, FinishReason, Usage};

/// The header that says which plugin version served a response.
pub const SERVED_BY: &str = "x-wasmgate-plugin";

pub async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.max_body_bytes)
        } else {
            ApiError::invalid_request(rejection.body_text())
        }
    })?;
    let request = ChatCompletionRequest::parse(&body)?;
    // Converted (and validated) once, before routing, so a malformed request
    // is a 400 whatever its model; the dispatcher sets the upstream name.
    let chat = request.to_chat_request(&request.model)?;
    let registry = state.registry.load_full();
    let resolution = registry.resolve(&request.model)?;

    let idle = state.runtime.limits().idle_timeout;
    let (mut response, served_by, account) = if request.stream {
        let started = dispatch::start(&state.runtime, &resolution, chat)
            .await
            .map_err(ApiError::from)?;
        let served_by = started.served_by.clone();
        let account = started.lease.account().id.clone();
        let streaming = Streaming {
            session: started.session,
            pending: started.first,
            lease: started.lease,
            writer: ChunkWriter::new(&request.model),
            include_usage: request.include_usage(),
            usage: None,
            finish: None,
            saw_tool_call: false,
            idle,
            plugin: served_by.clone(),
        };
        // Frames the plugin yields back to back (events it had already read)
        // go out in one write; a frame never waits for a later one.
        let frames = stream_frames(streaming).ready_chunks(64).map(|batch| {
            let mut joined =
                Vec::with_capacity(batch.iter().map(|f| f.as_ref().map_or(0, Bytes::len)).sum());
            for frame in batch.into_iter().flatten() {
                joined.extend_from_slice(&frame);
            }
            Ok::<_, Infallible>(Bytes::from(joined))
        });
        let mut response = Response::new(Body::from_stream(frames));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        (response, served_by, account)
    } else {
        let answer = dispatch::complete(&state.runtime, &resolution, chat, idle)
            .await
            .map_err(ApiError::from)?;
        let completion = completion(answer.events, &request.model).into_response();
        (completion, answer.served_by, answer.account)
    };
    let label = HeaderValue::from_str(&served_by).unwrap_or(HeaderValue::from_static("unknown"));
    response.headers_mut().insert(SERVED_BY, label);
    response.extensions_mut().insert(super::access_log::Served {
        model: request.model.clone(),
        plugin: served_by,
        account,
        stream: request.stream,
    });
    Ok(response)
}

/// Where a stream is.
enum Phase {
    /// The assistant-role frame is next.
    Role(Box<Streaming>),
    /// Pulling events.
    Events(Box<Streaming>),
    Done,
}

struct Streaming {
    session: Session,
    /// The first event, already pulled by the dispatcher.
    pending: Option<Event>,
    /// The account serving it, told how the stream ends.
    lease: Lease,
    writer: ChunkWriter,
    include_usage: bool,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    saw_tool_call: bool,
    idle: Duration,
    plugin: String,
}

/// The SSE body: each frame is written as soon as the plugin yields its event.
fn stream_frames(streaming: Streaming) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    stream::unfold(Phase::Role(Box::new(streaming)), |phase| async move {
        match phase {
            Phase::Done => None,
            Phase::Role(streaming) => {
                let frame = streaming.writer.delta(Delta {
                    role: Some("assistant"),
                    content: Some("".into()),
                    ..Delta::default()
                });
                Some((Ok(frame), Phase::Events(streaming)))
            }
            Phase::Events(mut streaming) => {
                let (frame, done) = streaming.step().await;
                Some((
                    Ok(frame),
                    if done {
                        Phase::Done
                    } else {
                        Phase::Events(streaming)
                    },
                ))
            }
        }
    })
}

impl Streaming {
    /// The next frame(s) to write, and whether the stream ends after them.
    async fn step(&mut self) -> (Bytes, bool) {
        loop {
            let event = match self.pending.take() {
                Some(event) => Ok(Some(event)),
                None => self.session.next(self.idle).await,
            };
            match event {
                Ok(Some(event)) => {
                    if let Some(frame) = self.frame_for(event) {
                        return (frame, false);
                    }
                }
                Ok(None) => {
                    self.lease.finished(self.usage.as_ref());
                    return (self.ending(), true);
                }
                Err(error) => {
                    // Not retried: the client already has part of the answer.
                    self.lease.failed(&error);
                    let error = from_call(&self.plugin, &error);
                    tracing::warn!(plugin = %self.plugin, "stream failed after it started: {}", error.message);
                    return (sse_data(&error.to_json()), true);
                }
            }
        }
    }

    fn frame_for(&mut self, event: Event) -> Option<Bytes> {
        let writer = &self.writer;
        match event {
            Event::Text(text) if !text.is_empty() => Some(writer.delta(Delta {
                content: Some(text.into()),
                ..Delta::default()
            })),
            Event::Reasoning(text) if !text.is_empty() => Some(writer.delta(Delta {
                reasoning_content: Some(&text),
                ..Delta::default()
            })),
            Event::ToolCall(call) => {
                self.saw_tool_call = true;
                Some(writer.delta(Delta {
                    tool_calls: Some([ToolCallOut::from(&call)]),
                    ..Delta::default()
                }))
            }
            Event::Image(media) => Some(writer.delta(Delta {
                content: Some(image_markdown(&media).into()),
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
            Event::Text(_) | Event::Reasoning(_) => None,
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
fn completion(events: Vec<Event>, model: &str) -> axum::Json<Completion> {
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut calls: BTreeMap<u32, ToolCallWhole> = BTreeMap::new();
    let mut usage = None;
    let mut finish = None;
    for event in events {
        match event {
            Event::Text(text) => content.push_str(&text),
            Event::Reasoning(text) => reasoning.push_str(&text),
            Event::ToolCall(delta) => {
                let call = calls.entry(delta.index).or_insert_with(|| ToolCallWhole {
                    id: String::new(),
                    kind: "function",
                    function: FunctionWhole {
                        name: String::new(),
                        arguments: String::new(),
                    },
                });
                if let Some(id) = delta.id {
                    call.id = id;
                }
                if let Some(name) = delta.name {
                    call.function.name.push_str(&name);
                }
                call.function.arguments.push_str(&delta.arguments);
            }
            Event::Image(media) => content.push_str(&image_markdown(&media)),
            Event::Usage(u) => usage = Some(u),
            Event::Finish(reason) => finish = Some(reason),
        }
    }
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
            },
            finish_reason: reason,
        }],
        usage: usage.as_ref().map(Into::into),
    })
}
