//! A provider plugin written in JavaScript (`plugins-js/openai-js`), built
//! with componentize-js from npm (see `wasmgate_testkit::js_plugin`) and
//! served unchanged by the real gateway, against the loopback OpenAI-style
//! upstream (`crates/mock-openai`). The conformance suite runs it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mock_openai::{MockOptions, MockUpstream};
use wasmgate_testkit::js_plugin::JS_PLUGIN;
use wasmgate_testkit::{
    Gateway, bounded_stream, failure, finish_reason, json, streamed_reasoning, streamed_text,
    text_pieces, user_request,
};

const KEY: &str = "sk-js-test-0123456789";

fn config(base_url: &str, secrets: &str) -> String {
    format!(
        r#"
[runtime]
first-event-timeout-secs = 20

[[plugins.{JS_PLUGIN}.accounts]]
id = "upstream"
{secrets}
settings = {{ base-url = "{base_url}/v1" }}

[models]
"*" = "{JS_PLUGIN}"
"#
    )
}

/// A gateway serving the JS plugin against `mock`, the account's key in
/// `TEST_JS_KEY` when given; with the "plugin loaded" line of its log.
async fn serve(mock: &MockUpstream, key: Option<&str>) -> Option<(Gateway, String)> {
    let secrets = match key {
        Some(_) => r#"secrets = { api-key = { env-list = "TEST_JS_KEY" } }"#,
        None => "",
    };
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(&config(&mock.base_url, secrets))
        .env("TEST_JS_KEY", key.unwrap_or_default())
        .env("API_KEY", "sk-gateway-js-plugin-suite")
        .start_with_js_plugin()
        .await
}

#[tokio::test]
async fn a_second_gateway_loads_the_component_from_the_compile_cache() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((_gateway, line)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    assert!(line.contains(r#"compiled="cached""#), "{line}");
    assert!(line.contains("openai-js@0.2.0"), "{line}");
}

#[tokio::test]
async fn streamed_and_whole_answers_are_exact_with_usage() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    let mut body = user_request("deepseek-chat", "Say hi", true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, frames) = bounded_stream(&gateway, &body).await;
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
        (&usage["prompt_tokens"], &usage["completion_tokens"]),
        (&json!(2), &json!(3)),
        "the upstream's counts: {usage}"
    );

    let completion = gateway
        .chat_ok(&user_request("gpt-4o-mini", "Say hi", false))
        .await;
    let choice = &completion["choices"][0];
    assert_eq!(choice["message"]["content"], "echo: Say hi");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(completion["usage"]["total_tokens"], 5, "{completion}");
    assert_eq!(
        gateway
            .chat(&user_request("gpt-4o-mini", "hi", false))
            .await
            .headers()["x-wasmgate-plugin"],
        "openai-js@0.2.0"
    );
}

#[tokio::test]
async fn the_upstream_gets_the_key_and_an_openai_body() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
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
    let call = mock.chats().pop().expect("the upstream got a chat call");
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.key(), Some(KEY), "the bearer key");
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

#[tokio::test]
async fn reasoning_and_tool_calls_arrive_as_their_own_parts() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    let (status, frames) =
        bounded_stream(&gateway, &user_request("mock-reasoning", "hi", true)).await;
    assert_eq!(status, 200);
    assert_eq!(
        streamed_reasoning(&frames),
        "Let me think. The user wants an echo."
    );
    assert_eq!(streamed_text(&frames), "echo: hi");

    let mut body = user_request("gpt-4o-mini", "Weather in Paris?", true);
    body["tools"] = json!([{"type": "function", "function": {"name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let (_, frames) = bounded_stream(&gateway, &body).await;
    let arguments: String = frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    assert_eq!(finish_reason(&frames), Some("tool_calls"));
}

#[tokio::test]
async fn upstream_refusals_become_the_right_status() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    let (status, _, error) = failure(&gateway, &user_request("mock-filter", "hi", false)).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (400, &json!("content_filter")),
        "{error}"
    );
    let (status, _, error) = failure(&gateway, &user_request("gpt-9", "hi", false)).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (404, &json!("model_not_found")),
        "{error}"
    );
    let body = user_request("gpt-4o-mini", "hi #scenario=rate-limit", true);
    let (status, retry_after, error) = failure(&gateway, &body).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(retry_after, Some(7), "the upstream's Retry-After");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn a_refused_key_is_502_and_never_shown() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some("bad-key-987654321")).await else {
        return;
    };
    let (status, _, error) = failure(&gateway, &user_request("gpt-4o-mini", "hi", false)).await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["error"]["code"], "upstream_unauthorized");
    assert!(!error.to_string().contains("bad-key-987654321"), "{error}");
    assert_eq!(mock.chats().pop().unwrap().status, 401);
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error_frame() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
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
            "{scenario}: the first piece"
        );
        let last = frames.last().unwrap();
        assert!(last["error"]["message"].is_string(), "{scenario}: {last}");
        assert!(!frames.iter().any(|f| f == "[DONE]"), "{scenario}");
    }
}

/// An upstream that answers every request with a redirect to `location`.
async fn redirecting_upstream(location: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let location = location.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// A listener that only counts the connections it receives.
async fn connection_counter() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, count)
}

#[tokio::test]
async fn the_plugin_reaches_only_its_granted_host() {
    // The account's upstream (granted) redirects to a host nobody granted.
    let (elsewhere, connections) = connection_counter().await;
    let upstream = redirecting_upstream(format!("{elsewhere}/v1/chat/completions")).await;
    let Some((gateway, _)) = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(&config(&upstream, ""))
        .start_with_js_plugin()
        .await
    else {
        return;
    };

    let (status, _, error) = failure(&gateway, &user_request("gpt-4o-mini", "hi", false)).await;
    assert_eq!(status, 502, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("denied")),
        "{error}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the host nobody granted saw a connection"
    );
    let logs = gateway.wait_for_log("egress denied");
    assert!(
        logs.contains("egress denied") && logs.contains(JS_PLUGIN),
        "the denial is logged with the plugin:\n{logs}"
    );
}
