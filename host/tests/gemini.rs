//! The Gemini API plugin end to end: a real client, the real gateway, the
//! plugin built from source, and a mock of generativelanguage.googleapis.com
//! on loopback that follows `docs/protocols/gemini-api.md`.

use mock_gemini::{MockOptions, MockUpstream};
use wasmgate_testkit::{Gateway, Value, json, streamed_text, user_request};

async fn setup(keys: &str) -> (MockUpstream, Gateway) {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gateway_for(&mock, keys);
    (mock, gateway)
}

fn gateway_for(mock: &MockUpstream, keys: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
[runtime]
first-event-timeout-secs = 3

[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env-list = "TEST_GEMINI_KEYS" }} }}
settings = {{ base-url = "{}" }}

[models]
"gemini-*" = "gemini"
"*" = "gemini"
"#,
            mock.base_url
        ))
        .env("TEST_GEMINI_KEYS", keys)
        .env("API_KEY", "sk-test-gemini-suite")
        .start()
}

fn generations(mock: &MockUpstream) -> Vec<mock_gemini::RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.is_generation())
        .collect()
}

#[tokio::test]
async fn a_non_streaming_reply_carries_text_usage_and_finish() {
    let (mock, gateway) = setup("good-1").await;
    let completion = gateway
        .chat_ok(&user_request("gemini-2.5-flash", "Say hi", false))
        .await;
    let choice = &completion["choices"][0];
    assert_eq!(choice["message"]["content"], "echo: Say hi");
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &completion["usage"];
    let (prompt, answer, total) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
        usage["total_tokens"].as_u64().unwrap(),
    );
    assert!(
        prompt > 0 && answer > 0 && total == prompt + answer,
        "{usage}"
    );

    let calls = generations(&mock);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(
        calls[0].key_source.as_deref(),
        Some("header"),
        "the key travels in x-goog-api-key"
    );
    assert!(
        !calls[0]
            .query
            .clone()
            .unwrap_or_default()
            .contains("good-1"),
        "never in the URL"
    );
}

#[tokio::test]
async fn a_streamed_reply_arrives_in_pieces_with_usage_and_done() {
    let (_mock, gateway) = setup("good-1").await;
    let mut body = user_request("gemini-2.5-flash", "Tell me a story about a fox", true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, frames) = gateway.chat_stream(&body).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "echo: Tell me a story about a fox");
    let pieces = frames
        .iter()
        .filter(|f| {
            f["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count();
    assert!(
        pieces >= 2,
        "the answer streams in several chunks, got {pieces}"
    );
    let n = frames.len();
    assert_eq!(frames[n - 1], "[DONE]");
    assert!(frames[n - 2]["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(frames[n - 3]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn an_image_part_reaches_the_upstream_as_inline_data() {
    let (mock, gateway) = setup("good-1").await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let body = json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "You describe images."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
            ]}
        ]
    });
    let completion = gateway.chat_ok(&body).await;
    assert!(
        completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("image/png")
    );

    let sent = generations(&mock).pop().unwrap().body.unwrap();
    let parts = sent["contents"][0]["parts"].as_array().unwrap();
    let inline = parts
        .iter()
        .find_map(|p| p.get("inlineData").or_else(|| p.get("inline_data")))
        .expect("an inlineData part");
    assert_eq!(inline["mimeType"], "image/png");
    assert_eq!(inline["data"], png);
    let system = sent
        .get("systemInstruction")
        .or_else(|| sent.get("system_instruction"))
        .unwrap();
    assert_eq!(system["parts"][0]["text"], "You describe images.");
    assert!(
        sent["contents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["role"] == "user" || c["role"] == "model")
    );
}

#[tokio::test]
async fn a_rate_limited_key_rotates_to_the_next_before_anything_is_sent() {
    let (mock, gateway) = setup("limited-0-a,good-b").await;
    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-2.5-flash", "rotate", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "echo: rotate");
    assert_eq!(mock.generation_keys(), ["limited-0-a", "good-b"]);
}

#[tokio::test]
async fn an_invalid_key_rotates_too_and_every_refusal_is_a_502_naming_it() {
    let (mock, gateway) = setup("bad-a,good-b").await;
    gateway
        .chat_ok(&user_request("gemini-2.5-flash", "x", false))
        .await;
    assert_eq!(mock.generation_keys(), ["bad-a", "good-b"]);

    let (_mock, gateway) = setup("bad-only").await;
    let response = gateway
        .chat(&user_request("gemini-2.5-flash", "x", false))
        .await;
    assert_eq!(response.status(), 502, "the caller's own key is fine");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    assert!(
        !body.to_string().contains("bad-only"),
        "the key never shows in errors: {body}"
    );
}

#[tokio::test]
async fn every_key_limited_is_429_with_retry_after() {
    let (_mock, gateway) = setup("limited-0-a,limited-0-b").await;
    let response = gateway
        .chat(&user_request("gemini-2.5-flash", "x", true))
        .await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 3, "2.5 s from RetryInfo, rounded up");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

/// A daily quota refused on a streamed call (`[{"error":…}]`) is still a
/// spent quota, not a passing rate limit.
#[tokio::test]
async fn a_daily_quota_on_a_streamed_request_is_insufficient_quota() {
    let (_mock, gateway) = setup("daily-a").await;
    let response = gateway
        .chat(&user_request("gemini-2.5-flash", "x", true))
        .await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
}

/// An answer blocked with finishReason SAFETY and nothing in it is a
/// refusal of the caller's content: 400 `content_filter`, the key is not
/// blamed (not rotated, still served next).
#[tokio::test]
async fn a_blocked_answer_is_a_content_filter_error_that_spares_the_key() {
    let (mock, gateway) = setup("good-1,good-2").await;
    for stream in [false, true] {
        let response = gateway
            .chat(&user_request("blocked_output", "x", stream))
            .await;
        assert_eq!(response.status(), 400, "stream {stream}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "content_filter", "{body}");
    }
    assert_eq!(generations(&mock).len(), 2, "one call each, no rotation");
    for _ in 0..2 {
        gateway
            .chat_ok(&user_request("gemini-2.5-flash", "fine", false))
            .await;
    }
    let mut keys = mock.generation_keys();
    keys.sort();
    keys.dedup();
    assert_eq!(keys, ["good-1", "good-2"], "both keys still serve");
}

#[tokio::test]
async fn tool_calls_round_trip_through_the_openai_format() {
    let (mock, gateway) = setup("good-1").await;
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let first = gateway
        .chat_ok(&json!({"model": "tool_call", "tools": tools,
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}))
        .await;
    let message = &first["choices"][0]["message"];
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    let call = &message["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["city"], "Paris");

    let second = gateway
        .chat_ok(&json!({"model": "tool_call", "tools": tools, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"temperature\": 21}"}
        ]}))
        .await;
    assert!(
        second["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("functionResponse")
    );
    let sent = generations(&mock).pop().unwrap().body.unwrap();
    let contents = sent["contents"].as_array().unwrap();
    assert!(
        contents
            .iter()
            .any(|c| c["role"] == "model" && c["parts"][0].get("functionCall").is_some())
    );
    assert!(contents.iter().any(|c| {
        c["parts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.get("functionResponse").is_some())
    }));
}

#[tokio::test]
async fn an_error_in_the_middle_of_a_stream_ends_it_with_an_error_frame() {
    let (_mock, gateway) = setup("good-1").await;
    // A dropped connection: tests/conformance.rs.
    for scenario in ["midstream_error"] {
        let (status, frames) = gateway
            .chat_stream(&user_request(scenario, "partial", true))
            .await;
        assert_eq!(status, 200, "{scenario}");
        assert!(
            !streamed_text(&frames).is_empty(),
            "{scenario}: the first chunks arrived"
        );
        let last = frames.last().unwrap();
        assert!(
            last["error"]["message"].as_str().is_some(),
            "{scenario}: ends with an error frame: {last}"
        );
        assert!(!frames.iter().any(|f| f == "[DONE]"), "{scenario}");
    }
}

/// Google also writes a mid-stream error as raw JSON lines without `data:`;
/// the caller sees that error, not a vague "cut off".
#[tokio::test]
async fn a_raw_json_error_mid_stream_reaches_the_caller() {
    let (_mock, gateway) = setup("good-1").await;
    let (status, frames) = gateway
        .chat_stream(&user_request("midstream_raw_error", "partial", true))
        .await;
    assert_eq!(status, 200);
    assert!(!streamed_text(&frames).is_empty());
    let last = frames.last().unwrap();
    let message = last["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Internal error encountered"),
        "ends with the upstream's error: {last}"
    );
}

/// A streamed call's refusal arrives as `[{"error":…}]`: the invalid key is
/// still recognised, set aside, and the caller is served by the next key.
#[tokio::test]
async fn a_streamed_request_sets_an_invalid_key_aside() {
    let (mock, gateway) = setup("bad-a,good-b").await;
    for turn in 0..3 {
        let (status, frames) = gateway
            .chat_stream(&user_request("gemini-2.5-flash", "again", true))
            .await;
        assert_eq!(status, 200, "turn {turn}");
        assert_eq!(streamed_text(&frames), "echo: again", "turn {turn}");
    }
    assert_eq!(
        mock.generation_keys(),
        ["bad-a", "good-b", "good-b", "good-b"],
        "tried once, then left aside"
    );
}

#[tokio::test]
async fn upstream_failures_are_502_and_a_hanging_upstream_504() {
    let (_mock, gateway) = setup("good-1").await;
    let overloaded = gateway.chat(&user_request("overloaded", "x", false)).await;
    assert_eq!(overloaded.status(), 502);
    let body: Value = overloaded.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded"),
        "{body}"
    );

    let hanging = gateway.chat(&user_request("timeout", "x", true)).await;
    assert_eq!(hanging.status(), 504);
    // And the gateway is fine afterwards.
    gateway
        .chat_ok(&user_request("gemini-2.5-flash", "still here", false))
        .await;
}

/// A Gemini thought signature travels as the tool call's provider data
/// (contract 0.2.0), not inside its id: returned to the caller as
/// `extra_content.google.thought_signature`, and sent upstream on the next
/// turn whether the client kept that field or rebuilt the call from its id,
/// name and arguments (the gateway remembers it by id for that caller).
#[tokio::test]
async fn a_thought_signature_round_trips_even_when_the_client_drops_it() {
    let (mock, gateway) = setup("good-1").await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    for stream in [false, true] {
        let ask = json!({"model": "tool_call", "tools": tools, "stream": stream,
            "messages": [{"role": "user", "content": "Weather in Paris?"}]});
        let call = if stream {
            let (status, frames) = gateway.chat_stream(&ask).await;
            assert_eq!(status, 200);
            frames
                .iter()
                .find_map(|f| f["choices"][0]["delta"]["tool_calls"].get(0).cloned())
                .expect("a streamed tool call")
        } else {
            gateway.chat_ok(&ask).await["choices"][0]["message"]["tool_calls"][0].clone()
        };
        let id = call["id"].as_str().unwrap().to_string();
        assert!(
            !id.contains(mock_gemini::THOUGHT_SIGNATURE),
            "not in the id: {id}"
        );
        assert_eq!(
            call["extra_content"]["google"]["thought_signature"],
            mock_gemini::THOUGHT_SIGNATURE,
            "stream={stream}: {call}"
        );
        let rebuilt = json!({"id": id, "type": "function", "function":
            {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
        for sent_back in [call.clone(), rebuilt] {
            gateway
                .chat_ok(
                    &json!({"model": "gemini-3.1-pro-preview", "tools": tools, "messages": [
                        {"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "content": null, "tool_calls": [sent_back]},
                        {"role": "tool", "tool_call_id": id, "content": "{\"temperature\": 21}"}
                    ]}),
                )
                .await;
            let sent = generations(&mock).pop().unwrap().body.unwrap();
            assert_eq!(
                sent["contents"][1]["parts"][0]["thoughtSignature"],
                mock_gemini::THOUGHT_SIGNATURE,
                "stream={stream}"
            );
        }
    }
    // Another caller cannot have that signature attached to its requests:
    // the memory is per caller key (this gateway has one key, so the check
    // is the unit test's; here: an id never answered gets the dummy).
    gateway
        .chat_ok(&json!({"model": "gemini-3.1-pro-preview", "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_never_made",
                "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_never_made", "content": "{}"}
        ]}))
        .await;
    let sent = generations(&mock).pop().unwrap().body.unwrap();
    assert_eq!(
        sent["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
}

/// Gemini 3 refuses a history tool call without its thought signature; a
/// client that rebuilt the call ids (losing the signature they carried) is
/// still answered: the plugin sends Google's documented dummy.
#[tokio::test]
async fn a_gemini_3_tool_call_whose_signature_was_lost_still_round_trips() {
    let (mock, gateway) = setup("good-1").await;
    let reply = gateway
        .chat_ok(&json!({"model": "gemini-3.1-pro-preview", "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_rebuilt",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_rebuilt", "content": "{\"temperature\": 21}"}
        ]}))
        .await;
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    let sent = generations(&mock).pop().unwrap().body.unwrap();
    assert_eq!(
        sent["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
}

/// A seed's retired or oddly-cased model name reaches the documented
/// successor (Google answers 404 for the retired ones).
#[tokio::test]
async fn a_retired_or_upper_case_model_name_reaches_its_successor() {
    let (mock, gateway) = setup("good-1").await;
    for (asked, sent) in [
        ("gemini-2.0-flash", "gemini-2.5-flash"),
        ("gemini-3-pro-preview", "gemini-3.1-pro-preview"),
        ("Gemini-2.5-PRO", "gemini-2.5-pro"),
    ] {
        let completion = gateway.chat_ok(&user_request(asked, "hi", false)).await;
        assert_eq!(completion["choices"][0]["message"]["content"], "echo: hi");
        let last = generations(&mock).pop().unwrap();
        assert_eq!(last.model.as_deref(), Some(sent), "{asked}");
    }
}

#[tokio::test]
async fn the_plugin_models_are_listed() {
    let (_mock, gateway) = setup("good-1").await;
    let ids = gateway.model_ids().await;
    assert!(
        ids.iter().any(|i| i == "gemini-2.5-pro") && ids.iter().any(|i| i == "gemini-2.5-flash"),
        "{ids:?}"
    );
}

// Search (issue #19): hajimi's `-search` models and OpenAI's
// `web_search_options` turn on Google Search grounding.

/// Sends `body` streamed or not; the answer's text.
async fn answer_text(gateway: &Gateway, body: &Value) -> String {
    gateway.answer_with_annotations(body).await.0
}

#[tokio::test]
async fn a_grounded_answer_cites_its_sources_as_openai_annotations() {
    let (mock, gateway) = setup("good-1").await;
    for stream in [false, true] {
        let body = user_request("gemini-2.5-flash-search", "Who wrote Faust?", stream);
        let (text, annotations) = gateway.answer_with_annotations(&body).await;
        assert_eq!(text, "echo: Who wrote Faust?");
        assert_eq!(
            annotations,
            vec![json!({"type": "url_citation", "url_citation": {
                "url": mock_gemini::grounding::SOURCE_URI,
                "title": mock_gemini::grounding::SOURCE_TITLE,
                "start_index": 0,
                "end_index": text.chars().count(),
            }})],
            "stream={stream}"
        );
        // Without grounding, no annotations.
        let plain = user_request("gemini-2.5-flash", "Who wrote Faust?", stream);
        assert!(gateway.answer_with_annotations(&plain).await.1.is_empty());
    }
    drop(mock);
}

#[tokio::test]
async fn a_search_model_sends_the_search_tool_and_the_base_model() {
    let (mock, gateway) = setup("good-1").await;
    for stream in [false, true] {
        mock.clear_requests();
        let body = user_request("gemini-2.5-flash-search", "Who won yesterday?", stream);
        // The grounded answer's text is unchanged: no citations are invented in it.
        assert_eq!(
            answer_text(&gateway, &body).await,
            "echo: Who won yesterday?"
        );
        let calls = generations(&mock);
        assert_eq!(calls.len(), 1, "stream={stream}");
        assert_eq!(calls[0].model.as_deref(), Some("gemini-2.5-flash"));
        assert!(calls[0].carries_search_tool(), "stream={stream}");
        assert_eq!(
            calls[0].body.as_ref().unwrap()["tools"],
            json!([{ "googleSearch": {} }])
        );
    }
}

#[tokio::test]
async fn web_search_options_send_the_search_tool() {
    let (mock, gateway) = setup("good-1").await;
    for stream in [false, true] {
        mock.clear_requests();
        let mut body = user_request("gemini-2.5-flash", "Who won yesterday?", stream);
        body["web_search_options"] = json!({});
        assert_eq!(
            answer_text(&gateway, &body).await,
            "echo: Who won yesterday?"
        );
        let calls = generations(&mock);
        assert_eq!(calls[0].model.as_deref(), Some("gemini-2.5-flash"));
        assert!(calls[0].carries_search_tool(), "stream={stream}");
    }
}

#[tokio::test]
async fn a_plain_model_sends_no_search_tool() {
    let (mock, gateway) = setup("good-1").await;
    for stream in [false, true] {
        mock.clear_requests();
        let body = user_request("gemini-2.5-flash", "Who won yesterday?", stream);
        answer_text(&gateway, &body).await;
        let calls = generations(&mock);
        assert!(!calls[0].carries_search_tool(), "stream={stream}");
        assert!(calls[0].body.as_ref().unwrap().get("tools").is_none());
    }
}

#[tokio::test]
async fn function_tools_and_search_travel_together() {
    let (mock, gateway) = setup("good-1").await;
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    for stream in [false, true] {
        mock.clear_requests();
        let mut body = user_request("gemini-2.5-flash-search", "Weather in Paris?", stream);
        body["tools"] = tools.clone();
        answer_text(&gateway, &body).await;
        let calls = generations(&mock);
        let sent = &calls[0].body.as_ref().unwrap()["tools"];
        assert_eq!(
            sent[0]["functionDeclarations"][0]["name"], "get_weather",
            "{sent}"
        );
        assert_eq!(sent[1], json!({ "googleSearch": {} }), "{sent}");
        assert_eq!(calls[0].model.as_deref(), Some("gemini-2.5-flash"));
    }
}
