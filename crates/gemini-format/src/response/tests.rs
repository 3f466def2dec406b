use super::*;

/// The generated types have no `PartialEq`; their `Debug` text is exact.
macro_rules! assert_same {
    ($left:expr, $right:expr) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right))
    };
}

/// Maps chunks in order; returns the events and the first error.
fn map(chunks: &[&str]) -> (Vec<Event>, Option<ProviderError>) {
    let mut mapper = ResponseMapper::new();
    let mut events = Vec::new();
    for chunk in chunks {
        if let Err(err) = mapper.push(chunk, &mut events) {
            return (events, Some(err));
        }
    }
    let end = mapper.end().err();
    (events, end)
}

fn ok(chunks: &[&str]) -> Vec<Event> {
    let (events, error) = map(chunks);
    assert!(error.is_none(), "unexpected error {error:?}");
    events
}

fn text(text: &str) -> Event {
    Event::Text(text.into())
}

const STREAM_1: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"abc"}"#;
const STREAM_2: &str = r#"{"candidates":[{"content":{"parts":[{"text":" there!"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":3,"thoughtsTokenCount":12,"totalTokenCount":18},"modelVersion":"gemini-2.5-flash","responseId":"abc"}"#;

#[test]
fn streamed_text_with_final_usage() {
    assert_same!(
        ok(&[STREAM_1, STREAM_2]),
        vec![
            text("Hi"),
            text(" there!"),
            Event::Usage(Usage {
                prompt_tokens: 3,
                completion_tokens: 15,
                reasoning_tokens: Some(12),
                total_tokens: 18
            }),
            Event::Finish(FinishReason::Stop),
        ]
    );
}

#[test]
fn thoughts_are_reasoning() {
    let body = r#"{
      "candidates": [{
        "content": {"role": "model", "parts": [
          {"text": "The user wants a short answer…", "thought": true},
          {"text": "A red bicycle."}
        ]},
        "finishReason": "STOP",
        "avgLogprobs": -0.21,
        "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}],
        "index": 0
      }],
      "usageMetadata": {"promptTokenCount": 263, "candidatesTokenCount": 5, "thoughtsTokenCount": 41, "totalTokenCount": 309,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}, {"modality": "IMAGE", "tokenCount": 258}]},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "mockResp123"
    }"#;
    assert_same!(
        ok(&[body]),
        vec![
            Event::Reasoning("The user wants a short answer…".into()),
            text("A red bicycle."),
            Event::Usage(Usage {
                prompt_tokens: 263,
                completion_tokens: 46,
                reasoning_tokens: Some(41),
                total_tokens: 309
            }),
            Event::Finish(FinishReason::Stop),
        ]
    );
}

#[test]
fn function_calls_get_stable_indices_and_ids() {
    let first = r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"}]},"index":0}]}"#;
    let second = r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_time","id":"fc-1"}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":8,"totalTokenCount":18}}"#;
    assert_same!(
        ok(&[first, second]),
        vec![
            Event::ToolCall(ToolCallDelta {
                index: 0,
                id: Some("call_0".into()),
                name: Some("get_weather".into()),
                arguments: r#"{"city":"Paris"}"#.into(),
                provider_data: Some("c2ln".into()),
            }),
            Event::ToolCall(ToolCallDelta {
                index: 1,
                id: Some("fc-1".into()),
                name: Some("get_time".into()),
                arguments: "{}".into(),
                provider_data: None,
            }),
            Event::Usage(Usage {
                prompt_tokens: 10,
                completion_tokens: 8,
                reasoning_tokens: None,
                total_tokens: 18
            }),
            Event::Finish(FinishReason::ToolCalls),
        ]
    );
}

#[test]
fn images_are_decoded() {
    let body = r#"{"candidates":[{"content":{"parts":[{"text":"Here it is"},{"inlineData":{"mimeType":"image/png","data":"iVBORw=="}}]},"finishReason":"STOP"}]}"#;
    assert_same!(
        ok(&[body]),
        vec![
            text("Here it is"),
            Event::Image(Media {
                mime_type: "image/png".into(),
                data: vec![0x89, b'P', b'N', b'G']
            }),
            Event::Finish(FinishReason::Stop),
        ]
    );
    let broken = r#"{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"!!!"}}]},"finishReason":"STOP"}]}"#;
    assert!(matches!(map(&[broken]).1, Some(ProviderError::Upstream(_))));
}

#[test]
fn finish_reasons() {
    let finish = |reason: &str| {
        let chunk = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"finishReason":"{reason}"}}]}}"#
        );
        ok(&[&chunk]).pop().unwrap()
    };
    assert_same!(finish("MAX_TOKENS"), Event::Finish(FinishReason::Length));
    assert_same!(
        finish("RECITATION"),
        Event::Finish(FinishReason::ContentFilter)
    );
    assert_same!(
        finish("PROHIBITED_CONTENT"),
        Event::Finish(FinishReason::ContentFilter)
    );
    assert_same!(
        finish("MALFORMED_FUNCTION_CALL"),
        Event::Finish(FinishReason::Other)
    );
    assert_same!(finish("LANGUAGE"), Event::Finish(FinishReason::Other));
}

#[test]
fn blocked_output_is_content_filtered() {
    let body = r#"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_SEXUALLY_EXPLICIT","probability":"HIGH","blocked":true}]}],"usageMetadata":{"promptTokenCount":42,"totalTokenCount":42}}"#;
    let (events, error) = map(&[body]);
    assert_same!(events, Vec::<Event>::new());
    assert!(
        matches!(error, Some(ProviderError::ContentFiltered(ref m)) if m.contains("blocked")),
        "{error:?}"
    );
    // Blocked after some text was streamed: the text stays, the finish says why.
    let late = r#"{"candidates":[{"finishReason":"SAFETY","index":0}]}"#;
    let events = ok(&[STREAM_1, late]);
    assert_same!(
        events.last(),
        Some(&Event::Finish(FinishReason::ContentFilter))
    );
}

#[test]
fn an_error_wrapped_in_an_array_mid_stream_is_classified() {
    let wrapped = r#"[{"error":{"code":429,"message":"Resource exhausted. Please retry in 3s.","status":"RESOURCE_EXHAUSTED"}}]"#;
    let (events, failure) = map(&[STREAM_1, wrapped]);
    assert_same!(events, vec![text("Hi")]);
    match failure {
        Some(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(3_000)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocked_prompt_is_content_filtered() {
    let body = r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":42,"totalTokenCount":42},"modelVersion":"gemini-2.5-pro","responseId":"x1"}"#;
    match map(&[body]).1 {
        Some(ProviderError::ContentFiltered(message)) => {
            assert!(message.contains("PROHIBITED_CONTENT"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_answers_are_errors() {
    let empty_text = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":42,"totalTokenCount":42}}"#;
    match map(&[empty_text]).1 {
        Some(ProviderError::Upstream(failure)) => assert!(failure.message.contains("empty answer")),
        other => panic!("{other:?}"),
    }
    // Thoughts alone are no answer either.
    let thoughts_only = r#"{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true}]},"finishReason":"STOP"}]}"#;
    let (events, error) = map(&[thoughts_only]);
    assert_same!(events, vec![Event::Reasoning("hmm".into())]);
    assert!(matches!(error, Some(ProviderError::Upstream(_))));
    // No candidates and no block reason.
    let nothing = r#"{"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"gemini-2.5-flash"}"#;
    match map(&[nothing]).1 {
        Some(ProviderError::Upstream(failure)) => {
            assert_eq!(failure.status, 200);
            assert!(failure.message.contains("without candidates"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stream_cut_before_the_finish_is_an_error() {
    let (events, error) = map(&[STREAM_1]);
    assert_same!(events, vec![text("Hi")]);
    match error {
        Some(ProviderError::Upstream(failure)) => {
            assert_eq!(failure.status, 0);
            assert!(failure.message.contains("before the model finished"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_event_mid_stream_keeps_earlier_events() {
    let error =
        r#"{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}"#;
    let (events, failure) = map(&[STREAM_1, error]);
    assert_same!(events, vec![text("Hi")]);
    match failure {
        Some(ProviderError::Upstream(failure)) => assert_eq!(failure.status, 500),
        other => panic!("{other:?}"),
    }
}

#[test]
fn chunks_after_the_finish_are_ignored() {
    let trailing = r#"{"usageMetadata":{"promptTokenCount":99,"totalTokenCount":99}}"#;
    let events = ok(&[STREAM_1, STREAM_2, trailing]);
    assert_same!(events.last(), Some(&Event::Finish(FinishReason::Stop)));
}

#[test]
fn malformed_chunks_are_errors() {
    assert!(matches!(
        map(&["{not json"]).1,
        Some(ProviderError::Upstream(_))
    ));
    assert!(matches!(
        map(&[r#"{"candidates":"nope"}"#]).1,
        Some(ProviderError::Upstream(_))
    ));
}

#[test]
fn snake_case_fields_are_read() {
    let body = r#"{"candidates":[{"content":{"parts":[{"function_call":{"name":"f","args":{}}}]},"finish_reason":"STOP"}],"usage_metadata":{"prompt_token_count":1,"candidates_token_count":2,"total_token_count":3}}"#;
    let events = ok(&[body]);
    assert_eq!(events.len(), 3);
    assert_same!(events[2], Event::Finish(FinishReason::ToolCalls));
}
