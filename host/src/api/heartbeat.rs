//! SSE heartbeats: a comment line whenever a stream has had nothing to send
//! for a while, so clients and proxies in between (Hugging Face's closes an
//! idle response) do not give up on a thinking model — what hajimi's "fake
//! streaming" existed for. Comment lines are ignored by SSE clients.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};

/// One heartbeat: an SSE comment.
pub const COMMENT: &[u8] = b": keep-alive\n\n";

/// `frames`, with `beat` (normally [`COMMENT`]; whatever the protocol's
/// framing ignores) each time `every` passes without one.
pub fn keep_alive<S>(
    frames: S,
    every: Duration,
    beat: &'static [u8],
) -> impl Stream<Item = Bytes> + Send
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    stream::unfold(Box::pin(frames), move |mut frames| async move {
        // Dropping `next()` on a timeout is safe: the pending frame stays
        // inside `frames` and is polled again next time.
        match tokio::time::timeout(every, frames.next()).await {
            Ok(Some(frame)) => Some((frame, frames)),
            Ok(None) => None,
            Err(_) => Some((Bytes::from_static(beat), frames)),
        }
    })
}

/// `start` if it finishes within `every`, else the still-running future: the
/// caller then commits to a 200 stream and heartbeats while it runs. An
/// answer that starts quickly keeps its real status (429, 502…).
pub async fn within<F>(start: F, every: Duration) -> Result<F::Output, std::pin::Pin<Box<F>>>
where
    F: Future,
{
    let mut start = Box::pin(start);
    match tokio::time::timeout(every, start.as_mut()).await {
        Ok(output) => Ok(output),
        Err(_) => Err(start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_late_frame_is_preceded_by_heartbeats_and_arrives_whole() {
        let late = stream::once(async {
            tokio::time::sleep(Duration::from_millis(130)).await;
            Bytes::from_static(b"data: x\n\n")
        });
        let out: Vec<Bytes> = keep_alive(late, Duration::from_millis(40), COMMENT)
            .collect()
            .await;
        let (last, beats) = out.split_last().unwrap();
        assert_eq!(&last[..], b"data: x\n\n");
        assert!(beats.len() >= 2, "{out:?}");
        assert!(beats.iter().all(|b| &b[..] == COMMENT));
    }

    #[tokio::test]
    async fn a_quick_start_is_returned_as_is() {
        assert_eq!(
            within(async { 7 }, Duration::from_secs(1)).await.ok(),
            Some(7)
        );
        let slow = within(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                8
            },
            Duration::from_millis(5),
        )
        .await;
        assert_eq!(
            slow.err().unwrap().await,
            8,
            "the slow start still finishes"
        );
    }
}
