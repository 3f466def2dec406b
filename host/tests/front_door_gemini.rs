//! The Gemini API (`/v1beta/models/…`) end to end, driven by Google's
//! `@google/genai` SDK (`tests/sdk/gemini.mjs`): the real gateway, the
//! `gemini` plugin built from source, and the mock Gemini API.

mod front_door_support;

use front_door_support::{echoed_an_inline_image, gemini_case, generations, signature_came_back};
use mock_gemini::{MockOptions, THOUGHT_SIGNATURE};

const SCRIPT: &str = "gemini.mjs";

#[tokio::test]
async fn generate_content_answers_with_text_thoughts_usage_and_models_are_listed() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "text").await else {
        return;
    };
    assert_eq!(out["text"], "echo: Say hi", "{out}");
    assert!(
        out["thoughts"][0]
            .as_str()
            .unwrap()
            .contains("Thinking about: Say hi")
    );
    assert_eq!(out["finishReason"], "STOP");
    assert_eq!(out["modelVersion"], "gemini-2.5-flash");
    let usage = &out["usage"];
    assert!(usage["promptTokenCount"].as_u64().unwrap() > 0, "{usage}");
    assert!(
        usage["candidatesTokenCount"].as_u64().unwrap() > 0,
        "{usage}"
    );
    assert!(usage["thoughtsTokenCount"].as_u64().unwrap() > 0, "{usage}");
    assert_eq!(out["counted"], 8, "30 characters / 4, rounded up");
    assert!(
        out["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|name| name == "models/gemini-2.5-flash"),
        "{out}"
    );
    let sent = generations(&mock)[0].body.clone().unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["contents"].as_array().unwrap().len(), 3, "{sent}");
    assert_eq!(sent["generationConfig"]["temperature"], 0.5, "{sent}");
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 300, "{sent}");
}

#[tokio::test]
async fn the_v1_api_version_is_served_too() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "v1").await else {
        return;
    };
    assert_eq!(out["text"], "echo: Say hi", "{out}");
    assert_eq!(out["finishReason"], "STOP");
}

#[tokio::test]
async fn streams_come_as_sse_for_the_sdk_and_as_a_json_array_without_alt_sse() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "stream").await else {
        return;
    };
    assert_eq!(out["text"], "echo: Tell me a story about a fox", "{out}");
    assert!(out["pieces"].as_u64().unwrap() >= 2, "{out}");
    assert_eq!(out["lastFinish"], "STOP");
    assert!(out["lastUsage"]["totalTokenCount"].as_u64().unwrap() > 0);
    assert_eq!(out["arrayStatus"], 200);
    assert_eq!(out["arrayType"], "application/json");
    assert!(out["arrayLength"].as_u64().unwrap() >= 3, "{out}");
    assert_eq!(out["arrayText"], "echo: Tell me a story about a fox");
}

#[tokio::test]
async fn a_function_call_keeps_its_thought_signature_into_the_second_turn() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "tools").await else {
        return;
    };
    assert_eq!(out["call"]["name"], "get_weather", "{out}");
    assert!(out["call"]["args"]["city"].is_string(), "{out}");
    assert_eq!(
        out["signature"], THOUGHT_SIGNATURE,
        "the caller sees Gemini's signature"
    );
    assert_eq!(out["firstFinish"], "STOP");
    assert_eq!(out["streamed"][0]["name"], "get_weather", "{out}");
    assert!(
        out["secondText"]
            .as_str()
            .unwrap()
            .starts_with("echo: [functionResponse get_weather"),
        "{out}"
    );
    assert!(out["secondText"].as_str().unwrap().contains("Sunny, 21 C"));
    let _sent = signature_came_back(&mock, 1);
}

#[tokio::test]
async fn inline_data_reaches_the_upstream() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "image").await else {
        return;
    };
    let text = out["text"].as_str().unwrap();
    echoed_an_inline_image(text);
}

#[tokio::test]
async fn errors_reach_the_sdk_with_googles_status() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "errors").await else {
        return;
    };
    let expect = |case: &str, status: u64, word: &str| {
        let error = &out[case];
        assert_eq!(error["failed"], true, "{case}: {out}");
        assert_eq!(error["class"], "ApiError", "{case}: {error}");
        assert_eq!(error["status"], status, "{case}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(word),
            "{case}: {error}"
        );
    };
    expect("unknownModel", 404, "NOT_FOUND");
    expect("malformed", 400, "INVALID_ARGUMENT");
    expect("badKey", 401, "UNAUTHENTICATED");
    expect("midStream", 502, "UNAVAILABLE");
}

/// The other doors sit on the same surface as OpenAI's: under the path
/// prefix, behind CORS and the body limit, each refusing in its own shape.
#[tokio::test]
async fn the_doors_share_the_prefix_cors_and_body_limit_and_refuse_in_their_own_shapes() {
    use wasmgate_testkit::{json, reqwest};
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = front_door_support::gemini_builder(&mock)
        .env("PATH_PREFIX", "team")
        .env("CORS_ORIGINS", "https://chat.example")
        .server_option("max-body-bytes = 4096")
        .start();
    let key = front_door_support::KEY;
    let url = |path: &str| format!("{}{path}", gateway.url);
    let client = reqwest::Client::new();

    let answer = client
        .post(url("/team/v1beta/models/gemini-2.5-flash:generateContent"))
        .query(&[("key", key)])
        .json(&json!({ "contents": [{ "parts": [{ "text": "Say hi" }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("x-wasmgate-plugin"));
    let body: wasmgate_testkit::Value = answer.json().await.unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["text"],
        "echo: Say hi"
    );

    let preflight = client
        .request(reqwest::Method::OPTIONS, url("/v1/messages"))
        .header("origin", "https://chat.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-api-key, anthropic-version",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://chat.example"
    );

    let too_big = client
        .post(url("/v1/messages"))
        .header("x-api-key", key)
        .json(&json!({ "model": "gemini-2.5-flash", "max_tokens": 10,
            "messages": [{ "role": "user", "content": "x".repeat(5000) }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let body: wasmgate_testkit::Value = too_big.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "request_too_large", "{body}");

    let no_key = client.get(url("/team/v1beta/models")).send().await.unwrap();
    assert_eq!(no_key.status(), 401);
    let body: wasmgate_testkit::Value = no_key.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{body}");
    assert_eq!(body["error"]["code"], 401);

    let unknown_method = client
        .post(url("/v1beta/models/gemini-2.5-flash:embedContent"))
        .header("x-goog-api-key", key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_method.status(), 404);
    let body: wasmgate_testkit::Value = unknown_method.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND", "{body}");
}
