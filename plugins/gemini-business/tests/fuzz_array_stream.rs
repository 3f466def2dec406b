//! Bounded property-based fuzzing (#13) of the `widgetStreamAssist` JSON
//! array scanner (any bytes, any read boundaries, bounded elements) and of
//! the reader of the elements it cuts.

use fuzz_support::{config, json_document, pieces};
use plugin_gemini_business::answer::interpret;
use plugin_gemini_business::array_stream::{ArrayScanner, ScanError};
use proptest::prelude::*;
use serde_json::Value;

/// The elements of `body` read in the pieces the cuts `raw_cuts` pick, then
/// the first error (of a push or of `finish`), if any.
fn scan(
    mut scanner: ArrayScanner,
    body: &[u8],
    raw_cuts: &[usize],
) -> (Vec<Vec<u8>>, Option<ScanError>) {
    let mut out = Vec::new();
    for piece in pieces(body, raw_cuts) {
        match scanner.push(&piece) {
            Ok(elements) => out.extend(elements),
            Err(err) => return (out, Some(err)),
        }
    }
    (out, scanner.finish().err())
}

fn array_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b")]}'\n".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b",\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\\\"".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
        Just("é😀".as_bytes().to_vec()),
        Just(vec![0xF0, 0x9F]),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes: no panic; the same elements and error whatever the reads.
    #[test]
    fn any_split_matches_whole_reads(
        body in array_bytes(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = scan(ArrayScanner::new(), &body, &[]);
        let every: Vec<usize> = (1..body.len()).collect();
        for split in [
            scan(ArrayScanner::new(), &body, &raw_cuts),
            scan(ArrayScanner::new(), &body, &every),
        ] {
            // Elements read before an error come out before it.
            prop_assert_eq!(&split, &whole);
        }
        // Each element is the input's bytes, raw control characters in
        // strings escaped (six bytes each at most).
        let out: usize = whole.0.iter().map(Vec::len).sum();
        prop_assert!(out <= 6 * body.len());
    }

    /// Arrays written like the upstream (compact or pretty, any separators)
    /// round-trip at any read boundaries.
    #[test]
    fn arrays_round_trip(
        elements in proptest::collection::vec((json_document(), any::<bool>()), 0..6),
        prefix in any::<bool>(),
        crlf in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let texts: Vec<String> = elements
            .iter()
            .map(|(value, pretty)| {
                if *pretty {
                    serde_json::to_string_pretty(value).unwrap()
                } else {
                    value.to_string()
                }
            })
            .collect();
        let body = format!(
            "{}[{}]{nl}",
            if prefix { ")]}'\n" } else { "" },
            texts.join(&format!("{nl},"))
        );
        let bytes = body.as_bytes();
        let (got, error) = scan(ArrayScanner::new(), bytes, &raw_cuts);
        prop_assert_eq!(error, None);
        let got: Vec<Value> = got
            .iter()
            .map(|raw| serde_json::from_slice(raw).unwrap())
            .collect();
        let expected: Vec<Value> = elements.into_iter().map(|(v, _)| v).collect();
        prop_assert_eq!(got, expected);
    }

    /// No element larger than the limit is ever handed out, whatever the
    /// reads, and a larger one is refused.
    #[test]
    fn elements_never_exceed_the_limit(
        elements in proptest::collection::vec(json_document(), 1..5),
        pick in any::<usize>(),
        offset in -2i64..=2,
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let texts: Vec<String> = elements.iter().map(Value::to_string).collect();
        // A limit right around one element's size, where off-by-ones live.
        let near = texts[pick % texts.len()].len() as i64;
        let limit = (near + offset).max(1) as usize;
        let body = format!("[{}]", texts.join(","));
        let bytes = body.as_bytes();
        let (got, error) = scan(ArrayScanner::with_limit(limit), bytes, &raw_cuts);
        prop_assert!(got.iter().all(|e| e.len() <= limit), "{:?}", got);
        let too_large = texts.iter().any(|t| t.len() > limit);
        prop_assert_eq!(too_large, matches!(error, Some(ScanError::ElementTooLarge { .. })));
    }
}

/// Keys of the answer element, so that generated objects reach its paths.
fn element_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![
            Just("streamAssistResponse"), Just("answer"), Just("replies"),
            Just("groundedContent"), Just("content"), Just("text"), Just("thought"),
            Just("file"), Just("fileId"), Just("mimeType"), Just("inlineData"), Just("data"),
            Just("state"), Just("assistSkippedReasons"), Just("customerPolicyEnforcementResult"),
            Just("sessionInfo"), Just("session"), Just("error"), Just("code"), Just("message"),
            Just("status"),
        ]
        .prop_map(String::from),
        1 => "[a-z]{0,4}",
    ]
}

fn element_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(1.5)),
        prop_oneof![
            Just("SKIPPED"),
            Just("SUCCEEDED"),
            Just("iVBORw0KGgo="),
            Just("@@"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.into())),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(element_key(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the scanner hands out, and any JSON shaped like an answer
    /// element: pieces or a malformed-element error, never a panic.
    #[test]
    fn elements_are_read_or_refused(
        body in array_bytes(),
        value in element_value(),
    ) {
        for element in scan(ArrayScanner::new(), &body, &[]).0 {
            let _ = interpret(&element);
        }
        let _ = interpret(value.to_string().as_bytes());
    }
}
