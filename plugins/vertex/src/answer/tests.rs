use std::collections::VecDeque;

use wasmgate_plugin_sdk::{FinishReason, ToolCallDelta, Usage};

use super::*;

/// A body delivered in the given pieces, then a clean end or a failure.
struct Pieces {
    pieces: VecDeque<Vec<u8>>,
    then: Option<ProviderError>,
    reads: std::rc::Rc<std::cell::Cell<usize>>,
}

impl BodySource for Pieces {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        self.reads.set(self.reads.get() + 1);
        match self.pieces.pop_front() {
            Some(piece) => Ok(Some(piece)),
            None => match self.then.take() {
                Some(error) => Err(error),
                None => Ok(None),
            },
        }
    }
}

fn pieces(bytes: &[u8], size: usize) -> Pieces {
    Pieces {
        pieces: bytes.chunks(size).map(<[u8]>::to_vec).collect(),
        then: None,
        reads: Default::default(),
    }
}

fn drain<B: BodySource>(answer: &Answer<B>) -> (Vec<Event>, Option<ProviderError>) {
    let mut events = Vec::new();
    loop {
        match answer.next_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => return (events, Some(error)),
        }
    }
}

/// The stream of `protocols/vertex.md` §5.2, with Google's CRLF line ends.
const STREAM: &str = concat!(
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Considering colours…\",\"thought\":true}]}}],\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"A red \"}]}}]}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"bicycle — ✓.\"}]},\"finishReason\":\"STOP\"}],",
    "\"usageMetadata\":{\"promptTokenCount\":263,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":41,\"totalTokenCount\":309,\"trafficType\":\"ON_DEMAND\"}}\r\n\r\n",
);

fn expected() -> Vec<Event> {
    vec![
        Event::Reasoning("Considering colours…".into()),
        Event::Text("A red ".into()),
        Event::Text("bicycle — ✓.".into()),
        Event::Usage(Usage {
            prompt_tokens: 263,
            completion_tokens: 46,
            reasoning_tokens: Some(41),
            total_tokens: 309,
        }),
        Event::Finish(FinishReason::Stop),
    ]
}

#[test]
fn crlf_stream_split_at_every_byte() {
    let bytes = STREAM.as_bytes();
    for size in 1..=bytes.len() {
        let (events, error) = drain(&Answer::streaming(pieces(bytes, size)));
        assert!(error.is_none(), "piece size {size}: {error:?}");
        assert_same!(events, expected(), "piece size {size}");
    }
}

#[test]
fn lf_stream_and_last_event_without_blank_line() {
    let lf = STREAM.replace("\r\n", "\n");
    let trimmed = lf.trim_end();
    let (events, error) = drain(&Answer::streaming(pieces(trimmed.as_bytes(), 7)));
    assert!(error.is_none(), "{error:?}");
    assert_same!(events, expected());
}

#[test]
fn events_are_yielded_before_the_rest_is_read() {
    let body = pieces(STREAM.as_bytes(), STREAM.len() / 3);
    let reads = body.reads.clone();
    let answer = Answer::streaming(body);
    assert_same!(
        answer.next_event(),
        Ok::<_, ProviderError>(Some(Event::Reasoning("Considering colours…".into())))
    );
    assert_same!(
        reads.get(),
        1,
        "one network read was enough for the first event"
    );
}

#[test]
fn nothing_is_read_after_the_finish() {
    let mut body = pieces(STREAM.as_bytes(), STREAM.len());
    // The server keeps the connection open; reading again would fail.
    body.then = Some(ProviderError::Timeout("should not be read".into()));
    let (events, error) = drain(&Answer::streaming(body));
    assert!(error.is_none(), "{error:?}");
    assert_same!(events, expected());
}

#[test]
fn an_error_event_mid_stream_fails_after_the_text_so_far() {
    let body = concat!(
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello \"}]}}]}\r\n\r\n",
        "data: {\"error\":{\"code\":503,\"message\":\"The service is currently unavailable.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
    );
    let (events, error) = drain(&Answer::streaming(pieces(body.as_bytes(), 5)));
    assert_same!(events, vec![Event::Text("Hello ".into())]);
    assert_same!(
        error,
        Some(ProviderError::upstream(
            503,
            "UNAVAILABLE: The service is currently unavailable."
        ))
    );
}

/// An error written as raw, pretty-printed JSON lines (no `data:`), as
/// google-genai's stream reader expects, wrapped in an array.
#[test]
fn raw_json_error_lines_mid_stream_are_classified() {
    let body = concat!(
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello \"}]}}]}\r\n\r\n",
        "[{\r\n  \"error\": {\r\n    \"code\": 429,\r\n    \"message\": \"Resource exhausted, retry in 4s.\",\r\n    \"status\": \"RESOURCE_EXHAUSTED\"\r\n  }\r\n}\r\n]\r\n",
    );
    let (events, error) = drain(&Answer::streaming(pieces(body.as_bytes(), 5)));
    assert_same!(events, vec![Event::Text("Hello ".into())]);
    match error {
        Some(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(4_000)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_body_cut_before_the_finish_is_an_error() {
    let cut = &STREAM[..STREAM.find("data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"bicycle").unwrap()];
    let (events, error) = drain(&Answer::streaming(pieces(cut.as_bytes(), 11)));
    assert_same!(events.len(), 2);
    assert!(
        matches!(error, Some(ProviderError::Upstream(_))),
        "{error:?}"
    );

    let mut broken = pieces(cut.as_bytes(), cut.len());
    broken.then = Some(ProviderError::upstream(0, "connection reset"));
    let (events, error) = drain(&Answer::streaming(broken));
    assert_same!(events.len(), 2);
    assert_same!(error, Some(ProviderError::upstream(0, "connection reset")));
}

#[test]
fn a_blocked_prompt_is_content_filtered() {
    let body = "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":7,\"totalTokenCount\":7}}\r\n\r\n";
    let (events, error) = drain(&Answer::streaming(pieces(body.as_bytes(), 9)));
    assert!(events.is_empty());
    assert!(matches!(error, Some(ProviderError::ContentFiltered(m)) if m.contains("SAFETY")));
}

#[test]
fn function_calls_stream_whole() {
    let body = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},\"finishReason\":\"STOP\"}]}\r\n\r\n";
    let (events, error) = drain(&Answer::streaming(pieces(body.as_bytes(), 4)));
    assert!(error.is_none(), "{error:?}");
    assert_same!(
        events,
        vec![
            Event::ToolCall(ToolCallDelta {
                index: 0,
                id: Some("call_0".into()),
                name: Some("get_weather".into()),
                arguments: r#"{"city":"Paris"}"#.into(),
                provider_data: None,
            }),
            Event::Finish(FinishReason::ToolCalls),
        ]
    );
}

#[test]
fn whole_bodies_object_or_array() {
    let object = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"A red bicycle."}]},"finishReason":"MAX_TOKENS"}],
        "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}}"#;
    assert_same!(
        decode_whole(object.as_bytes()).unwrap(),
        vec![
            Event::Text("A red bicycle.".into()),
            Event::Usage(Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                reasoning_tokens: None,
                total_tokens: 7
            }),
            Event::Finish(FinishReason::Length),
        ]
    );
    let array = r#"[{"candidates":[{"content":{"role":"model","parts":[{"text":"A "}]}}]},
        {"candidates":[{"content":{"role":"model","parts":[{"text":"b"}]},"finishReason":"STOP"}]}]"#;
    let events = decode_whole(array.as_bytes()).unwrap();
    assert_same!(
        &events[..2],
        &[Event::Text("A ".into()), Event::Text("b".into())]
    );
    assert!(matches!(
        decode_whole(b"<html>"),
        Err(ProviderError::Upstream(_))
    ));
    assert!(matches!(
        decode_whole(b"{}"),
        Err(ProviderError::Upstream(_))
    ));

    let answer: Answer<Pieces> = Answer::decoded(vec![Event::Text("x".into())]);
    assert_same!(
        drain(&answer),
        (vec![Event::Text("x".into())], None::<ProviderError>)
    );
}
