//! The `openai-compatible` plugin end to end: a real client, the real gateway,
//! the plugin built from source, and a loopback upstream that follows OpenAI's
//! chat completions protocol (`crates/mock-openai`).

use std::time::{Duration, Instant};

mod openai_style;

use mock_openai::{MockOptions, MockUpstream};
use openai_style::last_chat;
use wasmgate_testkit::{
    Gateway, Value, bounded_stream, json, streamed_reasoning, streamed_text, user_request,
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

#[tokio::test]
async fn streamed_and_whole_answers_are_exact_with_usage() {
    let (_mock, gateway) = with_key().await;
    openai_style::answers_are_exact_with_usage(&gateway).await;
}

#[tokio::test]
async fn the_upstream_gets_the_key_the_extra_headers_and_an_openai_body() {
    let (mock, gateway) = with_key().await;
    openai_style::the_upstream_gets_the_key_and_an_openai_body(&mock, &gateway, KEY).await;
    let call = last_chat(&mock);
    assert_eq!(call.header("http-referer"), Some("https://wasmgate.test"));
    assert_eq!(call.header("x-title"), Some("wasmgate tests"));
    let sent = call.body.unwrap();
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let (mock, gateway) = with_key().await;
    openai_style::tool_calls_round_trip(&mock, &gateway).await;
}

#[tokio::test]
async fn reasoning_arrives_apart_from_the_answer() {
    let (_mock, gateway) = with_key().await;
    openai_style::reasoning_arrives_apart_from_the_answer(&gateway).await;
    // OpenRouter names the field `reasoning`.
    let body = user_request("mock-reasoning-openrouter", "hi", true);
    let (status, frames) = bounded_stream(&gateway, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        streamed_reasoning(&frames),
        "Let me think. The user wants an echo."
    );
    assert_eq!(streamed_text(&frames), "echo: hi");
}

#[tokio::test]
async fn refusals_become_the_right_status() {
    let (mock, gateway) = with_key().await;
    openai_style::refusals_become_the_right_status(&mock, &gateway).await;
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
    openai_style::a_refused_key_is_502_and_never_shown(&mock, &gateway, "bad-key-987654321").await;
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error_frame() {
    let (_mock, gateway) = with_key().await;
    openai_style::a_stream_cut_short_ends_with_an_error_frame(&gateway).await;
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
