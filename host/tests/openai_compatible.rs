//! The `openai-compatible` plugin end to end: a real client, the real gateway,
//! the plugin built from source, and a loopback upstream that follows OpenAI's
//! chat completions protocol (`crates/mock-openai`).

use std::time::{Duration, Instant};

use mock_openai::{MockOptions, MockUpstream, RecordedRequest};
use wasmgate_testkit::{
    Gateway, Value, bounded_stream, failure, finish_reason, json, streamed_reasoning,
    streamed_text, text_pieces, user_request,
};

const KEY: &str = "sk-oai-test-0123456789";

async fn setup(key: Option<&str>, options: MockOptions) -> (MockUpstream, Gateway) {
    let mock = mock_openai::spawn(options).await;
    let secrets = match key {
        Some(_) => r#"secrets = { api-key = { env-list = "TEST_OAI_KEY" } }"#,
        None => "",
    };
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["openai-compatible"])
        .config(&format!(
            r#"
[runtime]
first-event-timeout-secs = 5

[[plugins.openai-compatible.accounts]]
id = "upstream"
{secrets}
settings = {{ base-url = "{}/v1/", extra-headers = "HTTP-Referer: https://wasmgate.test\nX-Title: wasmgate tests" }}

[models]
"*" = "openai-compatible"
"#,
            mock.base_url
        ))
        .env("TEST_OAI_KEY", key.unwrap_or_default())
        .env("API_KEY", "sk-gateway-openai-compatible-suite")
        .start();
    (mock, gateway)
}

async fn with_key() -> (MockUpstream, Gateway) {
    setup(Some(KEY), MockOptions::default()).await
}

fn last_chat(mock: &MockUpstream) -> RecordedRequest {
    mock.chats().pop().expect("the upstream got a chat call")
}

#[tokio::test]
async fn streamed_and_whole_answers_are_exact_with_usage() {
    let (_mock, gateway) = with_key().await;
    let (status, frames) =
        bounded_stream(&gateway, &user_request("deepseek-chat", "Say hi", true)).await;
    assert_eq!(status, 200, "{frames:?}");
    assert_eq!(streamed_text(&frames), "echo: Say hi");
    assert!(
        text_pieces(&frames) >= 2,
        "it streams in pieces: {frames:?}"
    );
    assert_eq!(finish_reason(&frames), Some("stop"));
    assert_eq!(frames.last().unwrap(), "[DONE]");

    let mut body = user_request("gpt-4o-mini", "Say hi", true);
    body["stream_options"] = json!({"include_usage": true});
    let (_, frames) = bounded_stream(&gateway, &body).await;
    let usage = frames
        .iter()
        .find_map(|f| f.get("usage").filter(|u| u.is_object()));
    let usage = usage.expect("a usage frame");
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

#[tokio::test]
async fn the_upstream_gets_the_key_the_extra_headers_and_an_openai_body() {
    let (mock, gateway) = with_key().await;
    let mut body = user_request("deepseek-chat", "Tell me", false);
    body["temperature"] = json!(0.5);
    body["max_tokens"] = json!(64);
    body["stop"] = json!(["END"]);
    body["messages"] = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]},
    ]);
    gateway.chat_ok(&body).await;
    let call = last_chat(&mock);
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.key(), Some(KEY), "the bearer key");
    assert_eq!(call.header("http-referer"), Some("https://wasmgate.test"));
    assert_eq!(call.header("x-title"), Some("wasmgate tests"));
    let sent = call.body.unwrap();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(sent["stream"], true, "always streamed from the upstream");
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent["temperature"], json!(0.5));
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}})
    );
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let (mock, gateway) = with_key().await;
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
    let sent = last_chat(&mock).body.unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "weather");
    assert_eq!(sent["tool_choice"], "auto");

    // Streamed, the pieces of the call arrive as deltas.
    body["stream"] = json!(true);
    let (_, frames) = bounded_stream(&gateway, &body).await;
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
    let sent = last_chat(&mock).body.unwrap();
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], id);
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["name"],
        "weather"
    );
    assert_eq!(sent["messages"][2]["role"], "tool");
    assert_eq!(sent["messages"][2]["tool_call_id"], id);
}

#[tokio::test]
async fn reasoning_arrives_apart_from_the_answer() {
    let (_mock, gateway) = with_key().await;
    for model in ["mock-reasoning", "mock-reasoning-openrouter"] {
        let (status, frames) = bounded_stream(&gateway, &user_request(model, "hi", true)).await;
        assert_eq!(status, 200, "{model}");
        assert_eq!(
            streamed_reasoning(&frames),
            "Let me think. The user wants an echo.",
            "{model}"
        );
        assert_eq!(streamed_text(&frames), "echo: hi", "{model}");
    }
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

#[tokio::test]
async fn a_rate_limit_is_429_with_the_upstreams_retry_after() {
    let (mock, gateway) = with_key().await;
    let body = user_request("gpt-4o-mini", "hi #scenario=rate-limit", true);
    let (status, retry_after, error) = failure(&gateway, &body).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(retry_after, Some(7), "the upstream's Retry-After");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert_eq!(mock.chats().len(), 1);
}

#[tokio::test]
async fn a_rate_limited_key_hands_over_to_the_next_and_cools_down() {
    let (mock, gateway) = setup(Some("limited-a,good-b"), MockOptions::default()).await;
    for _ in 0..3 {
        let answer = gateway
            .chat_ok(&user_request("gpt-4o-mini", "hi", false))
            .await;
        assert_eq!(answer["choices"][0]["message"]["content"], "echo: hi");
    }
    let chats = mock.chats();
    let keys: Vec<&str> = chats.iter().map(|c| c.key().unwrap_or_default()).collect();
    let limited = keys.iter().filter(|k| k.starts_with("limited")).count();
    assert_eq!(
        limited, 1,
        "tried once, then cooling down for 7 s: {keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| **k == "good-b").count(),
        3,
        "{keys:?}"
    );
}

#[tokio::test]
async fn a_refused_key_is_502_upstream_unauthorized() {
    let (mock, gateway) = setup(Some("bad-key-987654321"), MockOptions::default()).await;
    let (status, _, error) = failure(&gateway, &user_request("gpt-4o-mini", "hi", false)).await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["error"]["code"], "upstream_unauthorized");
    assert!(!error.to_string().contains("bad-key-987654321"), "{error}");
    assert_eq!(last_chat(&mock).status, 401);
}

#[tokio::test]
async fn an_unknown_model_is_the_callers_404() {
    // A refusal of the content: tests/conformance.rs.
    let (_mock, gateway) = with_key().await;
    let (status, _, error) = failure(&gateway, &user_request("gpt-9", "hi", false)).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (404, &json!("model_not_found")),
        "{error}"
    );
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error_frame() {
    let (_mock, gateway) = with_key().await;
    for scenario in ["cut", "cut-clean", "stream-error"] {
        let body = user_request(
            "gpt-4o-mini",
            &format!("partial #scenario={scenario}"),
            true,
        );
        let (status, frames) = bounded_stream(&gateway, &body).await;
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

#[tokio::test]
async fn a_keyless_local_server_needs_no_api_key() {
    let options = MockOptions {
        require_key: false,
        ..MockOptions::default()
    };
    let (mock, gateway) = setup(None, options).await;
    let completion = gateway
        .chat_ok(&user_request("llama-3.1-8b", "hi", false))
        .await;
    assert_eq!(completion["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(last_chat(&mock).header("authorization"), None);
}

#[tokio::test]
async fn the_model_list_follows_the_upstream() {
    let (mock, gateway) = with_key().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids = loop {
        let response = gateway
            .request(
                wasmgate_testkit::reqwest::Method::GET,
                "/v1/models?all=true",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let list: Value = response.json().await.unwrap();
        let ids: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["owned_by"] == "openai-compatible")
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        if ids.iter().any(|id| id == "deepseek-chat") || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for model in ["gpt-4o-mini", "deepseek-chat", "llama-3.1-8b"] {
        assert!(ids.iter().any(|id| id == model), "{model} in {ids:?}");
    }
    let listing = mock.requests().into_iter().find(|r| r.path == "/v1/models");
    assert_eq!(listing.expect("GET /v1/models").key(), Some(KEY));
}

/// The shipped `plugins.toml`'s commented-out example, uncommented and
/// pointed at two mocks, serves OpenRouter-style and local-server routes.
#[tokio::test]
async fn the_shipped_example_serves_openrouter_and_a_local_server() {
    let remote = mock_openai::spawn(MockOptions::default()).await;
    let local = mock_openai::spawn(MockOptions {
        require_key: false,
        ..MockOptions::default()
    })
    .await;
    let shipped = std::fs::read_to_string(wasmgate_testkit::workspace().join("plugins.toml"))
        .expect("plugins.toml");
    let mut accounts = String::new();
    let mut routes = String::from("[models]\n");
    let mut in_example = false;
    for line in shipped.lines() {
        in_example |= line == "# [[plugins.openai-compatible.accounts]]";
        if in_example && !line.starts_with('#') {
            in_example = false;
        }
        let uncommented = line.strip_prefix("# ").unwrap_or("");
        if in_example {
            accounts.push_str(uncommented);
            accounts.push('\n');
        } else if uncommented.starts_with("\"openrouter/*\"")
            || uncommented.starts_with("\"local/*\"")
        {
            routes.push_str(uncommented);
            routes.push('\n');
        }
    }
    assert!(
        accounts.contains("llamacpp") && routes.lines().count() == 3,
        "{accounts}{routes}"
    );
    let config = format!("{accounts}\n{routes}")
        .replace(
            "https://openrouter.ai/api/v1",
            &format!("{}/v1", remote.base_url),
        )
        .replace(
            "http://127.0.0.1:8080/v1",
            &format!("{}/v1", local.base_url),
        );
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["openai-compatible"])
        .plugin_as("openai-compatible", "llamacpp")
        .config(&config)
        .env("OPENROUTER_API_KEYS", "sk-or-one,sk-or-two")
        .env("API_KEY", "sk-gateway-openai-compatible-suite")
        .start();

    let answer = gateway
        .chat_ok(&user_request("openrouter/deepseek-chat", "Say hi", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "echo: Say hi");
    let call = last_chat(&remote);
    assert_eq!(call.body.as_ref().unwrap()["model"], "deepseek-chat");
    assert!(call.key().is_some_and(|key| key.starts_with("sk-or-")));
    assert_eq!(call.header("http-referer"), Some("https://example.com"));
    assert_eq!(call.header("x-title"), Some("wasmgate"));

    let (status, frames) =
        bounded_stream(&gateway, &user_request("local/llama-3.1-8b", "hi", true)).await;
    assert_eq!((status, streamed_text(&frames).as_str()), (200, "echo: hi"));
    assert_eq!(last_chat(&local).header("authorization"), None);
}
