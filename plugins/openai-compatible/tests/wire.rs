//! The wire mapping natively: request bodies, stream chunks, refusals, model lists.

use plugin_openai_compatible::wire;
use serde_json::{Value, json};
use wasmgate_plugin_sdk::openai_json;
use wasmgate_plugin_sdk::{
    ChatRequest, Event, FinishReason, Message, ProviderError, ReasoningEffort, Role, Tool,
    ToolChoice,
};

fn request(text: &str) -> ChatRequest {
    ChatRequest::new(
        "deepseek-chat",
        vec![Message::text(Role::User, text)],
        false,
    )
}

#[test]
fn a_plain_request_is_streamed_with_usage() {
    assert_eq!(
        wire::body(&request("Hi")).unwrap(),
        json!({"model": "deepseek-chat", "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": "Hi"}]})
    );
}

#[test]
fn sampling_stop_tools_and_extra_are_mapped() {
    let mut r = request("Weather?");
    r.sampling.temperature = Some(0.7);
    r.sampling.max_tokens = Some(64);
    r.stop = vec!["END".into()];
    r.tools = vec![Tool {
        name: "weather".into(),
        description: None,
        parameters: Some(r#"{"type":"object"}"#.into()),
    }];
    r.tool_choice = Some(ToolChoice::Auto);
    r.reasoning_effort = Some(ReasoningEffort::Low);
    r.extra = Some(r#"{"response_format": {"type": "json_object"}, "model": "not-this"}"#.into());
    let body = wire::body(&r).unwrap();
    assert_eq!(body["temperature"], json!(0.7));
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["tools"][0]["function"]["name"], "weather");
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(
        body["response_format"]["type"], "json_object",
        "unmapped fields pass on"
    );
    assert_eq!(
        body["model"], "deepseek-chat",
        "but never override mapped ones"
    );
    r.tools[0].parameters = Some("{not json".into());
    assert!(matches!(wire::body(&r), Err(ProviderError::BadRequest(_))));
}

fn decode(chunk: Value) -> (String, Option<FinishReason>) {
    let mut events = Vec::new();
    let finish = openai_json::chunk_events(&chunk, &mut events).unwrap();
    (format!("{events:?}"), finish)
}

fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

#[test]
fn chunks_become_text_reasoning_tool_calls_usage_and_finish() {
    let (events, finish) = decode(json!({"choices": [{"index": 0,
        "delta": {"role": "assistant", "content": "Hel", "reasoning_content": "hmm"},
        "finish_reason": null}]}));
    assert_eq!(
        events,
        debug([Event::Reasoning("hmm".into()), Event::Text("Hel".into())])
    );
    assert!(finish.is_none());
    let (events, _) = decode(json!({"choices": [{"delta": {"reasoning": "or", "content": null}}]}));
    assert_eq!(
        events,
        debug([Event::Reasoning("or".into())]),
        "OpenRouter's `reasoning`"
    );
    let (events, _) = decode(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_9", "type": "function",
         "function": {"name": "weather", "arguments": ""}}]}}]}));
    assert!(
        events.starts_with("[Event::ToolCall(") && events.contains("call_9"),
        "{events}"
    );
    let (_, finish) = decode(json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}));
    assert_eq!(debug(finish), debug(Some(FinishReason::ToolCalls)));
    let (events, finish) = decode(json!({"choices": [], "usage":
        {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}));
    assert!(
        events.starts_with("[Event::Usage(") && events.contains("total-tokens: 12"),
        "{events}"
    );
    assert!(finish.is_none());
    let (events, finish) = decode(json!({"choices": [], "usage": null}));
    assert_eq!((events.as_str(), finish.is_none()), ("[]", true));
    let mut events = Vec::new();
    let chunk = json!({"error": {"message": "overloaded", "code": 502}});
    let err = openai_json::chunk_events(&chunk, &mut events).unwrap_err();
    assert!(
        matches!(err, ProviderError::Upstream(ref f) if f.message.contains("overloaded")),
        "{err:?}"
    );
}

#[test]
fn refusals_are_typed() {
    let error = |code: &str, message: &str| {
        json!({"error": {"message": message, "type": "invalid_request_error", "code": code}})
            .to_string()
    };
    let cases = [
        (
            401,
            error("invalid_api_key", "Incorrect API key"),
            "unauthorized",
        ),
        (403, error("", "Forbidden"), "forbidden"),
        (
            403,
            error("", "Input flagged by moderation"),
            "content-filtered",
        ),
        (400, error("content_filter", "filtered"), "content-filtered"),
        (400, error("", "messages is required"), "bad-request"),
        (
            400,
            error("model_not_found", "no such model"),
            "model-not-found",
        ),
        (
            404,
            error("model_not_found", "The model `x` does not exist"),
            "model-not-found",
        ),
        (404, "Not Found".into(), "upstream"),
        (503, String::new(), "upstream"),
        (500, "<html>oops</html>".into(), "upstream"),
        (429, error("insufficient_quota", "quota"), "quota-exhausted"),
    ];
    for (status, body, expected) in cases {
        let err = wire::refusal(status, &body, None);
        assert_eq!(err.kind(), expected, "{status} {body}: {err:?}");
    }
    match wire::refusal(429, &error("rate_limit_exceeded", "slow down"), Some(7000)) {
        ProviderError::RateLimited(info) => {
            assert_eq!(info.retry_after_ms, Some(7000));
            assert!(info.message.contains("slow down"), "{}", info.message);
        }
        other => panic!("{other:?}"),
    }
    match wire::refusal(401, "{\"error\": \"bad key\"}", None) {
        ProviderError::Unauthorized(message) => assert_eq!(message, "HTTP 401: bad key"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn model_lists() {
    let body = r#"{"object":"list","data":[{"id":"m1","object":"model"},{"id":"m2"},{"x":1}]}"#;
    let ids: Vec<String> = wire::models(body)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
    assert!(wire::models("[]").is_err());
    assert!(wire::models("not json").is_err());
    assert_eq!(wire::model(" a ").unwrap().id, "a");
    assert!(wire::model(" ").is_none());
}
