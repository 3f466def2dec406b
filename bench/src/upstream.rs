//! A fast upstream that answers every request with the same streamed
//! Gemini-style answer (`data:` frames in CRLF SSE), so that the cost measured
//! is the gateway's, not the upstream's.
//!
//! A model whose name contains `paced` gets a slow answer instead: its
//! frames one at a time, a fixed gap apart, like a model generating tokens
//! (the many-streams benchmark).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The frames of an answer: `chunks` frames of text, the last with finish
/// reason and usage.
pub fn frames(chunks: usize) -> Vec<Bytes> {
    (0..chunks)
        .map(|i| {
            let last = i + 1 == chunks;
            let frame = serde_json::json!({
                "candidates": [{
                    "content": {"role": "model", "parts": [{"text": format!("word{i} ")}]},
                    "finishReason": if last { Some("STOP") } else { None },
                    "index": 0
                }],
                "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": i + 1, "totalTokenCount": 6 + i},
                "modelVersion": "gemini-2.5-flash"
            });
            Bytes::from(format!("data: {frame}\r\n\r\n"))
        })
        .collect()
}

/// What the upstream answers.
#[derive(Clone)]
pub struct Answers {
    /// The fast answer, in one write.
    pub whole: Bytes,
    /// The paced answer's frames and the gap between them.
    pub paced: Vec<Bytes>,
    pub gap: Duration,
}

/// Serves `answers` on an ephemeral loopback port.
pub async fn spawn(answers: Answers) -> SocketAddr {
    let listener = crate::loopback_listener().expect("binding the upstream");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let answers = answers.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answers = answers.clone();
                    async move {
                        let paced = request.uri().path().contains("paced");
                        // Like a real API, read the whole request before answering.
                        let _ = request.into_body().collect().await;
                        let body: BoxBody<Bytes, Infallible> = if paced {
                            Paced::new(answers.paced, answers.gap).boxed()
                        } else {
                            Full::new(answers.whole).boxed()
                        };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(body)
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Frames sent one at a time, `gap` apart (the first at once).
struct Paced {
    frames: VecDeque<Bytes>,
    gap: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Paced {
    fn new(frames: Vec<Bytes>, gap: Duration) -> Self {
        Paced {
            frames: frames.into(),
            gap,
            sleep: None,
        }
    }
}

impl Body for Paced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(sleep) = self.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_pending()
        {
            return Poll::Pending;
        }
        let Some(frame) = self.frames.pop_front() else {
            return Poll::Ready(None);
        };
        let gap = self.gap;
        self.sleep = Some(Box::pin(tokio::time::sleep(gap)));
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }
}
