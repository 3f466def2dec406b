//! `POST /v1/chat/completions`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::{self, BoxStream, Stream};

use super::AppState;
use super::error::{ApiError, from_call};
use super::heartbeat;
use super::reasoning::{Reasoning, Shaped};
use super::request::ChatCompletionRequest;
use super::response::{
    Annotation, AssistantMessage, ChunkWriter, Completion, CompletionChoice, Delta, ExtraContent,
    FunctionWhole, SSE_DONE, ToolCallOut, ToolCallWhole, completion_id, finish_reason,
    image_markdown, sse_data,
};
use super::slow_reader;
use super::tool_memory::{CallerTag, Recorder};
use crate::config::{ImageMode, ReasoningMode};
use crate::dispatch::{self, Started};
use crate::media::Media;
use crate::pool::Lease;
use crate::runtime::Session;
use crate::runtime::bindings::{Event, FinishReason, Usage};

/// The header that says which plugin version served a response.
pub const SERVED_BY: &str = "x-wasmgate-plugin";

/// What the access log and the metrics call a request no plugin answered.
pub const NO_PLUGIN: &str = "(no plugin answered)";

pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Option<Extension<CallerTag>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut asked = None;
    let caller = caller.map_or_else(|| CallerTag::of_key(None), |Extension(tag)| tag);
    match serve(state, caller, headers, body, &mut asked).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = error.into_response();
            // A failed request still counts for its model.
            if let Some((model, stream)) = asked {
                response.extensions_mut().insert(super::access_log::Served {
                    model,
                    plugin: NO_PLUGIN.to_string(),
                    account: String::new(),
                    stream,
                });
            }
            response
        }
    }
}

async fn serve(
    state: AppState,
    caller: CallerTag,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    asked: &mut Option<(String, bool)>,
) -> Result<Response, ApiError> {
    let max_request = state.runtime.limits().max_request;
    let ends_at = tokio::time::Instant::now() + max_request;
    let overtime = || ApiError {
        status: StatusCode::GATEWAY_TIMEOUT,
        ..ApiError::invalid_request(format!(
            "The request took longer than this gateway allows ({} s, [runtime] max-request-secs).",
            max_request.as_secs_f64()
        ))
    };
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.max_body_bytes)
        } else {
            ApiError::invalid_request(rejection.body_text())
        }
    })?;
    let request = ChatCompletionRequest::parse(&body)?;
    *asked = Some((request.model.clone(), request.stream));
    // Converted (and validated) once, before routing, so a malformed request
    // is a 400 whatever its model; the dispatcher sets the upstream name.
    let mut chat = request.to_chat_request(&request.model)?;
    state.tool_memory.restore(&caller, &mut chat);
    let registry = state.registry.load_full();
    let resolution = registry.resolve(&request.model)?;
    let primary = resolution.targets[0].entry.plugin.name.to_string();
    let policy = super::answers::policy(&registry, &request.model, &primary);
    crate::media::fetch::inline_urls(&mut chat, &policy.fetch).await?;
    let shape = Shape {
        reasoning: policy.reasoning,
        images: Images::new(policy.images, &state.media, &headers),
        calls: Arc::new(Recorder::new(state.tool_memory.clone(), caller)),
    };

    let idle = state.runtime.limits().idle_timeout;
    // Who serves it: unknown yet for a stream that started after heartbeats.
    let (mut response, served) = if request.stream {
        let runtime = state.runtime.clone();
        let start = async move { dispatch::start(&runtime, &resolution, chat).await };
        let early = match policy.heartbeat {
            Some(every) => heartbeat::within(start, every).await,
            None => Ok(start.await),
        };
        let (model, include_usage) = (request.model.clone(), request.include_usage());
        let (frames, served) = match early {
            Ok(started) => {
                let started = started.map_err(ApiError::from)?;
                let served = (
                    started.served_by.clone(),
                    started.lease.account().id.clone(),
                );
                let streaming = Streaming::new(started, &model, include_usage, idle, shape);
                (stream_frames(streaming).boxed(), Some(served))
            }
            Err(start) => {
                let late = Late {
                    model,
                    include_usage,
                    idle,
                    shape,
                };
                (late.frames(start), None)
            }
        };
        let frames = match policy.heartbeat {
            Some(every) => heartbeat::keep_alive(frames, every).boxed(),
            None => frames,
        };
        // Frames the plugin yields back to back (events it had already read)
        // go out in one write; a frame never waits for a later one.
        let frames = frames.ready_chunks(64).map(|batch| {
            let mut joined = Vec::with_capacity(batch.iter().map(Bytes::len).sum());
            for frame in batch {
                joined.extend_from_slice(&frame);
            }
            Ok::<_, Infallible>(Bytes::from(joined))
        });
        let frames = slow_reader::bounded(frames, idle, ends_at, sse_data(&overtime().to_json()));
        let mut response = Response::new(Body::from_stream(frames));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        (response, served)
    } else {
        let answer = tokio::time::timeout_at(
            ends_at,
            dispatch::complete(&state.runtime, &resolution, chat, idle),
        )
        .await
        .map_err(|_| overtime())?
        .map_err(ApiError::from)?;
        if let Some(usage) = dispatch::last_usage(&answer.events) {
            record_tokens(&request.model, &answer.served_by, &answer.account, usage);
        }
        let completion = completion(answer.events, &request.model, &shape).into_response();
        (completion, Some((answer.served_by, answer.account)))
    };
    let (served_by, account) = match served {
        Some((served_by, account)) => {
            let label =
                HeaderValue::from_str(&served_by).unwrap_or(HeaderValue::from_static("unknown"));
            response.headers_mut().insert(SERVED_BY, label);
            (served_by, account)
        }
        None => (
            "(after heartbeats)".to_string(),
            "(after heartbeats)".to_string(),
        ),
    };
    response.extensions_mut().insert(super::access_log::Served {
        model: request.model.clone(),
        plugin: served_by,
        account,
        stream: request.stream,
    });
    Ok(response)
}

/// A stream with no first event within a heartbeat interval: it is answered
/// 200 at once and kept alive by heartbeats while the dispatch goes on; a
/// failure from then on is an error frame, like one after the first event.
struct Late {
    model: String,
    include_usage: bool,
    idle: Duration,
    shape: Shape,
}

impl Late {
    fn frames<F>(self, start: std::pin::Pin<Box<F>>) -> BoxStream<'static, Bytes>
    where
        F: Future<Output = Result<Started, dispatch::Exhausted>> + Send + 'static,
    {
        stream::once(start)
            .flat_map(move |started| match started {
                Ok(started) => {
                    tracing::info!(
                        plugin = %started.served_by,
                        account = %started.lease.account().id,
                        "stream started after heartbeats"
                    );
                    let streaming = Streaming::new(
                        started,
                        &self.model,
                        self.include_usage,
                        self.idle,
                        self.shape.clone(),
                    );
                    stream_frames(streaming).boxed()
                }
                Err(exhausted) => {
                    let error = ApiError::from(exhausted);
                    tracing::warn!(
                        "stream failed before its first event, after heartbeats: {}",
                        error.message
                    );
                    stream::once(async move { sse_data(&error.to_json()) }).boxed()
                }
            })
            .boxed()
    }
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
    /// The model name the caller asked for.
    model: String,
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
    reasoning: Reasoning,
    images: Images,
    calls: Arc<Recorder>,
}

/// How an answer is shaped for its client (`[answers]`).
#[derive(Clone)]
struct Shape {
    reasoning: ReasoningMode,
    images: Images,
    /// Remembers the provider data of the answer's tool calls.
    calls: Arc<Recorder>,
}

/// Where generated images go: inline, or to the store with a link.
#[derive(Clone)]
enum Images {
    Inline,
    Stored {
        store: std::sync::Arc<crate::media::MediaStore>,
        base: String,
    },
}

impl Images {
    fn new(mode: ImageMode, media: &Media, headers: &HeaderMap) -> Self {
        match (mode, &media.store) {
            (ImageMode::Url, Some(store)) => Images::Stored {
                store: store.clone(),
                base: media.base_for(headers),
            },
            _ => Images::Inline,
        }
    }

    /// The Markdown for one image; a store that fails falls back to inline.
    fn markdown(&self, media: &crate::runtime::bindings::Media) -> String {
        if let Images::Stored { store, base } = self {
            match store.save(&media.mime_type, &media.data) {
                Ok(name) => return format!("![image]({base}/media/{name})"),
                Err(err) => tracing::warn!("image sent inline: cannot store it: {err}"),
            }
        }
        image_markdown(media)
    }
}

impl Streaming {
    fn new(
        started: Started,
        model: &str,
        include_usage: bool,
        idle: Duration,
        shape: Shape,
    ) -> Self {
        Streaming {
            model: model.to_string(),
            plugin: started.served_by,
            session: started.session,
            pending: started.first,
            lease: started.lease,
            writer: ChunkWriter::new(model),
            include_usage,
            usage: None,
            finish: None,
            saw_tool_call: false,
            idle,
            reasoning: Reasoning::new(shape.reasoning),
            images: shape.images,
            calls: shape.calls,
        }
    }
}

/// The SSE body: each frame is written as soon as the plugin yields its event.
fn stream_frames(streaming: Streaming) -> impl Stream<Item = Bytes> + Send + 'static {
    stream::unfold(Phase::Role(Box::new(streaming)), |phase| async move {
        match phase {
            Phase::Done => None,
            Phase::Role(streaming) => {
                let frame = streaming.writer.delta(Delta {
                    role: Some("assistant"),
                    content: Some("".into()),
                    ..Delta::default()
                });
                Some((frame, Phase::Events(streaming)))
            }
            Phase::Events(mut streaming) => {
                let (frame, done) = streaming.step().await;
                Some((
                    frame,
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
                    if let Some(usage) = &self.usage {
                        record_tokens(&self.model, &self.plugin, &self.lease.account().id, usage);
                    }
                    let mut out = self
                        .close_reasoning()
                        .map(|f| f.to_vec())
                        .unwrap_or_default();
                    out.extend_from_slice(&self.ending());
                    return (Bytes::from(out), true);
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
                self.calls.see(&call);
                Some(writer.delta(Delta {
                    tool_calls: Some([ToolCallOut::from(&call)]),
                    ..Delta::default()
                }))
            }
            Event::Image(media) => Some(writer.delta(Delta {
                content: Some(self.images.markdown(&media).into()),
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
                shape.calls.see(&delta);
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

/// Tokens an answer used, for the console's per-model and per-window counts.
fn record_tokens(model: &str, served_by: &str, account: &str, usage: &Usage) {
    crate::metrics::global().tokens(crate::metrics::TokenRecord {
        at: crate::clock::unix_millis(),
        model: model.to_string(),
        plugin: served_by.split('@').next().unwrap_or(served_by).to_string(),
        account: account.to_string(),
        prompt: u64::from(usage.prompt_tokens),
        completion: u64::from(usage.completion_tokens),
    });
}
