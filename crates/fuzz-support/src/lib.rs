//! What the property tests of every parser share: how many cases to run,
//! where to cut a byte stream (or a text) into the reads a parser sees (a
//! parser must give the same result however its input arrives), noisy SSE
//! streams to feed it, and JSON documents that upstreams write raw.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

/// 256 cases (enough for CI on two cores); `PROPTEST_CASES` runs more
/// locally. Failures are not persisted to files: each becomes a plain
/// regression test next to the parser.
pub fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        max_shrink_iters: 512,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Cut positions in `0..=len` from arbitrary numbers, sorted, each once.
pub fn cuts(len: usize, raw: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.into_iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// `bytes` as the reads that end at the cuts `raw` picks (any position).
pub fn pieces(bytes: &[u8], raw: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut last = 0;
    for cut in cuts(bytes.len(), raw.iter().copied())
        .into_iter()
        .chain([bytes.len()])
    {
        out.push(bytes[last..cut].to_vec());
        last = cut;
    }
    out
}

/// Cut positions on the char boundaries of `text` (`0` and `text.len()`
/// included) from arbitrary numbers, sorted, each once: where a text may be
/// split without splitting a character, e.g. into growing snapshots.
pub fn char_cuts(text: &str, raw: &[usize]) -> Vec<usize> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut cuts: Vec<usize> = raw.iter().map(|r| bounds[r % bounds.len()]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// SSE bytes: `events` as `data:` events (LF or CRLF framed) among the
/// noise a parser must survive (a comment, `[DONE]`, a blank line, a `data:`
/// line cut short, half a character, random bytes) and the upstream's own
/// `extra` pieces (heartbeats, pretty-printed JSON, ...).
pub fn sse_bytes(
    events: impl Strategy<Value = String> + 'static,
    extra: &[&'static [u8]],
) -> BoxedStrategy<Vec<u8>> {
    let event = (events, any::<bool>()).prop_map(|(data, crlf)| {
        let end = if crlf { "\r\n\r\n" } else { "\n\n" };
        format!("data: {data}{end}").into_bytes()
    });
    let noise: Vec<&'static [u8]> = [
        b": keep-alive\n".as_slice(),
        b"data: [DONE]\n\n",
        b"\r\n",
        b"data: ",
        &[0xE4, 0xBD],
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect();
    let token = prop_oneof![
        3 => event,
        2 => proptest::sample::select(noise).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..10)
        .prop_map(|tokens| tokens.concat())
        .boxed()
}

/// Any JSON value a few levels deep, its strings and keys rich in what a
/// bracket-counting reader must get right: brackets, braces, quotes,
/// backslashes, commas and line breaks.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[\\PC{}\\[\\]{}\"\\\\,\n\t]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z{}\\[\\]\"\\\\]{0,4}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A whole document as an upstream writes one: an object or an array of
/// [`json_value`]s.
pub fn json_document() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(json_value(), 0..3).prop_map(Value::Array),
        proptest::collection::btree_map("[a-z]{1,4}", json_value(), 0..3)
            .prop_map(|map| Value::Object(map.into_iter().collect())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rejoin_to_the_input() {
        let bytes = b"data: one\n\ndata: two\n\n";
        let parts = pieces(bytes, &[3, 100, 3, 7]);
        assert_eq!(parts.concat(), bytes.to_vec());
        assert_eq!(cuts(10, [3, 14, 3]), vec![3]);
    }

    #[test]
    fn sse_bytes_carry_the_events_and_the_extra_pieces() {
        let strategy = sse_bytes(Just("marker".to_string()), &[b"data: [heartbeat]\n\n"]);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let streams: Vec<Vec<u8>> = (0..200)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let holds = |needle: &[u8]| {
            streams
                .iter()
                .any(|s| s.windows(needle.len()).any(|w| w == needle))
        };
        assert!(holds(b"data: marker\n\n"));
        assert!(holds(b"data: marker\r\n\r\n"));
        assert!(holds(b"[heartbeat]"));
    }

    #[test]
    fn char_cuts_fall_between_characters() {
        // Boundaries of "aé你" are 0, 1, 3 and 6.
        assert_eq!(char_cuts("aé你", &[2, 6, 3, 1, 5]), vec![1, 3, 6]);
        assert_eq!(char_cuts("aé你", &[4, 0]), vec![0]);
        assert!(char_cuts("", &[]).is_empty());
    }
}
