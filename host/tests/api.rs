//! The OpenAI surface as a client sees it: answers, streams, and every class
//! of bad input getting an OpenAI-shaped error with the right status.

mod front_door_support;

use wasmgate_testkit::reqwest::{Method, StatusCode};
use wasmgate_testkit::{Gateway, json, streamed_text, user_request};

const ECHO: &str = r#"
[[plugins.misbehave.accounts]]
id = "only"
[models]
"echo" = { plugin = "misbehave", model = "misbehave-echo" }
"#;

fn gateway() -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(ECHO)
        .server_option("max-body-bytes = 4096")
        .env("API_KEY", "sk-first,sk-second")
        .env("HF_TOKEN", "hf_space_token")
        .start()
}

async fn assert_error(
    response: wasmgate_testkit::reqwest::Response,
    status: u16,
    code: &str,
) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors are JSON"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        error.get("type").is_some() && error.get("param").is_some(),
        "{body}"
    );
    error["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn non_streaming_answer_is_a_chat_completion() {
    let gateway = gateway();
    let completion = gateway
        .chat_ok(&user_request("echo", "one two three", false))
        .await;
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "echo");
    assert_eq!(completion["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "one two three"
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert_eq!(completion["usage"]["prompt_tokens"], 3);
    assert_eq!(completion["usage"]["completion_tokens"], 3);
    assert_eq!(completion["usage"]["total_tokens"], 6);
}

#[tokio::test]
async fn streaming_answer_is_sse_chunks_ending_with_done() {
    let gateway = gateway();
    let mut body = user_request("echo", "alpha beta gamma", true);
    body["stream_options"] = json!({"include_usage": true});
    let response = gateway.chat(&body).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(
        headers["x-wasmgate-plugin"]
            .to_str()
            .unwrap()
            .starts_with("misbehave@")
    );
    let frames = wasmgate_testkit::parse_sse(&response.text().await.unwrap());

    assert_eq!(
        frames.first().unwrap()["choices"][0]["delta"]["role"],
        "assistant"
    );
    assert!(
        frames
            .iter()
            .all(|f| f == "[DONE]" || f["object"] == "chat.completion.chunk")
    );
    assert_eq!(streamed_text(&frames), "alpha beta gamma");
    let n = frames.len();
    assert_eq!(frames[n - 1], "[DONE]");
    assert_eq!(
        frames[n - 2]["choices"].as_array().unwrap().len(),
        0,
        "usage frame has no choices"
    );
    assert_eq!(frames[n - 2]["usage"]["total_tokens"], 6);
    assert_eq!(frames[n - 3]["choices"][0]["finish_reason"], "stop");
    let ids: std::collections::HashSet<_> =
        frames[..n - 1].iter().map(|f| f["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "every chunk carries the same id");
}

#[tokio::test]
async fn without_include_usage_there_is_no_usage_frame() {
    let gateway = gateway();
    let (status, frames) = gateway.chat_stream(&user_request("echo", "x", true)).await;
    assert_eq!(status, 200);
    assert!(frames.iter().all(|f| f.get("usage").is_none()));
}

#[tokio::test]
async fn callers_need_one_of_the_keys() {
    let gateway = gateway();
    let url = format!("{}/v1/chat/completions", gateway.url);
    let body = user_request("echo", "hi", false);
    let client = gateway.client();

    let missing = client.post(&url).json(&body).send().await.unwrap();
    assert_error(missing, 401, "invalid_api_key").await;
    let wrong = client
        .post(&url)
        .bearer_auth("sk-third")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "invalid_api_key").await;
    let models = client
        .get(format!("{}/v1/models", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), StatusCode::UNAUTHORIZED);

    for key in ["sk-first", "sk-second", "hf_space_token"] {
        let ok = client
            .post(&url)
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "key {key}");
    }
    // Health needs no key.
    let health = client
        .get(format!("{}/healthz", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let gateway = gateway();
    let post = |body: &'static str| {
        gateway
            .request(Method::POST, "/v1/chat/completions")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(post("{not json").await.unwrap(), 400, "invalid_json").await;
    assert_error(post("").await.unwrap(), 400, "invalid_json").await;
    assert_error(post("[1,2]").await.unwrap(), 400, "invalid_json").await;
    let message = assert_error(
        post(r#"{"model":"echo"}"#).await.unwrap(),
        400,
        "invalid_request",
    )
    .await
    .to_lowercase();
    assert!(message.contains("messages"), "{message}");
    assert_error(
        post(r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"temperature":7}"#)
            .await
            .unwrap(),
        400,
        "invalid_value",
    )
    .await;
}

#[tokio::test]
async fn unknown_models_are_404_model_not_found() {
    let gateway = gateway();
    let response = gateway.chat(&user_request("gpt-17", "hi", false)).await;
    let message = assert_error(response, 404, "model_not_found").await;
    assert!(message.contains("gpt-17"));
    // Streaming requests get the same error before any stream starts.
    let response = gateway.chat(&user_request("gpt-17", "hi", true)).await;
    assert_error(response, 404, "model_not_found").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let gateway = gateway();
    let big = "x".repeat(5000);
    let response = gateway.chat(&user_request("echo", &big, false)).await;
    assert_error(response, 413, "request_too_large").await;
    // And the gateway still answers.
    gateway
        .chat_ok(&user_request("echo", "still here", false))
        .await;
}

#[tokio::test]
async fn unknown_paths_are_openai_shaped_404() {
    let gateway = gateway();
    let response = gateway
        .request(Method::GET, "/v1/nothing")
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn models_lists_routes_and_declared_models() {
    let gateway = gateway();
    let list: serde_json::Value = gateway
        .request(Method::GET, "/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids = wasmgate_testkit::model_ids(&list);
    assert!(ids.iter().any(|id| id == "echo"), "routed name: {ids:?}");
    assert!(
        ids.iter().any(|i| i == "misbehave-loop"),
        "declared by the plugin: {ids:?}"
    );
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["object"] == "model" && m["owned_by"] == "misbehave")
    );
}

#[tokio::test]
async fn a_model_is_retrieved_as_the_list_shows_it() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&format!(
            "{ECHO}\"echo-*\" = {{ plugin = \"misbehave\", model = \"misbehave-echo\" }}\n"
        ))
        .env("API_KEY", "sk-first")
        .start();
    let get = |path: &str| gateway.request(Method::GET, path).send();
    for (path, id) in [
        ("/v1/models/echo", "echo"),                     // a route
        ("/v1/models/misbehave-loop", "misbehave-loop"), // declared by the plugin
        ("/v1/models/echo-anything", "echo-anything"),   // matched by a pattern
        ("/models/echo", "echo"),                        // hajimi's base URL without /v1
    ] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let model: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            model,
            json!({"id": id, "object": "model", "created": 0, "owned_by": "misbehave"}),
            "{path}"
        );
    }
    let message = assert_error(
        get("/v1/models/gpt-17").await.unwrap(),
        404,
        "model_not_found",
    )
    .await;
    assert!(message.contains("gpt-17"), "{message}");
    // Without a key, nothing of the operator's inventory is told.
    let anonymous = gateway
        .client()
        .get(format!("{}/v1/models/echo", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_known_path_asked_with_another_method_is_405_in_its_doors_shape() {
    let gateway = &gateway();
    let ask = |method, path, allow| async move {
        let response = gateway.request(method, path).send().await.unwrap();
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(response.headers()["allow"], allow, "{path}");
        response.json::<serde_json::Value>().await.unwrap()
    };
    let openai = ask(Method::GET, "/v1/chat/completions", "POST").await;
    assert_eq!(openai["error"]["code"], "method_not_allowed", "{openai}");
    assert_eq!(openai["error"]["type"], "invalid_request_error", "{openai}");
    let anthropic = ask(Method::DELETE, "/v1/messages", "POST").await;
    assert_eq!(anthropic["type"], "error", "Anthropic's shape: {anthropic}");
    assert_eq!(anthropic["error"]["type"], "invalid_request_error");
    let google = ask(Method::PUT, "/v1beta/models/echo", "GET,HEAD,POST").await;
    assert_eq!(google["error"]["code"], 405, "Google's shape: {google}");
    assert_eq!(google["error"]["status"], "UNIMPLEMENTED", "{google}");
}

/// OpenAI's own SDK on the chat surface: its model list and lookups, and a
/// completion whole and streamed.
#[tokio::test]
async fn openais_sdk_lists_retrieves_and_chats() {
    use front_door_support::{gemini_case, run_case};
    let Some((_mock, gateway, out)) = gemini_case("openai.mjs", "models").await else {
        return;
    };
    let listed = out["listed"].as_array().unwrap();
    assert!(listed.iter().any(|id| id == "gemini-2.5-flash"), "{out}");
    assert_eq!(out["declared"]["id"], "gemini-2.5-flash", "{out}");
    assert_eq!(out["declared"]["owned_by"], "gemini", "{out}");
    assert_eq!(out["routed"]["id"], "gemini-next-preview", "{out}");

    let out = run_case("openai.mjs", &gateway, "chat", None)
        .await
        .unwrap();
    let completion = &out["completion"];
    assert_eq!(completion["object"], "chat.completion", "{out}");
    assert_eq!(
        completion["choices"][0]["message"]["content"], "echo: Say hi",
        "{out}"
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop", "{out}");
    assert_eq!(out["streamed"], "echo: Say hi", "{out}");
    assert!(
        out["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{out}"
    );
}

#[tokio::test]
async fn without_keys_only_loopback_is_served_and_it_says_so() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(ECHO)
        .start();
    assert!(gateway.logs().contains("loopback"), "{}", gateway.logs());
    gateway
        .chat_ok(&user_request("echo", "from loopback", false))
        .await;
}
