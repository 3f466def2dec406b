//! The Gemini API (`/v1beta/models/…`) end to end, driven by Google's
//! `@google/genai` SDK (`tests/sdk/gemini.mjs`): the real gateway, the
//! `gemini` plugin built from source, and the mock Gemini API.

mod front_door_support;

use front_door_support::{gemini_gateway, generations, run_case};
use mock_gemini::{MockOptions, THOUGHT_SIGNATURE};

const SCRIPT: &str = "gemini.mjs";

#[tokio::test]
async fn generate_content_answers_with_text_thoughts_usage_and_models_are_listed() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let Some(out) = run_case(SCRIPT, &gateway, "text", None).await else {
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
async fn streams_come_as_sse_for_the_sdk_and_as_a_json_array_without_alt_sse() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let Some(out) = run_case(SCRIPT, &gateway, "stream", None).await else {
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
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let Some(out) = run_case(SCRIPT, &gateway, "tools", None).await else {
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
    let sent = generations(&mock)[1].body.clone().unwrap();
    let call_part = sent["contents"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part.get("functionCall").is_some())
        .unwrap_or_else(|| panic!("the call in history: {sent}"))
        .clone();
    assert_eq!(call_part["thoughtSignature"], THOUGHT_SIGNATURE, "{sent}");
}

#[tokio::test]
async fn inline_data_reaches_the_upstream() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let Some(out) = run_case(SCRIPT, &gateway, "image", None).await else {
        return;
    };
    let text = out["text"].as_str().unwrap();
    assert!(
        text.starts_with("echo: [inlineData image/png ") && text.ends_with("What is this?"),
        "{text}"
    );
}

#[tokio::test]
async fn errors_reach_the_sdk_with_googles_status() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let Some(out) = run_case(SCRIPT, &gateway, "errors", None).await else {
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
