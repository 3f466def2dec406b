use wasmgate_plugin_sdk::{FinishReason, Usage};

use super::*;

/// The generated types have no `PartialEq`; their `Debug` text is exact.
macro_rules! assert_same {
    ($left:expr, $right:expr) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right))
    };
}

/// A realistic CRLF-framed stream: a thought, two text chunks with a
/// multi-byte character, the finishing chunk with usage.
const STREAM: &str = concat!(
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Considering colours…\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"totalTokenCount\":3},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A réd \"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"bicycle.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":41,\"totalTokenCount\":49},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
);

fn expected() -> Vec<Event> {
    vec![
        Event::Reasoning("Considering colours…".into()),
        Event::Text("A réd ".into()),
        Event::Text("bicycle.".into()),
        Event::Usage(Usage {
            prompt_tokens: 3,
            completion_tokens: 46,
            reasoning_tokens: Some(41),
            total_tokens: 49,
        }),
        Event::Finish(FinishReason::Stop),
    ]
}

/// Feeds `input` in pieces of `size` bytes; returns the events and the error.
fn decode_in_pieces(input: &[u8], size: usize) -> (Vec<Event>, Option<ProviderError>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for piece in input.chunks(size) {
        if let Err(err) = decoder.feed(piece, &mut events) {
            return (events, Some(err));
        }
    }
    let end = decoder.end(&mut events).err();
    (events, end)
}

#[test]
fn crlf_stream_split_at_every_byte() {
    let input = STREAM.as_bytes();
    for size in 1..=input.len() {
        let (events, error) = decode_in_pieces(input, size);
        assert!(error.is_none(), "piece size {size}: {error:?}");
        assert_same!(events, expected());
    }
}

#[test]
fn lf_framing_and_eof_without_blank_line() {
    let lf = STREAM.replace("\r\n", "\n");
    let trimmed = lf.trim_end();
    for size in [1, 7, trimmed.len()] {
        let (events, error) = decode_in_pieces(trimmed.as_bytes(), size);
        assert!(error.is_none(), "{error:?}");
        assert_same!(events, expected());
    }
}

#[test]
fn an_error_event_mid_stream_is_typed() {
    let mut input = STREAM
        .split("\r\n\r\n")
        .take(2)
        .collect::<Vec<_>>()
        .join("\r\n\r\n");
    input.push_str("\r\n\r\ndata: {\"error\":{\"code\":500,\"message\":\"Internal error encountered.\",\"status\":\"INTERNAL\"}}\r\n\r\n");
    for size in [1, 5, input.len()] {
        let (events, error) = decode_in_pieces(input.as_bytes(), size);
        assert_same!(events, expected()[..2].to_vec());
        match error {
            Some(ProviderError::Upstream(failure)) => {
                assert_eq!(failure.status, 500);
                assert_eq!(failure.message, "INTERNAL: Internal error encountered.");
            }
            other => panic!("{other:?}"),
        }
    }
    let limited = "data: {\"error\":{\"code\":429,\"message\":\"Resource exhausted. Please retry in 3s.\",\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n";
    match decode_in_pieces(limited.as_bytes(), 3).1 {
        Some(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(3000)),
        other => panic!("{other:?}"),
    }
}

/// Google writes some mid-stream errors as raw JSON lines, not `data:` events.
#[test]
fn raw_json_error_lines_mid_stream_are_typed() {
    let first = STREAM.split("\r\n\r\n").next().unwrap();
    let input = format!(
        "{first}\r\n\r\n[{{\r\n  \"error\": {{\r\n    \"code\": 400,\r\n    \"message\": \"API key not valid. Please pass a valid API key.\",\r\n    \"status\": \"INVALID_ARGUMENT\"\r\n  }}\r\n}}\r\n]\r\n"
    );
    for size in [1, 7, input.len()] {
        let (events, error) = decode_in_pieces(input.as_bytes(), size);
        assert_same!(events, expected()[..1].to_vec());
        assert!(
            matches!(error, Some(ProviderError::Unauthorized(_))),
            "size {size}: {error:?}"
        );
    }
}

#[test]
fn a_stream_that_ends_before_the_finish_fails() {
    let first_two: String = STREAM
        .split("\r\n\r\n")
        .take(2)
        .map(|e| format!("{e}\r\n\r\n"))
        .collect();
    let (events, error) = decode_in_pieces(first_two.as_bytes(), 10);
    assert_same!(events, expected()[..2].to_vec());
    match error {
        Some(ProviderError::Upstream(failure)) => assert_eq!(failure.status, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn comments_and_done_markers_are_skipped() {
    let input = format!(": keep-alive\r\n\r\n{STREAM}data: [DONE]\r\n\r\n");
    let (events, error) = decode_in_pieces(input.as_bytes(), 9);
    assert!(error.is_none());
    assert_same!(events, expected());
}

#[test]
fn nothing_after_the_finish_is_read() {
    let input = format!(
        "{STREAM}data: {{\"error\":{{\"code\":500,\"message\":\"late\",\"status\":\"INTERNAL\"}}}}\r\n\r\n"
    );
    let (events, error) = decode_in_pieces(input.as_bytes(), input.len());
    assert!(error.is_none());
    assert_same!(events, expected());
}

#[test]
fn blocked_prompt_in_a_stream() {
    let input = "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":7,\"totalTokenCount\":7}}\r\n\r\n";
    assert!(matches!(
        decode_in_pieces(input.as_bytes(), 4).1,
        Some(ProviderError::ContentFiltered(_))
    ));
}

#[test]
fn whole_bodies_object_or_array() {
    let object = r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}}"#;
    assert_same!(
        decode_whole(object.as_bytes()).unwrap(),
        vec![
            Event::Text("Hello".into()),
            Event::Usage(Usage {
                prompt_tokens: 2,
                completion_tokens: 1,
                reasoning_tokens: None,
                total_tokens: 3
            }),
            Event::Finish(FinishReason::Stop),
        ]
    );
    let array = r#"[{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}
,
{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"MAX_TOKENS"}]}]"#;
    assert_same!(
        decode_whole(array.as_bytes()).unwrap(),
        vec![
            Event::Text("Hel".into()),
            Event::Text("lo".into()),
            Event::Finish(FinishReason::Length)
        ]
    );
    assert!(matches!(
        decode_whole(b"<html>oops</html>"),
        Err(ProviderError::Upstream(_))
    ));
    assert!(matches!(
        decode_whole(b"{}"),
        Err(ProviderError::Upstream(_))
    ));
}
