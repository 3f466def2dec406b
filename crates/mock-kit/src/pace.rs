//! Bodies sent piece by piece, as a streaming upstream does.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::SinkExt;

use crate::Gate;

/// How a body's pieces go out.
#[derive(Clone, Default)]
pub struct Pacing {
    /// Before the first piece.
    pub first_delay: Duration,
    /// Between two pieces.
    pub piece_delay: Duration,
    /// Hold the rest after the first piece until the gate releases this ticket.
    pub hold: Option<(Arc<Gate>, u64)>,
    pub ending: Ending,
}

/// How a body ends after its last piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ending {
    /// The body ends normally.
    #[default]
    Clean,
    /// The connection is reset, as an upstream that dies mid-answer.
    Reset,
}

/// A body that sends `pieces` as `pacing` says. It is written by a task one
/// piece ahead of the reader at most, and stops when the client goes away.
pub fn paced_body(pieces: Vec<Bytes>, pacing: Pacing) -> Body {
    let (mut sender, receiver) =
        futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        if !pacing.first_delay.is_zero() {
            tokio::time::sleep(pacing.first_delay).await;
        }
        for (index, piece) in pieces.into_iter().enumerate() {
            if index == 1
                && let Some((gate, ticket)) = &pacing.hold
            {
                gate.wait(*ticket).await;
            }
            if index > 0 {
                tokio::time::sleep(pacing.piece_delay).await;
            }
            if sender.send(Ok(piece)).await.is_err() {
                return; // The client went away.
            }
        }
        if pacing.ending == Ending::Reset {
            // Let the last piece reach the socket before the connection dies.
            tokio::time::sleep(pacing.piece_delay.max(Duration::from_millis(20))).await;
            let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mock disconnect");
            let _ = sender.send(Err(reset)).await;
        }
    });
    Body::from_stream(receiver)
}
