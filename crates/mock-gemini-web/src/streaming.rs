//! Streams a framed body for real: separate writes with pauses between them,
//! cut where the test wants (inside length digits, inside multi-byte
//! characters), optionally held after the first snapshot, optionally aborted
//! without the terminating chunk.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures::SinkExt;

use crate::Split;
use crate::frames::PREFIX;
use crate::state::Shared;

/// A body to stream: its frames, where to hold, whether to abort at the end.
pub struct Plan {
    pub frames: Vec<String>,
    /// Index of the frame after which a held stream waits.
    pub hold_after: Option<usize>,
    /// End by breaking the connection instead of finishing the body.
    pub abort: bool,
}

enum Step {
    Write(Vec<u8>),
    Pause(std::time::Duration),
    Hold,
    Abort,
}

pub fn body(shared: Arc<Shared>, plan: Plan) -> Body {
    let steps = steps(&shared, &plan);
    let (mut sender, receiver) =
        futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        for step in steps {
            match step {
                Step::Write(bytes) => {
                    if sender.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return; // the client went away
                    }
                }
                Step::Pause(duration) => tokio::time::sleep(duration).await,
                Step::Hold => shared.controls.hold.wait().await,
                Step::Abort => {
                    let cut = std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "mock: stream cut mid-way",
                    );
                    let _ = sender.send(Err(cut)).await;
                    return;
                }
            }
        }
    });
    Body::from_stream(receiver)
}

fn steps(shared: &Shared, plan: &Plan) -> Vec<Step> {
    let options = &shared.options;
    let mut body = PREFIX.as_bytes().to_vec();
    let mut frame_ends = BTreeSet::new();
    let mut cuts = BTreeSet::new();
    frame_ends.insert(body.len());
    let mut hold_at = None;
    for (index, frame) in plan.frames.iter().enumerate() {
        let start = body.len();
        body.extend_from_slice(frame.as_bytes());
        frame_ends.insert(body.len());
        if plan.hold_after == Some(index) {
            hold_at = Some(body.len());
        }
        if options.split == Split::InsideChars {
            // Inside the digits when there are several, else right after them.
            cuts.insert(start + 1);
            if let Some((offset, c)) = frame.char_indices().find(|(_, c)| c.len_utf8() > 1) {
                cuts.insert(start + offset + c.len_utf8() / 2);
            }
        }
    }
    match options.split {
        Split::Frames | Split::InsideChars => {}
        Split::EveryBytes(size) => cuts.extend((size.max(1)..body.len()).step_by(size.max(1))),
    }
    cuts.extend(frame_ends.iter().copied());
    cuts.extend(hold_at);
    cuts.retain(|&cut| cut > 0 && cut < body.len());

    let mut steps = Vec::new();
    let mut last = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        steps.push(Step::Write(body[last..cut].to_vec()));
        last = cut;
        if Some(cut) == hold_at {
            steps.push(Step::Hold);
        }
        let pause = if frame_ends.contains(&cut) {
            options.frame_delay
        } else {
            options.piece_delay
        };
        if !pause.is_zero() {
            steps.push(Step::Pause(pause));
        }
    }
    if plan.abort {
        steps.push(Step::Abort);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;
    use crate::frames::frame;
    use serde_json::json;

    fn writes(split: Split, frames: Vec<String>, hold_after: Option<usize>) -> Vec<Vec<u8>> {
        let options = MockOptions {
            split,
            ..MockOptions::default()
        };
        let shared = Shared::new(options, "http://x".into());
        let plan = Plan {
            frames,
            hold_after,
            abort: false,
        };
        steps(&shared, &plan)
            .into_iter()
            .filter_map(|step| match step {
                Step::Write(bytes) => Some(bytes),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn inside_chars_cuts_multibyte_characters() {
        let frames = vec![frame(&json!(["你好"])), frame(&json!(["ok"]))];
        let pieces = writes(Split::InsideChars, frames.clone(), None);
        assert_eq!(
            pieces.concat(),
            [PREFIX, &frames[0], &frames[1]].concat().as_bytes()
        );
        assert!(
            pieces
                .iter()
                .any(|piece| std::str::from_utf8(piece).is_err())
        );
    }

    #[test]
    fn every_bytes_and_the_hold_point() {
        let frames = vec![frame(&json!(["abcdefgh"])), frame(&json!(["ijkl"]))];
        let pieces = writes(Split::EveryBytes(3), frames.clone(), Some(0));
        assert_eq!(
            pieces.concat(),
            [PREFIX, &frames[0], &frames[1]].concat().as_bytes()
        );
        assert!(pieces.iter().all(|piece| piece.len() <= 3));
        let whole = writes(Split::Frames, frames, Some(0));
        assert_eq!(whole.len(), 3);
    }
}
