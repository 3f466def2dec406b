//! What one cumulative snapshot (the inner response of a `wrb.fr` part) says.
//!
//! Paths, all positional: inner `[1]` = `[cid, rid]`, `[4]` = candidates,
//! `[25]` = context token (present once the turn is saved). In a candidate:
//! `[0]` rcid, `[1][0]` text so far, `[8][0]` status (2 = complete),
//! `[37][0][0]` thoughts so far, `[12][7][0]` generated images, `[22][0]` the
//! text to use when `[1][0]` is only a card placeholder.

use serde_json::Value;

use crate::json_path::{at, str_at};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub conversation_id: Option<String>,
    pub reply_id: Option<String>,
    /// The first candidate; the web app streams one.
    pub candidate: Option<Candidate>,
    pub context_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Candidate {
    pub id: Option<String>,
    /// The answer so far, as the upstream writes it (HTML-escaped Markdown).
    pub text: String,
    pub thoughts: Option<String>,
    pub complete: bool,
    pub images: Vec<GeneratedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    pub url: String,
    pub alt: Option<String>,
    pub id: Option<String>,
}

/// The status value that marks a candidate complete.
const COMPLETE: i64 = 2;
const CARD_PLACEHOLDER: &str = "http://googleusercontent.com/card_content/";

pub fn read(inner: &Value) -> Snapshot {
    Snapshot {
        conversation_id: str_at(inner, &[1, 0]).map(str::to_string),
        reply_id: str_at(inner, &[1, 1]).map(str::to_string),
        candidate: at(inner, &[4, 0]).map(read_candidate),
        context_token: context_token(inner),
    }
}

/// UNCONFIRMED: a third-party write-up says the token may also come sparsely,
/// keyed `"26"`; only the positional slot is read.
fn context_token(inner: &Value) -> Option<String> {
    str_at(inner, &[25]).map(str::to_string)
}

/// The newest turn's candidate in a read-chat (`hNvQHb`) payload: turns
/// newest first at `[0]`, a turn's candidates at `[3][0]`; the one with
/// `rcid` if given.
pub fn read_chat_candidate(payload: &Value, rcid: Option<&str>) -> Option<Candidate> {
    let candidates = at(payload, &[0, 0, 3, 0])?.as_array()?;
    let chosen = candidates
        .iter()
        .find(|c| rcid.is_some() && str_at(c, &[0]) == rcid)
        .or_else(|| candidates.first())?;
    Some(read_candidate(chosen))
}

pub fn read_candidate(candidate: &Value) -> Candidate {
    let mut text = str_at(candidate, &[1, 0]).unwrap_or_default();
    if is_card_placeholder(text)
        && let Some(substitute) = str_at(candidate, &[22, 0])
    {
        text = substitute;
    }
    Candidate {
        id: str_at(candidate, &[0]).map(str::to_string),
        text: text.to_string(),
        thoughts: str_at(candidate, &[37, 0, 0]).map(str::to_string),
        complete: at(candidate, &[8, 0]).and_then(Value::as_i64) == Some(COMPLETE),
        images: generated_images(candidate),
    }
}

fn is_card_placeholder(text: &str) -> bool {
    text.trim()
        .strip_prefix(CARD_PLACEHOLDER)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Each image: `[0][3][3]` URL, `[0][3][2]` alt text, `[1][0]` id. They
/// sit at `[12][7][0]`, or (image edits) in the sparse field `[12][0]["8"][0]`.
fn generated_images(candidate: &Value) -> Vec<GeneratedImage> {
    let sparse = at(candidate, &[12, 0])
        .and_then(|media| media.get("8"))
        .and_then(|field| field.get(0));
    let Some(images) = at(candidate, &[12, 7, 0])
        .or(sparse)
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    images
        .iter()
        .filter_map(|image| {
            Some(GeneratedImage {
                url: str_at(image, &[0, 3, 3])?.to_string(),
                alt: str_at(image, &[0, 3, 2]).map(str::to_string),
                id: str_at(image, &[1, 0]).map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Part, parts};
    use crate::framing::FrameParser;
    use crate::framing::tests::HELLO;
    use serde_json::json;

    fn snapshots(body: &str) -> Vec<Snapshot> {
        let mut parser = FrameParser::new();
        parser
            .push(body.as_bytes())
            .unwrap()
            .iter()
            .flat_map(parts)
            .filter_map(|part| match part {
                Part::Snapshot(inner) => Some(read(&inner)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_reference_stream_reads_as_three_snapshots() {
        let all = snapshots(HELLO);
        assert_eq!(all.len(), 3);
        let last = &all[2];
        assert_eq!(last.conversation_id.as_deref(), Some("c_3f9a1b2c4d5e6f70"));
        assert_eq!(last.reply_id.as_deref(), Some("r_8e7d6c5b4a392817"));
        assert_eq!(last.context_token.as_deref(), Some("!CtxTokenSynthetic01"));
        let candidate = last.candidate.as_ref().unwrap();
        assert_eq!(candidate.id.as_deref(), Some("rc_a1b2c3d4e5f60718"));
        assert_eq!(candidate.text, "Hello, world! 👋");
        assert_eq!(
            candidate.thoughts.as_deref(),
            Some("**Planning** the greeting")
        );
        assert!(candidate.complete);
        assert!(!all[0].candidate.as_ref().unwrap().complete);
        assert_eq!(all[0].context_token, None);
    }

    #[test]
    fn generated_images_and_card_substitutes() {
        let mut candidate = vec![Value::Null; 38];
        candidate[1] = json!(["http://googleusercontent.com/card_content/0"]);
        candidate[22] = json!(["the real text"]);
        candidate[8] = json!([2]);
        let mut media = vec![Value::Null; 8];
        media[7] = json!([[
            [
                [
                    null,
                    null,
                    null,
                    [null, null, "a cat", "https://lh3.example/img=s1024-rj"]
                ],
                ["http://googleusercontent.com/image_generation_content/0"]
            ],
            [[null, null, null, null]]
        ]]);
        candidate[12] = Value::Array(media);
        let inner = json!([null, null, null, null, [candidate]]);
        let candidate = read(&inner).candidate.unwrap();
        assert_eq!(candidate.text, "the real text");
        assert_eq!(
            candidate.images,
            [GeneratedImage {
                url: "https://lh3.example/img=s1024-rj".into(),
                alt: Some("a cat".into()),
                id: Some("http://googleusercontent.com/image_generation_content/0".into()),
            }]
        );
    }

    #[test]
    fn missing_pieces_are_absent_not_errors() {
        let snapshot = read(&json!([null, null, null, null, []]));
        assert_eq!(snapshot, Snapshot::default());
        let snapshot = read(&json!("not even an array"));
        assert_eq!(snapshot, Snapshot::default());
    }
}
