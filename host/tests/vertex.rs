//! The `vertex` plugin through the real gateway against `mock-vertex`: both
//! kinds of account, the token's life (fetched once, reused, replaced after
//! it expires and after a 401), tools through the OpenAI format, where the
//! location sends requests, and how Vertex's failures reach a client.

use std::time::Duration;

use mock_vertex::{MockOptions, MockUpstream, keys};
use serde_json::Value;
use wasmgate_testkit::{Gateway, json, streamed_text, user_request};

const MODEL: &str = "vertex-gemini-2.5-flash";
const EXPRESS_KEY: &str = "express-test-key";

/// A gateway with one service-account account pointed at the mock.
fn service_account(mock: &MockUpstream, settings: &str) -> Gateway {
    gateway(
        "credentials-json",
        "VERTEX_TEST_CREDENTIALS",
        &mock.credentials_json(),
        settings,
    )
}

/// A gateway with one express-key account pointed at the mock.
fn express(mock: &MockUpstream) -> Gateway {
    gateway(
        "express-api-key",
        "VERTEX_TEST_EXPRESS_KEY",
        EXPRESS_KEY,
        &format!(r#"base-url = "{}""#, mock.base_url),
    )
}

fn gateway(secret: &str, variable: &str, value: &str, settings: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["vertex"])
        .config(&format!(
            r#"
[plugins.vertex]
allowed-hosts = []
[[plugins.vertex.accounts]]
id = "only"
secrets = {{ {secret} = {{ env = "{variable}" }} }}
settings = {{ {settings} }}
[models]
"vertex-*" = {{ plugin = "vertex", model = "*" }}
"#
        ))
        .env(variable, value)
        .env("ADMIN_KEY", "admin-test")
        .start()
}

/// The usual service-account settings: every origin on the mock, a region.
fn mock_settings(mock: &MockUpstream) -> String {
    format!(
        r#"base-url = "{base}", token-url = "{base}/token", location = "us-central1""#,
        base = mock.base_url
    )
}

async fn error_of(gateway: &Gateway, body: &Value) -> (u16, Value) {
    let response = gateway.chat(body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn content(completion: &Value) -> &str {
    completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_service_account_answers_with_a_token_it_fetched() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    let completion = gateway.chat_ok(&user_request(MODEL, "hello", false)).await;
    assert_eq!(content(&completion), "echo: hello");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert_eq!(completion["usage"]["total_tokens"], 3);

    let tokens = mock.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].status, 200);
    let claims = tokens[0].claims.as_ref().expect("a verified assertion");
    assert_eq!(claims.iss, keys::CLIENT_EMAIL);
    assert_eq!(claims.exp - claims.iat, 3600);

    let calls = mock.generation_requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        "/v1beta1/projects/mock-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(calls[0].header("authorization"), Some("Bearer mock-1"));
    assert_eq!(calls[0].header("x-goog-api-key"), None);
    assert_eq!(calls[0].query, None);
}

#[tokio::test]
async fn a_service_account_streams() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    let (status, frames) = gateway
        .chat_stream(&user_request(MODEL, "stream me", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "echo: stream me");
    assert_eq!(frames.last().unwrap(), "[DONE]");
    let finish = &frames[frames.len() - 2]["choices"][0]["finish_reason"];
    assert_eq!(finish, "stop");

    let calls = mock.generation_requests();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .path
            .ends_with("/models/gemini-2.5-flash:streamGenerateContent")
    );
    assert_eq!(calls[0].query_param("alt").as_deref(), Some("sse"));
    assert_eq!(calls[0].bearer(), Some("mock-1"));
}

#[tokio::test]
async fn an_express_key_answers_and_streams_without_a_token() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = express(&mock);

    let completion = gateway.chat_ok(&user_request(MODEL, "quick", false)).await;
    assert_eq!(content(&completion), "echo: quick");
    let (status, frames) = gateway
        .chat_stream(&user_request(MODEL, "streamed", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "echo: streamed");

    assert!(mock.token_requests().is_empty());
    let calls = mock.generation_requests();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].path,
        "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        calls[1].path,
        "/v1beta1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    );
    for call in &calls {
        assert_eq!(call.header("x-goog-api-key"), Some(EXPRESS_KEY));
        assert_eq!(call.header("authorization"), None);
        assert_eq!(call.query_param("key"), None, "the key stays out of URLs");
    }
}

#[tokio::test]
async fn a_wrong_express_key_is_unauthorized() {
    let mock = mock_vertex::spawn(MockOptions {
        express_key: "another-key".into(),
        ..MockOptions::default()
    })
    .await;
    let gateway = express(&mock);
    let (status, body) = error_of(&gateway, &user_request(MODEL, "hi", false)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    assert!(
        !body.to_string().contains(EXPRESS_KEY),
        "the key never appears in an error"
    );
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    for (index, stream) in [false, true, false].into_iter().enumerate() {
        let body = user_request(MODEL, &format!("request {index}"), stream);
        if stream {
            let (status, frames) = gateway.chat_stream(&body).await;
            assert_eq!(status, 200);
            assert_eq!(streamed_text(&frames), format!("echo: request {index}"));
        } else {
            gateway.chat_ok(&body).await;
        }
    }
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(mock.bearer_tokens(), ["mock-1", "mock-1", "mock-1"]);
}

#[tokio::test]
async fn the_token_is_replaced_once_it_expires() {
    let mock = mock_vertex::spawn(MockOptions {
        token_lifetime: Duration::from_secs(2),
        ..MockOptions::default()
    })
    .await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    gateway.chat_ok(&user_request(MODEL, "first", false)).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    gateway.chat_ok(&user_request(MODEL, "second", false)).await;

    assert_eq!(mock.token_requests().len(), 2);
    assert_eq!(mock.bearer_tokens(), ["mock-1", "mock-2"]);
    let statuses: Vec<u16> = mock
        .generation_requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 200], "the stale token was never sent");
}

#[tokio::test]
async fn a_token_refused_with_401_is_replaced_and_the_request_retried() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    gateway.chat_ok(&user_request(MODEL, "before", false)).await;
    mock.expire_tokens(); // Vertex now refuses mock-1 although the plugin cached it.
    let completion = gateway.chat_ok(&user_request(MODEL, "after", false)).await;
    assert_eq!(content(&completion), "echo: after");
    gateway.chat_ok(&user_request(MODEL, "later", false)).await;

    assert_eq!(mock.token_requests().len(), 2);
    assert_eq!(
        mock.bearer_tokens(),
        ["mock-1", "mock-1", "mock-2", "mock-2"]
    );
    let statuses: Vec<u16> = mock
        .generation_requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 401, 200, 200]);
}

#[tokio::test]
async fn a_401_after_a_new_token_is_unauthorized() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    let (status, body) = error_of(
        &gateway,
        &user_request("vertex-mock-expired_token", "hi", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    // One refresh, one retry: no loop.
    assert_eq!(mock.token_requests().len(), 2);
    assert_eq!(mock.bearer_tokens(), ["mock-1", "mock-2"]);
}

#[tokio::test]
async fn a_key_file_with_the_wrong_key_is_refused_at_the_token_endpoint() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let forged = keys::forged_credentials_json(&mock.token_url());
    let gateway = gateway(
        "credentials-json",
        "VERTEX_TEST_CREDENTIALS",
        &forged,
        &mock_settings(&mock),
    );

    let (status, body) = error_of(&gateway, &user_request(MODEL, "hi", false)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Invalid JWT Signature."), "{message}");
    assert!(!message.contains("PRIVATE KEY"));
    assert_eq!(mock.token_requests()[0].status, 400);
    assert!(mock.generation_requests().is_empty());
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_tried_once_more() {
    let mock = mock_vertex::spawn(MockOptions {
        token_failures: 1,
        ..MockOptions::default()
    })
    .await;
    let gateway = service_account(&mock, &mock_settings(&mock));

    gateway.chat_ok(&user_request(MODEL, "hi", false)).await;
    let statuses: Vec<u16> = mock.token_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200]);
}

#[tokio::test]
async fn base_url_alone_routes_the_token_exchange_and_global_is_the_default() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    // A key file as Google issues it (token_uri = oauth2.googleapis.com) and
    // only base-url: every request, the token exchange too, goes there.
    let gateway = gateway(
        "credentials-json",
        "VERTEX_TEST_CREDENTIALS",
        &mock.public_credentials_json(),
        &format!(r#"base-url = "{}""#, mock.base_url),
    );

    gateway.chat_ok(&user_request(MODEL, "hi", false)).await;
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(
        mock.generation_requests()[0].path,
        "/v1beta1/projects/mock-project/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"
    );
}

/// Gemini 3 on Vertex refuses a history tool call without its thought
/// signature; one whose id lost it gets Google's documented dummy.
#[tokio::test]
async fn a_gemini_3_tool_call_whose_signature_was_lost_still_round_trips() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    gateway
        .chat_ok(
            &json!({"model": "vertex-gemini-3.1-pro-preview", "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_rebuilt",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_rebuilt", "content": "{\"temperature\": 21}"}
            ]}),
        )
        .await;
    let sent = mock.generation_requests().pop().unwrap().json().unwrap();
    assert_eq!(
        sent["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
}

/// A seed's retired or oddly-cased model name reaches the documented
/// successor (Vertex answers 404 for the retired ones).
#[tokio::test]
async fn a_retired_or_upper_case_model_name_reaches_its_successor() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    for (asked, sent) in [
        ("vertex-gemini-2.0-flash-001", "gemini-2.5-flash"),
        ("vertex-gemini-3-pro-preview", "gemini-3.1-pro-preview"),
        ("vertex-Gemini-2.5-Flash", "gemini-2.5-flash"),
    ] {
        gateway.chat_ok(&user_request(asked, "hi", false)).await;
        let last = mock.generation_requests().pop().unwrap();
        assert_eq!(last.model.as_deref(), Some(sent), "{asked}");
    }
}

#[tokio::test]
async fn the_location_and_project_settings_change_the_path() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(
        &mock,
        &format!(
            r#"base-url = "{base}", token-url = "{base}/token", location = "europe-west4", project = "other-project", api-version = "v1""#,
            base = mock.base_url
        ),
    );

    gateway.chat_ok(&user_request(MODEL, "hi", false)).await;
    let call = &mock.generation_requests()[0];
    assert_eq!(call.location.as_deref(), Some("europe-west4"));
    assert_eq!(
        call.path,
        "/v1/projects/other-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    );
}

#[tokio::test]
async fn tool_calls_round_trip_through_the_openai_format() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);

    let first = gateway
        .chat_ok(&json!({
            "model": "vertex-mock-tool_call",
            "messages": [
                {"role": "system", "content": "Use tools."},
                {"role": "user", "content": "Weather in Paris?"}
            ],
            "tools": tools,
        }))
        .await;
    let choice = &first["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "Paris"}));
    let call_id = call["id"].as_str().unwrap().to_string();
    assert!(!call_id.is_empty());

    let second = gateway
        .chat_ok(&json!({
            "model": "vertex-mock-tool_call",
            "messages": [
                {"role": "system", "content": "Use tools."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call_id, "content": "18°C, cloudy"}
            ],
            "tools": tools,
        }))
        .await;
    assert_eq!(content(&second), "get_weather said: 18°C, cloudy");
    assert_eq!(second["choices"][0]["finish_reason"], "stop");

    // What Vertex received: only user/model turns, the system text apart.
    let sent = mock.generation_requests()[1].json().unwrap();
    assert_eq!(
        sent["systemInstruction"],
        json!({"parts": [{"text": "Use tools."}]})
    );
    let roles: Vec<&str> = sent["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|turn| turn["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(
        sent["contents"][1]["parts"][0]["functionCall"],
        json!({"name": "get_weather", "args": {"city": "Paris"}})
    );
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"content": "18°C, cloudy"}})
    );
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_tool_call_deltas() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = express(&mock);
    let (status, frames) = gateway
        .chat_stream(&json!({
            "model": "vertex-mock-tool_call",
            "stream": true,
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        }))
        .await;
    assert_eq!(status, 200);
    let deltas: Vec<&Value> = frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert!(!deltas.is_empty(), "{frames:?}");
    assert_eq!(deltas[0]["function"]["name"], "get_weather");
    let arguments: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Paris"})
    );
    assert!(
        frames
            .iter()
            .any(|f| f["choices"][0]["finish_reason"] == "tool_calls")
    );
}

#[tokio::test]
async fn a_429_passes_its_retry_delay_on() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    // Streamed too: that refusal arrives as `[{"error":…}]`.
    for stream in [false, true] {
        let response = gateway
            .chat(&user_request("vertex-mock-429", "hi", stream))
            .await;
        assert_eq!(response.status(), 429, "stream {stream}");
        assert_eq!(response.headers()["retry-after"], "7", "stream {stream}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        gateway.reset_accounts().await;
    }
}

#[tokio::test]
async fn an_error_mid_stream_ends_the_stream_with_an_error_frame() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    let (status, frames) = gateway
        .chat_stream(&user_request(
            "vertex-mock-midstream_error",
            "hello there",
            true,
        ))
        .await;
    assert_eq!(status, 200);
    let text = streamed_text(&frames);
    assert!(
        !text.is_empty() && "echo: hello there".starts_with(&text),
        "{text:?}"
    );
    let error = frames
        .iter()
        .find(|f| f.get("error").is_some())
        .expect("an error frame");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("UNAVAILABLE")),
        "{error}"
    );
}

#[tokio::test]
async fn a_blocked_answer_is_a_content_filter_error() {
    // A blocked prompt: tests/conformance.rs. An answer blocked with
    // finishReason SAFETY and nothing in it is the same refusal, streamed or
    // not, not an empty success.
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    for stream in [false, true] {
        let (status, body) = error_of(
            &gateway,
            &user_request("vertex-mock-blocked_output", "bad", stream),
        )
        .await;
        assert_eq!(status, 400, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "content_filter");
    }
}

#[tokio::test]
async fn refusals_keep_their_meaning() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    for (model, expected) in [
        // An account the upstream forbids is the gateway's problem, not the caller's.
        ("vertex-mock-permission", 502),
        ("vertex-mock-bad_role", 400),
        ("vertex-mock-not_found", 404),
        ("vertex-mock-500", 502),
        ("vertex-mock-503", 502),
    ] {
        for stream in [false, true] {
            let (status, body) = error_of(&gateway, &user_request(model, "hi", stream)).await;
            assert_eq!(status, expected, "{model} stream {stream}: {body}");
            // A forbidden account is out until a probe: each case on a fresh one.
            gateway.reset_accounts().await;
        }
    }
    assert_eq!(mock.token_requests().len(), 1, "refusals keep the token");
}

/// The entry the shipped `plugins.toml` gets (public hosts, no base-url).
const SHIPPED_ENTRY: &str = r#"
[plugins.vertex]
allowed-hosts = ["aiplatform.googleapis.com", "*-aiplatform.googleapis.com", "aiplatform.*.rep.googleapis.com", "oauth2.googleapis.com"]
[[plugins.vertex.accounts]]
id = "service-account"
secrets = { credentials-json = { env = "VERTEX_CREDENTIALS_JSON" } }
settings = { location = "global" }
[[plugins.vertex.accounts]]
id = "google-credentials"
secrets = { credentials-json = { env = "GOOGLE_CREDENTIALS_JSON" } }
[[plugins.vertex.accounts]]
id = "express"
secrets = { express-api-key = { env-list = "VERTEX_EXPRESS_API_KEY" } }
[models]
"vertex-*" = { plugin = "vertex", model = "*" }
"#;

#[tokio::test]
async fn the_shipped_entry_loads_and_lists_the_models() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["vertex"])
        .config(SHIPPED_ENTRY)
        .env(
            "VERTEX_CREDENTIALS_JSON",
            &keys::credentials_json("https://oauth2.googleapis.com/token"),
        )
        .env("VERTEX_EXPRESS_API_KEY", "express-a,express-b")
        .start();
    let response = gateway
        .request(wasmgate_testkit::reqwest::Method::GET, "/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let models: Value = response.json().await.unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "vertex-gemini-2.5-flash" && m["owned_by"] == "vertex"),
        "{models}"
    );
    // One account per key file variable that is set, one per express key.
    let logs = gateway.logs();
    assert!(
        logs.contains("accounts [service-account[credentials-json], express-1[express-api-key], express-2[express-api-key]]"),
        "{logs}"
    );
}

// Search (issue #19): `-search` models and `web_search_options` turn on
// Google Search grounding through the shared format crate.

/// Sends `body` streamed or not; the answer's text and the request Vertex
/// saw. A grounded answer cites its sources as OpenAI annotations
/// (contract 0.2.0's citations); any other has none.
async fn searched(
    gateway: &Gateway,
    mock: &MockUpstream,
    body: &Value,
) -> (String, mock_vertex::RecordedRequest) {
    let (text, annotations) = gateway.answer_with_annotations(body).await;
    let call = mock.generation_requests().pop().unwrap();
    if call.carries_search_tool() {
        assert_eq!(annotations.len(), 1, "{annotations:?}");
        assert_eq!(annotations[0]["type"], "url_citation");
        assert_eq!(
            annotations[0]["url_citation"]["url"],
            mock_vertex::grounding::SOURCE_URI
        );
    } else {
        assert!(annotations.is_empty(), "{annotations:?}");
    }
    (text, call)
}

#[tokio::test]
async fn a_search_model_or_web_search_options_send_the_search_tool() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    for stream in [false, true] {
        let (text, call) = searched(
            &gateway,
            &mock,
            &user_request("vertex-gemini-2.5-flash-search", "news", stream),
        )
        .await;
        assert_eq!(text, "echo: news", "no citations are invented in the text");
        assert_eq!(call.model.as_deref(), Some("gemini-2.5-flash"));
        assert!(call.carries_search_tool(), "stream={stream}");
        assert_eq!(
            call.json().unwrap()["tools"],
            json!([{ "googleSearch": {} }])
        );

        let mut body = user_request(MODEL, "news", stream);
        body["web_search_options"] = json!({});
        let (text, call) = searched(&gateway, &mock, &body).await;
        assert_eq!(text, "echo: news");
        assert_eq!(call.model.as_deref(), Some("gemini-2.5-flash"));
        assert!(call.carries_search_tool(), "stream={stream}");

        let (_, call) = searched(&gateway, &mock, &user_request(MODEL, "news", stream)).await;
        assert!(!call.carries_search_tool(), "plain, stream={stream}");
        assert!(call.json().unwrap().get("tools").is_none());
    }
}

#[tokio::test]
async fn function_tools_and_search_travel_together() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let gateway = service_account(&mock, &mock_settings(&mock));
    for stream in [false, true] {
        let mut body = user_request("vertex-gemini-2.5-flash-search", "Weather?", stream);
        body["tools"] = json!([{"type": "function", "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
        let (_, call) = searched(&gateway, &mock, &body).await;
        let sent = &call.json().unwrap()["tools"];
        assert_eq!(
            sent[0]["functionDeclarations"][0]["name"], "get_weather",
            "{sent}"
        );
        assert_eq!(sent[1], json!({ "googleSearch": {} }), "{sent}");
        assert_eq!(call.model.as_deref(), Some("gemini-2.5-flash"));
    }
}
