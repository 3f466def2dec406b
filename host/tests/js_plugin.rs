//! A provider plugin written in JavaScript (`plugins-js/openai-js`), built
//! with componentize-js from npm (see `wasmgate_testkit::js_plugin`) and
//! served unchanged by the real gateway, against the loopback OpenAI-style
//! upstream (`crates/mock-openai`). The conformance suite runs it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod openai_style;

use mock_openai::{MockOptions, MockUpstream};
use wasmgate_testkit::js_plugin::JS_PLUGIN;
use wasmgate_testkit::{Gateway, failure, user_request};

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
    openai_style::answers_are_exact_with_usage(&gateway).await;
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
    openai_style::the_upstream_gets_the_key_and_an_openai_body(&mock, &gateway, KEY).await;
}

#[tokio::test]
async fn reasoning_and_tool_calls_arrive_as_their_own_parts() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    openai_style::reasoning_arrives_apart_from_the_answer(&gateway).await;
    openai_style::tool_calls_round_trip(&mock, &gateway).await;
}

#[tokio::test]
async fn upstream_refusals_become_the_right_status() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    openai_style::refusals_become_the_right_status(&mock, &gateway).await;
}

#[tokio::test]
async fn a_refused_key_is_502_and_never_shown() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some("bad-key-987654321")).await else {
        return;
    };
    openai_style::a_refused_key_is_502_and_never_shown(&mock, &gateway, "bad-key-987654321").await;
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error_frame() {
    let mock = mock_openai::spawn(MockOptions::default()).await;
    let Some((gateway, _)) = serve(&mock, Some(KEY)).await else {
        return;
    };
    openai_style::a_stream_cut_short_ends_with_an_error_frame(&gateway).await;
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
