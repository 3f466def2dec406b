//! A client that stops reading a stream must not hold what serves it. The
//! frames are handed over through a small buffer by a task of their own; a
//! frame the client has not taken within the idle timeout ends the stream,
//! which frees the plugin instance and the account's lease at once instead
//! of whenever the client reads again (or never). A stream still running at
//! the request's deadline ends with a last frame saying so.

use std::convert::Infallible;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tracing::Instrument;

/// Frames buffered between the producer and a reading client.
const BUFFERED_FRAMES: usize = 16;

pub fn bounded<S>(
    frames: S,
    deadline: Duration,
    ends_at: Instant,
    overtime: Bytes,
) -> impl Stream<Item = Result<Bytes, Infallible>>
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(BUFFERED_FRAMES);
    tokio::spawn(
        async move {
            let mut frames = std::pin::pin!(frames);
            loop {
                let frame = match tokio::time::timeout_at(ends_at, frames.next()).await {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return,
                    Err(_) => {
                        tracing::warn!("the request reached max-request-secs: stream ended");
                        let _ = tokio::time::timeout(deadline, sender.send(Ok(overtime))).await;
                        return;
                    }
                };
                match tokio::time::timeout(deadline, sender.send(frame)).await {
                    Ok(Ok(())) => {}
                    // The client went away; dropping `frames` frees the rest.
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::warn!(
                            "the client took no stream data for {deadline:?}: stream ended, its plugin instance and account freed"
                        );
                        return;
                    }
                }
            }
        }
        .instrument(tracing::Span::current()),
    );
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    })
}
