//! The physical limit of this design: the gateway's shape without
//! WebAssembly.
//!
//! A separate process (the bench binary started with `--serve-native`)
//! serves OpenAI's `POST /v1/chat/completions` on hyper with the same
//! provider code the `gemini` plugin runs, compiled natively and called
//! directly: `gemini-format` builds the upstream request, its
//! `answer::StreamDecoder` turns the upstream's frames into events as they
//! arrive, and each event becomes a `chat.completion.chunk` frame. The
//! upstream is reached over a pooled keep-alive hyper client, and the
//! answer is decoded and written on the task that serves the caller.
//!
//! What it leaves out, on purpose: the sandbox (instance, store, canonical
//! ABI, wasi:http) and also the gateway's own bookkeeping (routing, account
//! pool, access log, metrics, slow-reader guard). So the gap between it and
//! the gateway is an upper bound on what the sandbox costs, and the gap
//! between it and direct is what any proxy doing this translation costs.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gemini_format::answer::StreamDecoder;
use gemini_format::{
    RequestOptions, build_request, search_base_model, upstream_model_id,
    validates_thought_signatures,
};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use plugin_gemini::endpoints;
use serde_json::{Value, json};
use wasmgate_plugin_sdk::{ChatRequest, Event, FinishReason, Message, Role};

type Upstream = Client<HttpConnector, Full<Bytes>>;
type Answer = BoxBody<Bytes, Infallible>;

/// Serves until the process is killed; prints `listening on http://…` first.
pub async fn serve(base_url: String) {
    let listener = crate::loopback_listener().expect("binding the native server");
    println!("listening on http://{}", listener.local_addr().unwrap());
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let upstream: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(http);
    let base_url: std::sync::Arc<str> = base_url.into();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (upstream, base_url) = (upstream.clone(), base_url.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let (upstream, base_url) = (upstream.clone(), base_url.clone());
                async move { Ok::<_, Infallible>(chat(&upstream, &base_url, request).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn chat(upstream: &Upstream, base_url: &str, request: Request<Incoming>) -> Response<Answer> {
    let Ok(body) = request.into_body().collect().await else {
        return refuse(StatusCode::BAD_REQUEST, "unreadable body");
    };
    let Some(chat) = parse(&body.to_bytes()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "not a chat request this bench knows",
        );
    };
    let model = upstream_model_id(search_base_model(&chat.model), None);
    let options = RequestOptions {
        file_uri_prefixes: endpoints::file_uri_prefixes(base_url),
        safety_threshold: None,
        file_data_needs_mime_type: false,
        thought_signature_fallback: validates_thought_signatures(&model),
    };
    let Ok(upstream_body) = build_request(&chat, &options).map(|v| serde_json::to_vec(&v).unwrap())
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the request does not map to Gemini",
        );
    };
    let outgoing = Request::post(endpoints::generate_url(base_url, &model, chat.stream))
        .header(endpoints::API_KEY_HEADER, "bench-key")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(upstream_body)))
        .unwrap();
    let answer = match upstream.request(outgoing).await {
        Ok(answer) if answer.status().is_success() => answer,
        _ => return refuse(StatusCode::BAD_GATEWAY, "the upstream failed"),
    };
    let writer = ChunkWriter::new(&chat.model);
    let frames = Frames {
        upstream: answer.into_body(),
        decoder: StreamDecoder::new(),
        pending: VecDeque::from([Bytes::from(writer.role())]),
        writer,
        finish: None,
        done: false,
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(frames.boxed())
        .unwrap()
}

/// The OpenAI request the bench sends: model, stream and text messages.
fn parse(body: &[u8]) -> Option<ChatRequest> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let messages = value["messages"]
        .as_array()?
        .iter()
        .map(|message| {
            let role = match message["role"].as_str()? {
                "system" => Role::System,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                _ => Role::User,
            };
            Some(Message::text(role, message["content"].as_str()?))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ChatRequest::new(
        value["model"].as_str()?,
        messages,
        value["stream"].as_bool().unwrap_or(false),
    ))
}

fn refuse(status: StatusCode, message: &str) -> Response<Answer> {
    let body = json!({"error": {"message": message}}).to_string();
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap()
}

/// The answer's frames, decoded from the upstream's body as hyper asks for
/// them.
struct Frames {
    upstream: Incoming,
    decoder: StreamDecoder,
    writer: ChunkWriter,
    pending: VecDeque<Bytes>,
    finish: Option<FinishReason>,
    done: bool,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let mut events = Vec::new();
            let ended = match Pin::new(&mut self.upstream).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(bytes) => self.decoder.feed(&bytes, &mut events).is_err(),
                    Err(_) => false,
                },
                Poll::Ready(Some(Err(_))) => true,
                Poll::Ready(None) => {
                    let _ = self.decoder.end(&mut events);
                    true
                }
            };
            let mut out = Vec::new();
            for event in events {
                match event {
                    Event::Text(text) if !text.is_empty() => {
                        out.extend_from_slice(&self.writer.content(&text))
                    }
                    Event::Finish(reason) => self.finish = Some(reason),
                    _ => {}
                }
            }
            if ended || self.decoder.is_finished() {
                out.extend_from_slice(&self.writer.finish(self.finish));
                self.done = true;
            }
            if !out.is_empty() {
                self.pending.push_back(Bytes::from(out));
            }
        }
    }
}

/// `chat.completion.chunk` frames, shaped like the gateway's.
struct ChunkWriter {
    id: String,
    model: String,
    created: u64,
}

impl ChunkWriter {
    fn new(model: &str) -> Self {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        ChunkWriter {
            id: format!("chatcmpl-{created:x}"),
            model: model.to_string(),
            created,
        }
    }

    fn frame(&self, delta: Value, finish: Option<&str>) -> Vec<u8> {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        let mut out = b"data: ".to_vec();
        serde_json::to_writer(&mut out, &chunk).unwrap();
        out.extend_from_slice(b"\n\n");
        out
    }

    fn role(&self) -> Vec<u8> {
        self.frame(json!({"role": "assistant", "content": ""}), None)
    }

    fn content(&self, text: &str) -> Vec<u8> {
        self.frame(json!({ "content": text }), None)
    }

    fn finish(&self, reason: Option<FinishReason>) -> Vec<u8> {
        let reason = match reason {
            Some(FinishReason::Length) => "length",
            Some(FinishReason::ToolCalls) => "tool_calls",
            Some(FinishReason::ContentFilter) => "content_filter",
            _ => "stop",
        };
        let mut out = self.frame(json!({}), Some(reason));
        out.extend_from_slice(b"data: [DONE]\n\n");
        out
    }
}
