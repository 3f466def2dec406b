//! Bounded property-based fuzzing (#13) of what reads Qwen's streams: the
//! snapshot differ, the increment/snapshot detector, and both sites'
//! decoders behind the SSE pump, on any bytes at any read boundaries.

use fuzz_support::{config, sse_bytes};
use proptest::prelude::*;
use serde_json::json;

use crate::increments::PhaseText;
use crate::intl::decoder::IntlDecoder;
use crate::pump::testing::{Ev, PiecesBody, merged, pieces_body, run};
use crate::snapshot::SnapshotDiff;
use crate::tongyi::decoder::TongyiDecoder;

/// `bytes` read in pieces ending at `raw` cuts (any position).
fn pieces(bytes: &[u8], raw: &[usize]) -> PiecesBody {
    pieces_body(fuzz_support::pieces(bytes, raw), false)
}

/// The char boundaries of `text` picked by `raw`, ascending, past the start.
fn char_cuts(text: &str, raw: &[usize]) -> Vec<usize> {
    let mut cuts = fuzz_support::char_cuts(text, raw);
    cuts.retain(|&c| c > 0);
    cuts
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.!\n你好通义千问😀é]{1,30}"
}

/// Outcome of a decoder run, comparable: merged events and the error.
fn outcome(result: (Vec<Ev>, Option<wasmgate_plugin_sdk::ProviderError>)) -> (Vec<Ev>, String) {
    (merged(&result.0), format!("{:?}", result.1))
}

fn tongyi_event() -> BoxedStrategy<String> {
    let item = (
        prop_oneof![Just("text"), Just("think"), Just("text2image")],
        prop_oneof![
            text(),
            text().prop_map(|t| json!({"content": t}).to_string()),
            text().prop_map(|t| format!("{t}\u{FFFD}")),
        ],
        any::<bool>(),
        prop_oneof![Just("generating"), Just("finished")],
    )
        .prop_map(|(kind, content, incremental, status)| {
            json!({"contentType": kind, "content": content,
                "incremental": incremental, "status": status})
        });
    (
        proptest::collection::vec(item, 0..3),
        prop_oneof![Just("generating"), Just("finished")],
        any::<bool>(),
        proptest::option::of(prop_oneof![Just("NOT_LOGIN"), Just("SERVICE_ERROR")]),
    )
        .prop_map(|(items, status, can_share, error)| {
            let mut event = json!({"sessionId": "s", "msgId": "m", "msgStatus": status,
                "canShare": can_share, "contents": items});
            if let Some(code) = error {
                event["errorCode"] = json!(code);
            }
            event.to_string()
        })
        .boxed()
}

fn intl_event() -> BoxedStrategy<String> {
    (
        prop_oneof![
            Just(Some("answer")),
            Just(Some("think")),
            Just(Some("thinking_summary")),
            Just(Some("web_search")),
            Just(None),
        ],
        text(),
        proptest::collection::vec(text(), 0..3),
        prop_oneof![Just("typing"), Just("finished")],
        proptest::option::of((0u64..100, 0u64..100)),
        proptest::option::of(Just("data_inspection_failed")),
    )
        .prop_map(|(phase, content, thoughts, status, usage, error)| {
            let mut delta = json!({"role": "assistant", "content": content, "status": status,
                "extra": {"summary_thought": {"content": thoughts}}});
            if let Some(phase) = phase {
                delta["phase"] = json!(phase);
            }
            let mut event = json!({"choices": [{"delta": delta}]});
            if let Some((input, output)) = usage {
                event["usage"] = json!({"input_tokens": input, "output_tokens": output});
            }
            if let Some(code) = error {
                event = json!({"error": {"code": code, "details": "blocked"}});
            }
            event.to_string()
        })
        .boxed()
}

proptest! {
    #![proptest_config(config())]

    /// Any snapshot sequence: no panic, and the deltas replay to the text
    /// the differ holds (a restart replaces it, otherwise they append).
    #[test]
    fn snapshot_deltas_replay_to_the_text(
        snapshots in proptest::collection::vec("[ab\u{FFFD}你]{0,6}", 0..10),
    ) {
        let mut diff = SnapshotDiff::new();
        let mut replay = String::new();
        for snapshot in &snapshots {
            let delta = diff.next(snapshot);
            if delta.restarted {
                replay = delta.text;
            } else {
                replay.push_str(&delta.text);
            }
            prop_assert_eq!(replay.as_str(), diff.text());
            prop_assert!(!diff.text().ends_with(char::REPLACEMENT_CHARACTER));
        }
    }

    /// Growing snapshots, some cut inside a character (shown as U+FFFD),
    /// give deltas that join to the final text without a restart.
    #[test]
    fn growing_snapshots_join_to_the_final_text(
        final_text in text(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        cut_chars in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let mut diff = SnapshotDiff::new();
        let mut joined = String::new();
        for (index, cut) in char_cuts(&final_text, &raw_cuts).into_iter().enumerate() {
            let mut snapshot = final_text[..cut].to_string();
            let next = final_text[cut..].chars().next();
            if cut_chars[index % 8] && next.is_some_and(|c| c.len_utf8() > 1) {
                snapshot.push(char::REPLACEMENT_CHARACTER);
            }
            let delta = diff.next(&snapshot);
            prop_assert!(!delta.restarted);
            joined.push_str(&delta.text);
        }
        joined.push_str(&diff.next(&final_text).text);
        prop_assert_eq!(joined, final_text);
    }

    /// chat.qwen.ai pieces: increments pass through, snapshots are diffed.
    #[test]
    fn phase_text_reads_increments_and_snapshots(
        final_text in text(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 1..8),
        snapshots in any::<bool>(),
    ) {
        let cuts = char_cuts(&final_text, &raw_cuts);
        let mut pieces = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([&final_text.len()]) {
            if cut > last {
                pieces.push(if snapshots { &final_text[..cut] } else { &final_text[last..cut] });
                last = cut;
            }
        }
        // The mode is guessed from the first two pieces: increments whose
        // second piece repeats the first look like snapshots (documented
        // ambiguity), and a single snapshot cannot be told from an increment.
        if !snapshots && pieces.len() > 1 {
            prop_assume!(!pieces[1].starts_with(pieces[0]));
        }
        let mut phase = PhaseText::new();
        let joined: String = pieces.iter().map(|p| phase.next(p)).collect();
        prop_assert_eq!(joined, final_text);
    }

    /// The tongyi decoder on any stream: no panic, and the same events and
    /// error whatever the reads.
    #[test]
    fn tongyi_any_split_matches_whole_reads(
        bytes in sse_bytes(tongyi_event(), &[b"data: [heartbeat]\n\n"]),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = outcome(run(pieces(&bytes, &[]), TongyiDecoder::new()));
        let split = outcome(run(pieces(&bytes, &raw_cuts), TongyiDecoder::new()));
        prop_assert_eq!(split, whole);
    }

    /// Tongyi snapshots of an answer (cut anywhere, even inside a
    /// character) stream out exactly that answer at any read boundaries.
    #[test]
    fn tongyi_snapshots_round_trip(
        final_text in text(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        raw_reads in proptest::collection::vec(any::<usize>(), 0..8),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let event = |text: &str, status: &str| {
            json!({"sessionId": "s", "msgId": "m", "msgStatus": status, "canShare": true,
                "contents": [{"contentType": "text", "content": text}]})
            .to_string()
        };
        let mut body = String::new();
        for cut in char_cuts(&final_text, &raw_cuts) {
            body.push_str(&format!("data: {}{nl}{nl}", event(&final_text[..cut], "generating")));
        }
        body.push_str(&format!("data: {}{nl}{nl}", event(&final_text, "finished")));
        let got = outcome(run(pieces(body.as_bytes(), &raw_reads), TongyiDecoder::new()));
        prop_assert_eq!(
            got,
            (vec![Ev::Text(final_text), Ev::Finish("Stop".into())], "None".to_string())
        );
    }

    /// The chat.qwen.ai decoder on any stream: no panic, and the same
    /// events and error whatever the reads.
    #[test]
    fn intl_any_split_matches_whole_reads(
        bytes in sse_bytes(intl_event(), &[]),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = outcome(run(pieces(&bytes, &[]), IntlDecoder::new()));
        let split = outcome(run(pieces(&bytes, &raw_cuts), IntlDecoder::new()));
        prop_assert_eq!(split, whole);
    }

    /// chat.qwen.ai increments of an answer stream out that answer.
    #[test]
    fn intl_increments_round_trip(
        final_text in text(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        raw_reads in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts = char_cuts(&final_text, &raw_cuts);
        let mut increments = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([&final_text.len()]) {
            if cut > last {
                increments.push(&final_text[last..cut]);
                last = cut;
            }
        }
        if increments.len() > 1 {
            prop_assume!(!increments[1].starts_with(increments[0]));
        }
        let mut body = String::new();
        for piece in &increments {
            let data = json!({"choices": [{"delta": {"content": piece, "phase": "answer", "status": "typing"}}]});
            body.push_str(&format!("data: {data}\r\n\r\n"));
        }
        let done = json!({"choices": [{"delta": {"content": "", "phase": "answer", "status": "finished"}}]});
        body.push_str(&format!("data: {done}\r\n\r\n"));
        let got = outcome(run(pieces(body.as_bytes(), &raw_reads), IntlDecoder::new()));
        prop_assert_eq!(
            got,
            (vec![Ev::Text(final_text), Ev::Finish("Stop".into())], "None".to_string())
        );
    }
}
