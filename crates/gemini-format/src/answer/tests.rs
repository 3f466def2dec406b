use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use wasmgate_plugin_sdk::http::HttpError;
use wasmgate_plugin_sdk::{FinishReason, Usage};

use super::*;

/// The generated types have no `PartialEq`; their `Debug` text is exact.
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($message:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($message)+)?)
    };
}

/// A body delivered in the given pieces, then a clean end or a failure;
/// counts the reads.
struct Pieces {
    pieces: VecDeque<Vec<u8>>,
    then: Option<HttpError>,
    reads: Rc<Cell<usize>>,
}

impl Pieces {
    fn of(pieces: &[&str]) -> Self {
        Pieces {
            pieces: pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
            then: None,
            reads: Rc::default(),
        }
    }

    /// `bytes` in reads of `size` bytes.
    fn split(bytes: &[u8], size: usize) -> Self {
        Pieces {
            pieces: bytes.chunks(size).map(<[u8]>::to_vec).collect(),
            then: None,
            reads: Rc::default(),
        }
    }

    /// Fails with `error` after the pieces instead of ending.
    fn then_fail(mut self, error: HttpError) -> Self {
        self.then = Some(error);
        self
    }
}

impl Body for Pieces {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.reads.set(self.reads.get() + 1);
        match self.pieces.pop_front() {
            Some(piece) => Ok(Some(piece)),
            None => self.then.take().map_or(Ok(None), Err),
        }
    }
}

/// Every event, then the error that ended the answer (if any); checks that
/// nothing follows an error.
fn drain(answer: &Answer<Pieces>) -> (Vec<Event>, Option<ProviderError>) {
    let mut events = Vec::new();
    loop {
        match answer.next_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => {
                assert!(matches!(answer.next_event(), Ok(None)), "ended");
                return (events, Some(error));
            }
        }
    }
}

fn decode(body: &str, size: usize) -> (Vec<Event>, Option<ProviderError>) {
    drain(&streaming(Pieces::split(body.as_bytes(), size)))
}

/// A realistic CRLF-framed stream: a thought, two text chunks with
/// multi-byte characters, the finishing chunk with usage.
const STREAM: &str = concat!(
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Considering colours…\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"totalTokenCount\":3},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A réd \"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"bicycle — ✓.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":41,\"totalTokenCount\":49,\"trafficType\":\"ON_DEMAND\"},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
);

fn expected() -> Vec<Event> {
    vec![
        Event::Reasoning("Considering colours…".into()),
        Event::Text("A réd ".into()),
        Event::Text("bicycle — ✓.".into()),
        Event::Usage(Usage {
            prompt_tokens: 3,
            completion_tokens: 46,
            reasoning_tokens: Some(41),
            total_tokens: 49,
        }),
        Event::Finish(FinishReason::Stop),
    ]
}

/// The stream's first `count` events, each with its blank line.
fn first_events(count: usize) -> String {
    STREAM.split_inclusive("\r\n\r\n").take(count).collect()
}

#[test]
fn crlf_stream_split_at_every_byte() {
    for size in 1..=STREAM.len() {
        let (events, error) = decode(STREAM, size);
        assert!(error.is_none(), "piece size {size}: {error:?}");
        assert_same!(events, expected(), "piece size {size}");
    }
}

#[test]
fn lf_framing_and_a_last_event_without_its_blank_line() {
    let lf = STREAM.replace("\r\n", "\n");
    let trimmed = lf.trim_end();
    for size in [1, 7, trimmed.len()] {
        let (events, error) = decode(trimmed, size);
        assert!(error.is_none(), "{error:?}");
        assert_same!(events, expected());
    }
}

#[test]
fn a_batch_is_what_one_read_decoded_and_reading_waits_for_the_host() {
    let first = first_events(1);
    let (head, tail) = first.split_at(17);
    let body = Pieces::of(&[head, tail, &STREAM[first.len()..]]);
    let reads = body.reads.clone();
    let answer = streaming(body);
    assert_same!(answer.next_batch().unwrap(), &expected()[..1]);
    assert_eq!(reads.get(), 2, "the first event needed two reads, no more");
    assert_same!(answer.next_batch().unwrap(), &expected()[1..]);
    assert!(answer.next_batch().unwrap().is_empty());
}

#[test]
fn nothing_after_the_finish_is_read() {
    // A late error event in the same read is ignored, and the body, which
    // would fail if read again, is not.
    let late = format!(
        "{STREAM}data: {{\"error\":{{\"code\":500,\"message\":\"late\",\"status\":\"INTERNAL\"}}}}\r\n\r\n"
    );
    let body = Pieces::of(&[&late]).then_fail(HttpError::Timeout("kept open".into()));
    let (events, error) = drain(&streaming(body));
    assert!(error.is_none(), "{error:?}");
    assert_same!(events, expected());
}

#[test]
fn comments_and_done_markers_are_skipped() {
    let input = format!(": keep-alive\r\n\r\n{STREAM}data: [DONE]\r\n\r\n");
    let (events, error) = decode(&input, 9);
    assert!(error.is_none(), "{error:?}");
    assert_same!(events, expected());
}

/// The error `input` ends with, the same in reads of any size, after the
/// stream's first `kept` events.
fn fails_after(input: &str, kept: usize) -> ProviderError {
    let (events, error) = decode(input, input.len());
    let error = error.expect("the answer fails");
    assert_same!(events, &expected()[..kept]);
    for size in [1, 5] {
        assert_same!(decode(input, size), (&expected()[..kept], Some(&error)));
    }
    error
}

fn retry_after_ms(error: ProviderError) -> Option<u64> {
    match error {
        ProviderError::RateLimited(info) => info.retry_after_ms,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_event_mid_stream_is_typed_after_the_events_before_it() {
    let input = first_events(2)
        + "data: {\"error\":{\"code\":500,\"message\":\"Internal error encountered.\",\"status\":\"INTERNAL\"}}\r\n\r\n";
    assert_same!(
        fails_after(&input, 2),
        ProviderError::upstream(500, "INTERNAL: Internal error encountered.")
    );
    let limited = "data: {\"error\":{\"code\":429,\"message\":\"Resource exhausted. Please retry in 3s.\",\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n";
    assert_eq!(retry_after_ms(fails_after(limited, 0)), Some(3000));
}

/// Google writes some mid-stream errors as raw, pretty-printed JSON lines
/// (no `data:`), often wrapped in an array, as google-genai's reader expects.
#[test]
fn raw_json_error_lines_mid_stream_are_typed() {
    let invalid_key = first_events(1)
        + "[{\r\n  \"error\": {\r\n    \"code\": 400,\r\n    \"message\": \"API key not valid. Please pass a valid API key.\",\r\n    \"status\": \"INVALID_ARGUMENT\"\r\n  }\r\n}\r\n]\r\n";
    let error = fails_after(&invalid_key, 1);
    assert!(matches!(error, ProviderError::Unauthorized(_)), "{error:?}");
    let exhausted = first_events(1)
        + "{\r\n  \"error\": {\r\n    \"code\": 429,\r\n    \"message\": \"Resource exhausted, retry in 4s.\",\r\n    \"status\": \"RESOURCE_EXHAUSTED\"\r\n  }\r\n}\r\n";
    assert_eq!(retry_after_ms(fails_after(&exhausted, 1)), Some(4_000));
}

#[test]
fn a_clean_end_before_the_finish_is_an_error_after_the_events() {
    match fails_after(&first_events(2), 2) {
        ProviderError::Upstream(failure) => assert_eq!(failure.status, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_broken_body_is_an_upstream_error_or_a_timeout_after_the_events() {
    let reset = Pieces::of(&[&first_events(2)]).then_fail(HttpError::Protocol("reset".into()));
    let (events, error) = drain(&streaming(reset));
    assert_same!(events, &expected()[..2]);
    match error {
        Some(ProviderError::Upstream(failure)) => {
            assert_eq!(failure.status, 0);
            assert!(failure.message.contains("broke off"), "{}", failure.message);
        }
        other => panic!("{other:?}"),
    }
    let stalled = Pieces::of(&[&first_events(1)]).then_fail(HttpError::Timeout("idle".into()));
    let (events, error) = drain(&streaming(stalled));
    assert_eq!(events.len(), 1);
    assert!(
        matches!(error, Some(ProviderError::Timeout(_))),
        "{error:?}"
    );
}

#[test]
fn a_blocked_prompt_is_content_filtered() {
    let input = "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":7,\"totalTokenCount\":7}}\r\n\r\n";
    let error = fails_after(input, 0);
    assert!(
        matches!(error, ProviderError::ContentFiltered(ref m) if m.contains("SAFETY")),
        "{error:?}"
    );
}

#[test]
fn whole_bodies_object_or_array() {
    let object = r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}}"#;
    let hello = vec![
        Event::Text("Hello".into()),
        Event::Usage(Usage {
            prompt_tokens: 2,
            completion_tokens: 1,
            reasoning_tokens: None,
            total_tokens: 3,
        }),
        Event::Finish(FinishReason::Stop),
    ];
    assert_same!(decode_whole(object.as_bytes()).unwrap(), hello);
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
    for garbage in ["<html>oops</html>", "{}"] {
        assert!(matches!(
            decode_whole(garbage.as_bytes()),
            Err(ProviderError::Upstream(_))
        ));
    }
    // Handed over as they are, without a body to read.
    let answer: Answer<Pieces> = complete(hello.clone());
    assert_same!(drain(&answer), (hello, None::<ProviderError>));
}

#[test]
fn a_response_is_streamed_only_when_asked_for_and_sent_as_a_stream() {
    let response = |content_type: &str, body: &str| {
        let body = Pieces::of(&[body]);
        let headers = vec![("content-type".to_string(), content_type.as_bytes().to_vec())];
        Response::new(200, headers, Box::new(body))
    };
    let sse = of_response(response("text/event-stream", STREAM), true, 1 << 20).unwrap();
    assert_same!(sse.next_batch().unwrap(), expected());
    // A proxy answered the stream request with the whole answer as JSON.
    let whole = r#"[{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}]}]"#;
    let json = of_response(
        response("application/json; charset=UTF-8", whole),
        true,
        1 << 20,
    );
    let json = json.unwrap().next_batch().unwrap();
    assert_same!(
        json,
        [Event::Text("Hi".into()), Event::Finish(FinishReason::Stop)]
    );
    let too_long = of_response(response("application/json", whole), false, 10);
    assert!(too_long.is_err());
}
