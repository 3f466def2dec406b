//! A fast upstream that answers every request with the same streamed
//! Gemini-style answer (`data:` frames in CRLF SSE), so that the cost measured
//! is the gateway's, not the upstream's.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The answer: `chunks` frames of text, the last with finish reason and usage.
pub fn answer(chunks: usize) -> Bytes {
    let mut body = String::new();
    for i in 0..chunks {
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
        body.push_str("data: ");
        body.push_str(&frame.to_string());
        body.push_str("\r\n\r\n");
    }
    Bytes::from(body)
}

/// Serves `answer` on an ephemeral loopback port.
pub async fn spawn(answer: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the upstream");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answer = answer.clone();
                    async move {
                        // Like a real API, read the whole request before answering.
                        let _ = http_body_util::BodyExt::collect(request.into_body()).await;
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(Full::new(answer))
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
