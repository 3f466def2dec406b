//! docs/plugins.md, followed step by step: the template plugin built from
//! source, dropped into a gateway, configured with the guide's own
//! `plugins.toml` block, and called — against a mock of the template's
//! made-up API on loopback.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use wasmgate_testkit::{Gateway, Value, json, streamed_text, user_request, workspace};

const KEY: &str = "sk-template-guide-0123";

/// The guide's configuration block, as an operator would paste it.
fn guide_config() -> String {
    let guide = std::fs::read_to_string(workspace().join("docs/plugins.md")).unwrap();
    let start = guide
        .find("```toml\n# plugins.toml for the template")
        .expect("the guide's plugins.toml block");
    let block = &guide[start + "```toml\n".len()..];
    block[..block.find("```").unwrap()].to_string()
}

/// The template's API: `POST /v1/generate` with a bearer key, answered as
/// SSE pieces then `done` with usage; "slow down" in the prompt is a 429.
async fn generate(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == format!("Bearer {KEY}").as_bytes());
    if !authorized {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"}))).into_response();
    }
    let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
    if prompt.contains("slow down") {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": "slow down"})),
        )
            .into_response();
        response
            .headers_mut()
            .insert("retry-after", "30".parse().unwrap());
        return response;
    }
    let pieces = [
        "Hello",
        " from ",
        &format!("{}: {prompt}", body["model"].as_str().unwrap()),
    ]
    .map(|text| format!("data: {}\n\n", json!({"text": text})));
    let done = format!(
        "data: {}\n\n",
        json!({"done": true, "usage": {"input": 4, "output": 3}})
    );
    let sse = pieces.concat() + &done;
    ([("content-type", "text/event-stream")], Body::from(sse)).into_response()
}

#[tokio::test]
async fn the_guide_takes_the_template_from_source_to_a_served_request() {
    let upstream = mock_kit::serve(axum::Router::new().route("/v1/generate", post(generate))).await;
    let config = guide_config().replace("https://api.example.com", &upstream.url(""));
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["template"])
        .config(&config)
        .env("TEMPLATE_API_KEY", KEY)
        .env("API_KEY", "sk-guide-callers")
        .start();

    let whole = gateway.chat_ok(&user_request("small", "Hi", false)).await;
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "Hello from template-small: Hi"
    );
    assert_eq!(whole["usage"]["total_tokens"], 7);

    let (status, frames) = gateway
        .chat_stream(&user_request("small", "Hi", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "Hello from template-small: Hi");
    assert!(frames.len() > 3, "the answer arrives in pieces: {frames:?}");

    // A rate limit reaches the caller as one, with the upstream's delay.
    let limited = gateway
        .chat(&user_request("small", "slow down", false))
        .await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
}
