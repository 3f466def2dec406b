//! Running one chat, whatever protocol the caller speaks.
//!
//! Every front door (OpenAI's chat completions, Anthropic's Messages, the
//! Gemini API, the Responses API, image generations) parses its own body into
//! the host's `ChatRequest` and hands it here with the caller's model name.
//! This module does what is the same for all of them: routing, the route's
//! answer options, fetching media URLs, dispatch over the pools (with
//! heartbeats while a stream waits for its first event), the slow-reader
//! guard, the request deadline, tokens and the access log's record. The door
//! only says how events become its bytes: a [`StreamEncoder`] for a stream,
//! [`Door::whole`] for a whole answer. Errors before an answer started come
//! back as [`ApiError`]s; the door's router renders them in its protocol's
//! shape (see `error::Dialect`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::{self, BoxStream, Stream};

use super::AppState;
use super::access_log::Served;
use super::error::{ApiError, from_call};
use super::heartbeat;
use super::response::image_markdown;
use super::slow_reader;
use super::tool_memory::{CallerTag, Recorder};
use crate::config::{ImageMode, ReasoningMode};
use crate::dispatch::{self, Started};
use crate::media::Media;
use crate::pool::Lease;
use crate::runtime::Session;
use crate::runtime::bindings::{ChatRequest, Event, Usage};

/// The header that says which plugin version served a response.
pub const SERVED_BY: &str = "x-wasmgate-plugin";

/// What the access log and the metrics call a request no plugin answered.
pub const NO_PLUGIN: &str = "(no plugin answered)";

/// One chat as a front door asks for it.
pub struct ChatCall {
    /// The request in the contract's terms; the dispatcher sets the
    /// upstream's model name on it.
    pub chat: ChatRequest,
    /// The model name the caller asked for: routing, logs and answers use it.
    pub model: String,
    pub stream: bool,
    /// Who asks: what the gateway keeps per caller (tool calls' provider
    /// data) is looked up and stored under this.
    pub caller: CallerTag,
}

/// How a front door writes a streamed answer. Each method returns the bytes
/// to send (possibly none); they go out as soon as they are returned.
pub trait StreamEncoder: Send + 'static {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    /// What is sent while nothing else is (`[answers] heartbeat-secs`): an
    /// SSE comment, which every SSE client ignores.
    fn keep_alive(&self) -> &'static [u8] {
        heartbeat::COMMENT
    }

    /// Once the answer has started, before its first event.
    fn begin(&mut self) -> Vec<u8>;

    /// One event of the answer.
    fn event(&mut self, event: Event) -> Vec<u8>;

    /// The answer ended normally.
    fn end(&mut self) -> Vec<u8>;

    /// The answer failed after the response's head was sent (possibly
    /// before `begin`, when it failed after heartbeats).
    fn fail(&mut self, error: &ApiError) -> Vec<u8>;
}

/// A front door's way of answering.
pub trait Door: Send + 'static {
    type Encoder: StreamEncoder;

    /// The writer of one streamed answer.
    fn encoder(&self, shape: &Shape) -> Self::Encoder;

    /// A whole answer, for a caller that does not stream.
    fn whole(&self, events: Vec<Event>, shape: &Shape) -> Response;
}

/// How an answer is shaped for its client (`[answers]`).
#[derive(Clone)]
pub struct Shape {
    pub reasoning: ReasoningMode,
    pub images: Images,
}

/// Where generated images go: inline, or to the store with a link.
#[derive(Clone)]
pub enum Images {
    Inline,
    Stored {
        store: std::sync::Arc<crate::media::MediaStore>,
        base: String,
    },
}

impl Images {
    pub fn new(mode: ImageMode, media: &Media, headers: &HeaderMap) -> Self {
        match (mode, &media.store) {
            (ImageMode::Url, Some(store)) => Images::Stored {
                store: store.clone(),
                base: media.base_for(headers),
            },
            _ => Images::Inline,
        }
    }

    /// The image stored, and its public URL; `None` when images stay inline
    /// (or the store fails: then they stay inline too).
    pub fn link(&self, media: &crate::runtime::bindings::Media) -> Option<String> {
        if let Images::Stored { store, base } = self {
            match store.save(&media.mime_type, &media.data) {
                Ok(name) => return Some(format!("{base}/media/{name}")),
                Err(err) => tracing::warn!("image sent inline: cannot store it: {err}"),
            }
        }
        None
    }

    /// The Markdown for one image: a link, or a `data:` URL.
    pub fn markdown(&self, media: &crate::runtime::bindings::Media) -> String {
        match self.link(media) {
            Some(url) => format!("![image]({url})"),
            None => image_markdown(media),
        }
    }
}

/// The body a handler was given, or the error saying why there is none.
pub fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.max_body_bytes)
        } else {
            ApiError::invalid_request(rejection.body_text())
        }
    })
}

/// A request refused before it was dispatched, still counted under the
/// model it asked for.
pub fn refused(error: ApiError, model: &str, stream: bool) -> Response {
    let mut response = error.into_response();
    response.extensions_mut().insert(Served {
        model: model.to_string(),
        plugin: NO_PLUGIN.to_string(),
        account: String::new(),
        stream,
    });
    response
}

/// Runs `call` and answers through `door`. Errors are rendered by
/// `ApiError`'s response (the door's router reshapes them).
pub async fn run<D: Door>(
    state: AppState,
    headers: HeaderMap,
    call: ChatCall,
    door: D,
) -> Response {
    let (model, stream) = (call.model.clone(), call.stream);
    match serve(state, headers, call, door).await {
        Ok(response) => response,
        Err(error) => refused(error, &model, stream),
    }
}

async fn serve<D: Door>(
    state: AppState,
    headers: HeaderMap,
    call: ChatCall,
    door: D,
) -> Result<Response, ApiError> {
    let ChatCall {
        mut chat,
        model,
        stream,
        caller,
    } = call;
    // Tool calls sent back without the provider data they were answered with.
    state.tool_memory.restore(&caller, &mut chat);
    let calls = Recorder::new(state.tool_memory.clone(), caller);
    let max_request = state.runtime.limits().max_request;
    let ends_at = tokio::time::Instant::now() + max_request;
    let overtime = || ApiError {
        status: StatusCode::GATEWAY_TIMEOUT,
        ..ApiError::invalid_request(format!(
            "The request took longer than this gateway allows ({} s, [runtime] max-request-secs).",
            max_request.as_secs_f64()
        ))
    };
    let registry = state.registry.load_full();
    let resolution = registry.resolve(&model)?;
    let primary = resolution.targets[0].entry.plugin.name.to_string();
    let policy = super::answers::policy(&registry, &model, &primary);
    crate::media::fetch::inline_urls(&mut chat, &policy.fetch).await?;
    let shape = Shape {
        reasoning: policy.reasoning,
        images: Images::new(policy.images, &state.media, &headers),
    };

    let idle = state.runtime.limits().idle_timeout;
    // Who serves it: unknown yet for a stream that started after heartbeats.
    let (mut response, served) = if stream {
        let mut encoder = door.encoder(&shape);
        let (content_type, beat) = (encoder.content_type(), encoder.keep_alive());
        let overtime_frame = Bytes::from(encoder.fail(&overtime()));
        let runtime = state.runtime.clone();
        let start = async move { dispatch::start(&runtime, &resolution, chat).await };
        let early = match policy.heartbeat {
            Some(every) => heartbeat::within(start, every).await,
            None => Ok(start.await),
        };
        let (frames, served) = match early {
            Ok(started) => {
                let started = started.map_err(ApiError::from)?;
                let served = (
                    started.served_by.clone(),
                    started.lease.account().id.clone(),
                );
                let streaming = Streaming::new(started, &model, idle, encoder, calls);
                (stream_frames(streaming).boxed(), Some(served))
            }
            Err(start) => (
                late_frames(start, model.clone(), idle, encoder, calls),
                None,
            ),
        };
        let frames = match policy.heartbeat {
            Some(every) => heartbeat::keep_alive(frames, every, beat).boxed(),
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
        let frames = slow_reader::bounded(frames, idle, ends_at, overtime_frame);
        let mut response = Response::new(Body::from_stream(frames));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
            record_tokens(&model, &answer.served_by, &answer.account, usage);
        }
        for event in &answer.events {
            if let Event::ToolCall(call) = event {
                calls.see(call);
            }
        }
        let whole = door.whole(answer.events, &shape);
        (whole, Some((answer.served_by, answer.account)))
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
    response.extensions_mut().insert(Served {
        model,
        plugin: served_by,
        account,
        stream,
    });
    Ok(response)
}

/// A stream with no first event within a heartbeat interval: it is answered
/// 200 at once and kept alive by heartbeats while the dispatch goes on; a
/// failure from then on is an error frame, like one after the first event.
fn late_frames<F, E>(
    start: std::pin::Pin<Box<F>>,
    model: String,
    idle: Duration,
    encoder: E,
    calls: Recorder,
) -> BoxStream<'static, Bytes>
where
    F: Future<Output = Result<Started, dispatch::Exhausted>> + Send + 'static,
    E: StreamEncoder,
{
    let frames = async move {
        match start.await {
            Ok(started) => {
                tracing::info!(
                    plugin = %started.served_by,
                    account = %started.lease.account().id,
                    "stream started after heartbeats"
                );
                let streaming = Streaming::new(started, &model, idle, encoder, calls);
                stream_frames(streaming).boxed()
            }
            Err(exhausted) => {
                let error = ApiError::from(exhausted);
                tracing::warn!(
                    "stream failed before its first event, after heartbeats: {}",
                    error.message
                );
                let mut encoder = encoder;
                let frame = Bytes::from(encoder.fail(&error));
                stream::once(async move { frame }).boxed()
            }
        }
    };
    stream::once(frames).flatten().boxed()
}

/// A started stream: the session, who serves it, and its writer.
struct Streaming<E> {
    /// The model name the caller asked for.
    model: String,
    session: Session,
    /// The first event, already pulled by the dispatcher.
    pending: Option<Event>,
    /// The account serving it, told how the stream ends.
    lease: Lease,
    usage: Option<Usage>,
    idle: Duration,
    plugin: String,
    encoder: E,
    /// Remembers the provider data of the answer's tool calls.
    calls: Recorder,
}

impl<E: StreamEncoder> Streaming<E> {
    fn new(started: Started, model: &str, idle: Duration, encoder: E, calls: Recorder) -> Self {
        Streaming {
            model: model.to_string(),
            plugin: started.served_by,
            session: started.session,
            pending: started.first,
            lease: started.lease,
            usage: None,
            idle,
            encoder,
            calls,
        }
    }

    /// The next bytes to write, and whether the stream ends after them:
    /// every event the plugin has already handed over (one batch of its
    /// `next()`), framed together, so a batch costs one write and one
    /// wake-up of the connection instead of one per event. It waits on the
    /// plugin only while it has nothing to write.
    async fn step(&mut self, mut out: Vec<u8>) -> (Bytes, bool) {
        loop {
            let event = match self.pending.take() {
                Some(event) => Ok(Some(event)),
                None if !out.is_empty() && !self.session.has_buffered_events() => {
                    return (Bytes::from(out), false);
                }
                None => self.session.next(self.idle).await,
            };
            match event {
                Ok(Some(event)) => {
                    match &event {
                        Event::Usage(usage) => self.usage = Some(*usage),
                        Event::ToolCall(call) => self.calls.see(call),
                        _ => {}
                    }
                    out.extend_from_slice(&self.encoder.event(event));
                }
                Ok(None) => {
                    self.lease.finished(self.usage.as_ref());
                    if let Some(usage) = &self.usage {
                        record_tokens(&self.model, &self.plugin, &self.lease.account().id, usage);
                    }
                    out.extend_from_slice(&self.encoder.end());
                    return (Bytes::from(out), true);
                }
                Err(error) => {
                    // Not retried: the client already has part of the answer.
                    self.lease.failed(&error);
                    let error = from_call(&self.plugin, &error);
                    tracing::warn!(plugin = %self.plugin, "stream failed after it started: {}", error.message);
                    out.extend_from_slice(&self.encoder.fail(&error));
                    return (Bytes::from(out), true);
                }
            }
        }
    }
}

/// Where a stream is.
enum Phase<E> {
    /// The encoder's opening is next.
    Begin(Box<Streaming<E>>),
    /// Pulling events.
    Events(Box<Streaming<E>>),
    Done,
}

/// The body: what the plugin yields is written as soon as it does.
fn stream_frames<E: StreamEncoder>(
    streaming: Streaming<E>,
) -> impl Stream<Item = Bytes> + Send + 'static {
    stream::unfold(Phase::Begin(Box::new(streaming)), |phase| async move {
        let (mut streaming, out) = match phase {
            Phase::Done => return None,
            // The opening goes out with the first event, already pulled.
            Phase::Begin(mut streaming) => {
                let opening = streaming.encoder.begin();
                (streaming, opening)
            }
            Phase::Events(streaming) => (streaming, Vec::new()),
        };
        let (frame, done) = streaming.step(out).await;
        Some((
            frame,
            if done {
                Phase::Done
            } else {
                Phase::Events(streaming)
            },
        ))
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
