//! What every plugin for an OpenAI-style upstream must do, beyond the
//! conformance suite, written once: `openai_compatible.rs` runs it against
//! the Rust plugin and `js_plugin.rs` against the JavaScript one, each with a
//! gateway serving its plugin on `crates/mock-openai`.

#![allow(dead_code)] // each test file uses part of it

use mock_openai::{MockUpstream, RecordedRequest};
use wasmgate_testkit::{
    Gateway, bounded_stream, failure, finish_reason, json, streamed_reasoning, streamed_text,
    text_pieces, user_request,
};

pub fn last_chat(mock: &MockUpstream) -> RecordedRequest {
    mock.chats().pop().expect("the upstream got a chat call")
}

/// Streamed in pieces and whole, exactly the upstream's text, with its usage.
pub async fn answers_are_exact_with_usage(gateway: &Gateway) {
    let mut body = user_request("deepseek-chat", "Say hi", true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, frames) = bounded_stream(gateway, &body).await;
    assert_eq!(status, 200, "{frames:?}\n{}", gateway.logs());
    assert_eq!(streamed_text(&frames), "echo: Say hi");
    assert!(
        text_pieces(&frames) >= 2,
        "it streams in pieces: {frames:?}"
    );
    assert_eq!(finish_reason(&frames), Some("stop"));
    assert_eq!(frames.last().unwrap(), "[DONE]");
    let usage = frames
        .iter()
        .find_map(|f| f.get("usage").filter(|u| u.is_object()))
        .expect("a usage frame");
    assert_eq!(
        (
            &usage["prompt_tokens"],
            &usage["completion_tokens"],
            &usage["total_tokens"]
        ),
        (&json!(2), &json!(3), &json!(5)),
        "the upstream's counts: {usage}"
    );

    let completion = gateway
        .chat_ok(&user_request("gpt-4o-mini", "Say hi", false))
        .await;
    let choice = &completion["choices"][0];
    assert_eq!(choice["message"]["content"], "echo: Say hi");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(completion["usage"]["total_tokens"], 5, "{completion}");
}

/// The upstream gets the account's key and an OpenAI body: the caller's
/// sampling options as written, the contract's typed effort, images as the
/// data URLs they came as, always streamed.
pub async fn the_upstream_gets_the_key_and_an_openai_body(
    mock: &MockUpstream,
    gateway: &Gateway,
    key: &str,
) {
    let mut body = user_request("deepseek-chat", "Tell me", false);
    body["temperature"] = json!(0.7);
    body["max_tokens"] = json!(64);
    body["stop"] = json!(["END"]);
    body["response_format"] = json!({"type": "json_object"});
    body["reasoning_effort"] = json!("high");
    body["messages"] = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]},
    ]);
    gateway.chat_ok(&body).await;
    let call = last_chat(mock);
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.key(), Some(key), "the bearer key");
    let sent = call.body.unwrap();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(sent["stream"], true, "always streamed from the upstream");
    assert_eq!(sent["temperature"], json!(0.7), "as the caller wrote it");
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        sent["reasoning_effort"], "high",
        "the contract's typed effort"
    );
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}),
        "the image as the data URL it came as"
    );
}

/// Reasoning apart from the answer, streamed and whole.
pub async fn reasoning_arrives_apart_from_the_answer(gateway: &Gateway) {
    let (status, frames) =
        bounded_stream(gateway, &user_request("mock-reasoning", "hi", true)).await;
    assert_eq!(status, 200);
    assert_eq!(
        streamed_reasoning(&frames),
        "Let me think. The user wants an echo."
    );
    assert_eq!(streamed_text(&frames), "echo: hi");
    let whole = gateway
        .chat_ok(&user_request("mock-reasoning", "hi", false))
        .await;
    let message = &whole["choices"][0]["message"];
    assert_eq!(message["content"], "echo: hi");
    assert_eq!(
        message["reasoning_content"],
        "Let me think. The user wants an echo."
    );
}

/// A tool call streamed as deltas, whole, and the second turn with its
/// result reaching the upstream.
pub async fn tool_calls_round_trip(mock: &MockUpstream, gateway: &Gateway) {
    let tools = json!([{"type": "function", "function": {"name": "weather",
        "description": "Current weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}}}}}]);
    let mut body = user_request("gpt-4o-mini", "Weather in Paris?", false);
    body["tools"] = tools.clone();
    body["tool_choice"] = json!("auto");
    let first = gateway.chat_ok(&body).await;
    let message = &first["choices"][0]["message"];
    assert_eq!(
        first["choices"][0]["finish_reason"], "tool_calls",
        "{first}"
    );
    let call = &message["tool_calls"][0];
    assert_eq!(call["function"]["name"], "weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
    let sent = last_chat(mock).body.unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "weather");
    assert_eq!(sent["tool_choice"], "auto");

    // Streamed, the pieces of the call arrive as deltas.
    body["stream"] = json!(true);
    let (_, frames) = bounded_stream(gateway, &body).await;
    let arguments: String = frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    assert_eq!(finish_reason(&frames), Some("tool_calls"));

    let id = call["id"].as_str().unwrap();
    let mut next = user_request("gpt-4o-mini", "Weather in Paris?", false);
    next["tools"] = tools;
    next["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "sunny, 21 °C"},
    ]);
    let answer = gateway.chat_ok(&next).await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "tool said: sunny, 21 °C"
    );
    let sent = last_chat(mock).body.unwrap();
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], id);
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["name"],
        "weather"
    );
    assert_eq!(sent["messages"][2]["role"], "tool");
    assert_eq!(sent["messages"][2]["tool_call_id"], id);
}

/// A rate limit is 429 with the upstream's `Retry-After`; an unknown model
/// is the caller's 404. (A content-filter refusal: tests/conformance.rs.)
pub async fn refusals_become_the_right_status(mock: &MockUpstream, gateway: &Gateway) {
    let body = user_request("gpt-4o-mini", "hi #scenario=rate-limit", true);
    let (status, retry_after, error) = failure(gateway, &body).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(retry_after, Some(7), "the upstream's Retry-After");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert_eq!(mock.chats().len(), 1);
    let (status, _, error) = failure(gateway, &user_request("gpt-9", "hi", false)).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (404, &json!("model_not_found")),
        "{error}"
    );
}

/// With `bad_key` on its only account: 502 `upstream_unauthorized`, and the
/// key is never shown.
pub async fn a_refused_key_is_502_and_never_shown(
    mock: &MockUpstream,
    gateway: &Gateway,
    bad_key: &str,
) {
    let (status, _, error) = failure(gateway, &user_request("gpt-4o-mini", "hi", false)).await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["error"]["code"], "upstream_unauthorized");
    assert!(!error.to_string().contains(bad_key), "{error}");
    assert_eq!(last_chat(mock).status, 401);
}

/// However the stream breaks (a reset, a clean close before `[DONE]`, an
/// error object mid-stream), the client gets what arrived and an error frame.
pub async fn a_stream_cut_short_ends_with_an_error_frame(gateway: &Gateway) {
    for scenario in ["cut", "cut-clean", "stream-error"] {
        let body = user_request(
            "gpt-4o-mini",
            &format!("partial #scenario={scenario}"),
            true,
        );
        let (status, frames) = bounded_stream(gateway, &body).await;
        assert_eq!(status, 200, "{scenario}");
        assert_eq!(
            streamed_text(&frames),
            "echo:",
            "{scenario}: the first piece arrived"
        );
        let last = frames.last().unwrap();
        assert!(last["error"]["message"].is_string(), "{scenario}: {last}");
        assert!(!frames.iter().any(|f| f == "[DONE]"), "{scenario}");
    }
}
