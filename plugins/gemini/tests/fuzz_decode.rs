//! Bounded property-based fuzzing (#13) of the Gemini API stream decoder:
//! the SSE/raw-JSON splitter and the response mapper behind it, on any
//! bytes at any read boundaries.

use fuzz_support::{config, cuts};
use plugin_gemini::decode::{SseDecoder, decode_whole};
use proptest::prelude::*;
use serde_json::{Value, json};
use wasmgate_plugin_sdk::Event;

/// Events as comparable text, text and reasoning merged (their split
/// follows the reads).
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

fn decode(body: &[u8], cuts: &[usize]) -> (Vec<String>, Option<String>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        if let Err(err) = decoder.feed(&body[last..cut], &mut events) {
            return (merged(&events), Some(format!("{err:?}")));
        }
        last = cut;
    }
    let error = decoder.end(&mut events).err().map(|e| format!("{e:?}"));
    (merged(&events), error)
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
        let whole = decode(&body, &[]);
        let split = decode(&body, &cuts(body.len(), raw_cuts));
        prop_assert_eq!(&split.1, &whole.1);
        if whole.1.is_none() {
            prop_assert_eq!(&split.0, &whole.0);
        }
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

    /// Text split over streamed chunks comes out whole.
    #[test]
    fn streamed_text_round_trips(
        pieces in proptest::collection::vec("[a-zA-Z0-9 .,你好😀\n]{1,10}", 1..6),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::new();
        for (index, piece) in pieces.iter().enumerate() {
            let mut candidate = json!({"content": {"role": "model", "parts": [{"text": piece}]}});
            if index + 1 == pieces.len() {
                candidate["finishReason"] = json!("STOP");
            }
            body.push_str(&format!("data: {}\r\n\r\n", json!({"candidates": [candidate]})));
        }
        let bytes = body.as_bytes();
        let (events, error) = decode(bytes, &cuts(bytes.len(), raw_cuts));
        prop_assert_eq!(error, None);
        prop_assert_eq!(events.first().cloned(), Some(format!("text:{}", pieces.concat())));
    }
}
