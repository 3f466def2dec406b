//! A streamed body played from a script: pieces written one by one with
//! pauses between them, a hold point, and an abrupt end.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;

use crate::State;

#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes written as one piece (one TCP write, give or take).
    Bytes(Bytes),
    Pause(Duration),
    /// Waits for `MockUpstream::release()` when the mock holds streams.
    Hold,
    /// Breaks the connection: no terminating chunk, so the client sees an
    /// incomplete body rather than a clean end.
    Abort,
}

/// SSE frames with the configured line ending.
pub struct Script {
    pieces: Vec<Piece>,
    newline: &'static str,
    gap: Duration,
}

impl Script {
    pub fn new(state: &State) -> Self {
        Script {
            pieces: Vec::new(),
            newline: if state.options.crlf { "\r\n" } else { "\n" },
            gap: state.options.gap,
        }
    }

    pub fn with_gap(mut self, gap: Duration) -> Self {
        self.gap = gap;
        self
    }

    /// The bytes of one `data:` event.
    pub fn frame(&self, data: &str) -> Vec<u8> {
        format!("data: {data}{nl}{nl}", nl = self.newline).into_bytes()
    }

    /// One event, then the usual pause.
    pub fn event(&mut self, data: &str) -> &mut Self {
        let frame = self.frame(data);
        self.raw(frame)
    }

    /// Raw bytes, then the usual pause.
    pub fn raw(&mut self, bytes: Vec<u8>) -> &mut Self {
        self.pieces.push(Piece::Bytes(Bytes::from(bytes)));
        self.pieces.push(Piece::Pause(self.gap));
        self
    }

    pub fn push(&mut self, piece: Piece) -> &mut Self {
        self.pieces.push(piece);
        self
    }

    pub fn into_response(self, state: Arc<State>) -> Response {
        let (mut tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        tokio::spawn(async move {
            for piece in self.pieces {
                match piece {
                    Piece::Bytes(bytes) => {
                        if tx.send(Ok(bytes)).await.is_err() {
                            return; // the client went away
                        }
                    }
                    Piece::Pause(pause) => tokio::time::sleep(pause).await,
                    Piece::Hold => state.wait_if_held().await,
                    Piece::Abort => {
                        let _ = tx
                            .send(Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "mock: stream cut",
                            )))
                            .await;
                        return;
                    }
                }
            }
        });
        let mut response = (StatusCode::OK, Body::from_stream(rx)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream;charset=UTF-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}
