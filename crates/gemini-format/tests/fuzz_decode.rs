//! Bounded property-based fuzzing (#13) of the Gemini-format answer: the
//! SSE/raw-JSON splitter and the response mapper behind it, read through the
//! SDK's pump as the plugins run it, on any bytes at any read boundaries.

use std::collections::VecDeque;

use fuzz_support::{config, pieces};
use gemini_format::answer::{decode_whole, streaming};
use proptest::prelude::*;
use serde_json::{Value, json};
use wasmgate_plugin_sdk::Event;
use wasmgate_plugin_sdk::http::HttpError;

/// The events (as their exact `Debug` text: the WIT types have no
/// `PartialEq`) and the error of `body` read in the pieces `raw_cuts` pick.
/// Each stream event maps to events on its own, so the reads do not change
/// them.
fn decode(body: &[u8], raw_cuts: &[usize]) -> (Vec<String>, Option<String>) {
    let reads: VecDeque<Result<Vec<u8>, HttpError>> =
        pieces(body, raw_cuts).into_iter().map(Ok).collect();
    let answer = streaming(reads);
    let mut events = Vec::new();
    loop {
        match answer.next_event() {
            Ok(Some(event)) => events.push(format!("{event:?}")),
            Ok(None) => return (events, None),
            Err(err) => return (events, Some(format!("{err:?}"))),
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-z 你好😀\"\\\\{}\n]{0,12}"
}

/// One `generateContent` response object, in shapes the mapper reads.
fn chunk() -> impl Strategy<Value = Value> {
    let part = prop_oneof![
        text().prop_map(|t| json!({"text": t})),
        text().prop_map(|t| json!({"text": t, "thought": true})),
        (text(), text()).prop_map(|(n, a)| json!({"functionCall": {"name": n, "args": {"a": a}}})),
        Just(json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})),
        Just(json!({"inlineData": {"mimeType": "image/png", "data": "@@"}})),
        Just(json!({"thoughtSignature": "c2ln"})),
        Just(json!(null)),
    ];
    (
        proptest::collection::vec(part, 0..3),
        proptest::option::of(prop_oneof![
            Just("STOP"),
            Just("MAX_TOKENS"),
            Just("SAFETY"),
            Just("OTHER"),
            Just("")
        ]),
        proptest::option::of((0u64..1000, 0u64..1000)),
        any::<bool>(),
    )
        .prop_map(|(parts, finish, usage, error)| {
            if error {
                return json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}});
            }
            let mut candidate = json!({"content": {"role": "model", "parts": parts}});
            if let Some(reason) = finish {
                candidate["finishReason"] = json!(reason);
            }
            let mut chunk = json!({"candidates": [candidate]});
            if let Some((prompt, out)) = usage {
                chunk["usageMetadata"] = json!({"promptTokenCount": prompt, "candidatesTokenCount": out});
            }
            chunk
        })
}

fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => chunk().prop_map(|c| format!("data: {c}\r\n\r\n").into_bytes()),
        1 => chunk().prop_map(|c| format!("{}\n", serde_json::to_string_pretty(&c).unwrap()).into_bytes()),
        1 => Just(b"data: [DONE]\n\n".to_vec()),
        1 => Just(b": keep-alive\n".to_vec()),
        1 => Just(b"{\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(vec![0xE4, 0xBD]),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..8).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Any stream: no panic, the same events and error whatever the reads.
    #[test]
    fn any_split_matches_whole_reads(
        body in stream_bytes(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        prop_assert_eq!(decode(&body, &raw_cuts), decode(&body, &[]));
    }

    /// A non-streamed body (one object or an array of them, or anything
    /// else): events or an error, never a panic.
    #[test]
    fn whole_bodies_decode_or_fail(
        chunks in proptest::collection::vec(chunk(), 0..4),
        junk in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let _ = decode_whole(Value::Array(chunks.clone()).to_string().as_bytes());
        if let Some(first) = chunks.first() {
            let _ = decode_whole(first.to_string().as_bytes());
        }
        let _ = decode_whole(&junk);
    }

    /// Text split over streamed chunks comes out in order, piece by piece.
    #[test]
    fn streamed_text_round_trips(
        parts in proptest::collection::vec("[a-zA-Z0-9 .,你好😀\n]{1,10}", 1..6),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::new();
        for (index, piece) in parts.iter().enumerate() {
            let mut candidate = json!({"content": {"role": "model", "parts": [{"text": piece}]}});
            if index + 1 == parts.len() {
                candidate["finishReason"] = json!("STOP");
            }
            body.push_str(&format!("data: {}\r\n\r\n", json!({"candidates": [candidate]})));
        }
        let (events, error) = decode(body.as_bytes(), &raw_cuts);
        prop_assert_eq!(error, None);
        let texts: Vec<String> = parts.iter().map(|p| format!("{:?}", Event::Text(p.clone()))).collect();
        prop_assert_eq!(&events[..parts.len()], &texts[..]);
    }
}
