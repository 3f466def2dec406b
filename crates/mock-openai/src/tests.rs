use serde_json::{Value, json};

use super::*;

async fn post(mock: &MockUpstream, key: Option<&str>, body: Value) -> reqwest::Response {
    let request = reqwest::Client::new()
        .post(mock.url("/v1/chat/completions"))
        .json(&body);
    let request = match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    request.send().await.unwrap()
}

fn user(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": text}]})
}

fn data(text: &str) -> Vec<String> {
    let events = text.split("\n\n").filter_map(|e| e.strip_prefix("data: "));
    events.map(str::to_string).collect()
}

#[tokio::test]
async fn a_streamed_echo_has_role_pieces_finish_usage_and_done() {
    let mock = spawn(MockOptions::default()).await;
    let response = post(&mock, Some("sk-1"), user("gpt-4o-mini", "Say hi", true)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let frames = data(&response.text().await.unwrap());
    assert_eq!(frames.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: Say hi");
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    assert_eq!(chunks[n - 1]["usage"]["total_tokens"], 2 + 3);
    assert!(chunks[0]["usage"].is_null() && chunks[0].get("usage").is_some());
    let recorded = mock.chats();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].key(), Some("sk-1"));
    assert_eq!(recorded[0].scenario.as_deref(), Some("echo"));
}

#[tokio::test]
async fn a_whole_answer_and_the_model_list() {
    let mock = spawn(MockOptions::default()).await;
    let response = post(&mock, Some("sk-1"), user("deepseek-chat", "Say hi", false)).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Say hi");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let list: Value = reqwest::Client::new()
        .get(mock.url("/v1/models"))
        .bearer_auth("sk-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        wasmgate_testkit::model_ids(&list),
        ["gpt-4o-mini", "deepseek-chat", "llama-3.1-8b"]
    );
}

#[tokio::test]
async fn keys_models_and_scenarios_refuse_as_openai_does() {
    let mock = spawn(MockOptions::default()).await;
    let cases = [
        (
            Some("bad-1"),
            user("gpt-4o-mini", "hi", true),
            401,
            Some("invalid_api_key"),
        ),
        (None, user("gpt-4o-mini", "hi", true), 401, None),
        (
            Some("limited-1"),
            user("gpt-4o-mini", "hi", true),
            429,
            Some("rate_limit_exceeded"),
        ),
        (
            Some("k"),
            user("gpt-9", "hi", true),
            404,
            Some("model_not_found"),
        ),
        (
            Some("k"),
            user("gpt-4o-mini", "hi #scenario=rate-limit", true),
            429,
            Some("rate_limit_exceeded"),
        ),
        (
            Some("k"),
            user("mock-filter", "hi", true),
            400,
            Some("content_filter"),
        ),
        (
            Some("k"),
            user("gpt-4o-mini", "#scenario=quota", false),
            429,
            Some("insufficient_quota"),
        ),
        (
            Some("k"),
            user("gpt-4o-mini", "#scenario=server-error", false),
            500,
            None,
        ),
    ];
    for (key, body, status, code) in cases {
        let response = post(&mock, key, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        if code == Some("rate_limit_exceeded") {
            assert_eq!(response.headers()["retry-after"], "7");
        }
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"].as_str(), code, "{body}");
        assert!(error["error"]["message"].is_string());
    }
    let keyless = spawn(MockOptions {
        require_key: false,
        ..MockOptions::default()
    })
    .await;
    assert_eq!(
        post(&keyless, None, user("llama-3.1-8b", "hi", true))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn tools_reasoning_and_broken_streams() {
    let mock = spawn(MockOptions::default()).await;
    let mut body = user("gpt-4o-mini", "Weather in Paris?", true);
    body["tools"] = json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]);
    let text = post(&mock, Some("k"), body).await.text().await.unwrap();
    assert!(
        text.contains("\"name\":\"weather\"") && text.contains("\"finish_reason\":\"tool_calls\""),
        "{text}"
    );
    let text = post(&mock, Some("k"), user("mock-reasoning", "hi", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("reasoning_content"), "{text}");
    let text = post(
        &mock,
        Some("k"),
        user("gpt-4o-mini", "hi #scenario=cut-clean", true),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        !text.contains("[DONE]") && !text.contains("finish_reason\":\"stop"),
        "{text}"
    );
    let cut = post(
        &mock,
        Some("k"),
        user("gpt-4o-mini", "hi #scenario=cut", true),
    )
    .await;
    assert!(cut.text().await.is_err(), "the body breaks off");
}
