//! Bounded property-based fuzzing (#13) of what reads StreamGenerate bytes:
//! the UTF-16 length-prefixed framing, the assembler on top of it, and the
//! snapshot → delta path (display text, delta tracker).

use fuzz_support::{char_cuts, config, pieces};
use mock_gemini_web::frames::{self, CandidateSpec};
use plugin_gemini_web::assembler::Assembler;
use plugin_gemini_web::delta::DeltaTracker;
use plugin_gemini_web::display_text::displayable;
use plugin_gemini_web::framing::{FrameError, FrameParser};
use proptest::prelude::*;
use serde_json::Value;
use wasmgate_plugin_sdk::Event;

/// The framing's result for `body` in the reads `raw_cuts` pick: the
/// frames, or the first error (frames of earlier reads are kept, as a caller
/// would have them).
fn frames(body: &[u8], raw_cuts: &[usize]) -> (Vec<Value>, Option<FrameError>) {
    let mut parser = FrameParser::new();
    let mut out = Vec::new();
    for read in pieces(body, raw_cuts) {
        match parser.push(&read) {
            Ok(frames) => out.extend(frames),
            Err(err) => return (out, Some(err)),
        }
    }
    match parser.finish() {
        Ok(frames) => out.extend(frames),
        Err(err) => return (out, Some(err)),
    }
    (out, None)
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Bytes made of what the framing reacts to.
fn frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b")]}'".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        (0usize..40).prop_map(|n| n.to_string().into_bytes()),
        Just(b"99999999999999999999999".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"[[\"wrb.fr\",null,\"x\"]]".to_vec()),
        Just(b"\"".to_vec()),
        Just("𠜎é".as_bytes().to_vec()),
        Just(vec![0xF0, 0x9F]),
        Just(vec![0xFF]),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,12}", "[a-z 𠜎😀你好é\\\\\"\n\\[\\]]{0,12}",]
}

/// A frame's JSON: an array of parts holding arbitrary text.
fn frame_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        prop_oneof![
            text().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
            proptest::collection::vec(text().prop_map(Value::String), 0..3).prop_map(Value::Array),
        ],
        0..4,
    )
    .prop_map(Value::Array)
}

/// One frame as the upstream writes it, with its length off by `error`
/// (0 for a correct one).
fn framed(value: &Value, error: i64) -> String {
    let text = value.to_string();
    let length = (utf16_len(&text) as i64 + 2 + error).max(0);
    format!("{length}\n{text}\n")
}

/// Comparable events (the WIT types have no `PartialEq`): text and
/// reasoning merged, since their split follows the reads.
fn merged(events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for event in events {
        let (kind, piece) = match event {
            Event::Text(t) => ("text:", t.as_str()),
            Event::Reasoning(r) => ("reasoning:", r.as_str()),
            other => {
                out.push(format!("{other:?}"));
                continue;
            }
        };
        match out.last_mut() {
            Some(last) if last.starts_with(kind) => last.push_str(piece),
            _ => out.push(format!("{kind}{piece}")),
        }
    }
    out
}

fn assemble(body: &[u8], raw_cuts: &[usize]) -> (Vec<String>, Option<String>) {
    let (events, error, _) = assemble_with_retry(body, raw_cuts);
    (events, error)
}

/// Also whether the failure, if any, was judged retryable.
fn assemble_with_retry(body: &[u8], raw_cuts: &[usize]) -> (Vec<String>, Option<String>, bool) {
    let mut assembler = Assembler::new("acct", "model");
    let mut events = Vec::new();
    for read in pieces(body, raw_cuts) {
        match assembler.push(&read) {
            Ok(more) => events.extend(more),
            Err(err) => {
                let retryable = assembler.retryable();
                return (merged(&events), Some(format!("{err:?}")), retryable);
            }
        }
    }
    match assembler.finish() {
        Ok(more) => events.extend(more),
        Err(err) => {
            let retryable = assembler.retryable();
            return (merged(&events), Some(format!("{err:?}")), retryable);
        }
    }
    (merged(&events), None, false)
}

/// A StreamGenerate snapshot frame whose candidate holds `text`.
fn snapshot_frame(text: &str, thoughts: Option<&str>, complete: bool) -> String {
    let candidate = frames::candidate(&CandidateSpec {
        rcid: "rc_1".into(),
        text: text.into(),
        complete,
        thoughts: thoughts.map(str::to_string),
        ..CandidateSpec::default()
    });
    frames::snapshot_frame(&frames::inner("c_1", "r_1", candidate, None))
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes: no panic, and the same frames and error whatever the reads.
    #[test]
    fn framing_any_split_matches_whole_reads(
        body in frame_bytes(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = frames(&body, &[]);
        let split = frames(&body, &raw_cuts);
        // Frames read before an error come out before it, in any split.
        prop_assert_eq!(&split, &whole);
    }

    /// Well-formed bodies round-trip at any read boundaries, with astral and
    /// CJK text counted in UTF-16 units.
    #[test]
    fn framing_round_trips(
        values in proptest::collection::vec(frame_value(), 0..5),
        prefix in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::from(if prefix { ")]}'\n\n" } else { "" });
        for value in &values {
            body.push_str(&framed(value, 0));
        }
        let bytes = body.as_bytes();
        let every: Vec<usize> = (1..bytes.len()).collect();
        prop_assert_eq!(frames(bytes, &every), (values.clone(), None));
        prop_assert_eq!(frames(bytes, &raw_cuts), (values, None));
    }

    /// A wrong length is recovered from by the line the frame is on.
    #[test]
    fn framing_recovers_from_wrong_lengths(
        values in proptest::collection::vec((frame_value(), -8i64..8), 1..5),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::from(")]}'\n\n");
        for (value, error) in &values {
            body.push_str(&framed(value, *error));
        }
        let expected: Vec<Value> = values.into_iter().map(|(v, _)| v).collect();
        let bytes = body.as_bytes();
        prop_assert_eq!(frames(bytes, &raw_cuts), (expected, None));
    }

    /// The assembler on any bytes: no panic, same outcome whatever the reads.
    #[test]
    fn assembler_any_split_matches_whole_reads(
        pieces in proptest::collection::vec(
            prop_oneof![
                frame_bytes().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                (text(), proptest::option::of(text()), any::<bool>())
                    .prop_map(|(t, th, c)| snapshot_frame(&t, th.as_deref(), c)),
                prop_oneof![Just(1013i64), Just(1037), Just(1060), Just(1052)]
                    .prop_map(frames::error_frame),
            ],
            0..6,
        ),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let body = format!(")]}}'\n\n{}", pieces.concat());
        let bytes = body.as_bytes();
        let whole = assemble_with_retry(bytes, &[]);
        let split = assemble_with_retry(bytes, &raw_cuts);
        prop_assert_eq!(&split.1, &whole.1);
        if whole.1.is_none() {
            prop_assert_eq!(&split.0, &whole.0);
        }
        for (events, _, retryable) in [&whole, &split] {
            // A retry is only allowed when the client has seen nothing.
            prop_assert!(!retryable || events.is_empty());
        }
        // Nothing handed out either way: the same retry decision.
        if whole.0.is_empty() && split.0.is_empty() {
            prop_assert_eq!(whole.2, split.2);
        }
    }

    /// Growing snapshots of a text stream out deltas that join to its
    /// displayed final form, wherever the snapshots were cut.
    #[test]
    fn snapshots_stream_the_final_text(
        // Starts with a word: a blank answer is refused as empty, by design.
        final_text in "[a-zA-Z你𠜎][a-zA-Z0-9 .,!?\n你好𠜎😀é]{0,40}",
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        raw_reads in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::from(")]}'\n\n");
        for cut in char_cuts(&final_text, &raw_cuts) {
            body.push_str(&snapshot_frame(&final_text[..cut], None, false));
        }
        body.push_str(&snapshot_frame(&final_text, None, true));
        let bytes = body.as_bytes();
        let (events, error) = assemble(bytes, &raw_reads);
        prop_assert_eq!(error, None);
        let expected = displayable(&final_text, true);
        let text: String = events
            .iter()
            .filter_map(|e| e.strip_prefix("text:"))
            .collect();
        prop_assert_eq!(text, expected);
    }

    /// Display text and the delta tracker on arbitrary snapshot sequences
    /// (entities, placeholders, Markdown, broken text): no panic, and what
    /// is emitted is bounded by what was shown.
    #[test]
    fn delta_tracker_survives_any_snapshots(
        snapshots in proptest::collection::vec(
            (
                prop_oneof![
                    "\\PC{0,16}",
                    "[&;#a-z0-9x*_`\\\\ \n]{0,16}",
                    "(http://googleusercontent\\.com/image_generation_content/[0-9]{0,2}|&amp;|&lt;|&#[0-9]{0,3};?|\\*\\*|```|\\\\|[a-z ])*{0,8}",
                ],
                any::<bool>(),
            ),
            0..8,
        ),
    ) {
        let mut tracker = DeltaTracker::new();
        let mut emitted = 0;
        for (raw, complete) in &snapshots {
            let shown = displayable(raw, *complete);
            prop_assert!(shown.len() <= 4 * raw.len() + 4);
            if let Some(delta) = tracker.update(raw, *complete) {
                prop_assert!(!delta.is_empty());
                prop_assert!(tracker.sent().ends_with(delta.as_str()));
                emitted += delta.len();
            }
            // It follows the snapshot, or keeps a longer text it extends.
            prop_assert!(tracker.sent().starts_with(shown.as_str()));
        }
        let shown_total: usize = snapshots
            .iter()
            .map(|(raw, complete)| displayable(raw, *complete).len())
            .sum();
        prop_assert!(emitted <= shown_total);
    }
}
