//! Anthropic's Messages API (`/v1/messages`) end to end, driven by
//! Anthropic's TypeScript SDK (`tests/sdk/anthropic.mjs`): the real gateway,
//! the `gemini` plugin built from source, and the mock Gemini API.

mod front_door_support;

use front_door_support::{echoed_an_inline_image, gemini_case, generations, signature_came_back};
use mock_gemini::THOUGHT_SIGNATURE;
use wasmgate_testkit::{Value, json};

const SCRIPT: &str = "anthropic.mjs";

fn text_of(message: &Value) -> String {
    message["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|block| block["type"] == "text")
        .map(|block| block["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_message_has_text_usage_and_a_stop_reason_and_tokens_are_counted() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "text").await else {
        return;
    };
    let message = &out["message"];
    assert_eq!(message["type"], "message", "{out}");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "gemini-2.5-flash");
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(text_of(message), "echo: Say hi");
    assert_eq!(message["stop_reason"], "end_turn");
    assert!(
        message["usage"]["input_tokens"].as_u64().unwrap() > 0,
        "{out}"
    );
    assert!(
        message["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{out}"
    );
    // The system prompt and the earlier turns reached the upstream.
    let sent = generations(&mock)[0].body.clone().unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["contents"].as_array().unwrap().len(), 3, "{sent}");
    assert_eq!(sent["contents"][1]["role"], "model");
    // An estimate: 30 characters / 4.
    assert_eq!(out["counted"]["input_tokens"], 8, "{out}");
}

#[tokio::test]
async fn a_stream_follows_anthropics_event_sequence() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "stream").await else {
        return;
    };
    assert_eq!(out["contentType"], "text/event-stream", "{out}");
    let sequence: Vec<&str> = out["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    // message_start, ping, then each block's start, deltas and stop, then
    // message_delta and message_stop: nothing else, nothing out of order.
    assert_eq!(sequence[..2], ["message_start", "ping"], "{sequence:?}");
    assert_eq!(
        sequence[sequence.len() - 2..],
        ["message_delta", "message_stop"],
        "{sequence:?}"
    );
    let mut blocks = Vec::new();
    let mut rest = &sequence[2..sequence.len() - 2];
    while let Some((&"content_block_start", after)) = rest.split_first() {
        let deltas = after
            .iter()
            .take_while(|name| **name == "content_block_delta")
            .count();
        assert!(deltas >= 1, "{sequence:?}");
        assert_eq!(
            after.get(deltas),
            Some(&"content_block_stop"),
            "{sequence:?}"
        );
        blocks.push(deltas);
        rest = &after[deltas + 1..];
    }
    assert!(rest.is_empty(), "only blocks in between: {sequence:?}");
    // gemini-2.5-flash thinks first (the plugin asks for its thoughts).
    assert_eq!(out["blockTypes"], json!(["thinking", "text"]), "{out}");
    assert!(blocks[1] >= 2, "the text streams in pieces: {sequence:?}");
    assert_eq!(
        out["typesMatchNames"], true,
        "each data's type is its event name"
    );
    let final_message = &out["final"];
    assert_eq!(text_of(final_message), "echo: Tell me a story about a fox");
    assert_eq!(final_message["stop_reason"], "end_turn");
    assert!(final_message["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(out["texts"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn thinking_comes_back_as_thinking_blocks_whole_and_streamed() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "thinking").await else {
        return;
    };
    for message in [&out["whole"], &out["streamed"]] {
        let content = message["content"].as_array().unwrap();
        assert_eq!(content[0]["type"], "thinking", "{out}");
        assert!(
            content[0]["thinking"]
                .as_str()
                .unwrap()
                .contains("Thinking about: ponder")
        );
        assert_eq!(content[1]["type"], "text");
        assert_eq!(content[1]["text"], "echo: ponder");
    }
    assert!(out["thinkingDeltas"].as_u64().unwrap() >= 1);
    // `thinking.budget_tokens` became a reasoning effort for the plugin.
    let sent = generations(&mock)[0].body.clone().unwrap();
    assert!(
        sent["generationConfig"]["thinkingConfig"].is_object(),
        "{sent}"
    );
}

#[tokio::test]
async fn a_tool_call_and_its_result_make_a_second_turn_with_the_signature() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "tools").await else {
        return;
    };
    for first in [&out["first"], &out["streamed"]] {
        assert_eq!(first["stop_reason"], "tool_use", "{out}");
        let call = first["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|block| block["type"] == "tool_use")
            .unwrap_or_else(|| panic!("a tool_use block: {out}"));
        assert_eq!(call["name"], "get_weather");
        assert!(
            call["input"]["city"].is_string(),
            "input is an object: {call}"
        );
        assert!(!call["id"].as_str().unwrap().is_empty());
    }
    let second = &out["second"];
    assert_eq!(second["stop_reason"], "end_turn");
    assert!(
        text_of(second).starts_with("echo: [functionResponse get_weather"),
        "{second}"
    );
    // The second turn carried the call back with Gemini's thought signature.
    let sent = signature_came_back(&mock, 1);
    // Sent back without it, the signature still reaches the upstream.
    assert!(text_of(&out["third"]).contains("Rain"), "{out}");
    let rebuilt = generations(&mock)[3].body.clone().unwrap();
    assert_eq!(
        rebuilt["contents"][1]["parts"][0]["thoughtSignature"], THOUGHT_SIGNATURE,
        "{rebuilt}"
    );
    assert!(
        sent["contents"][2]["parts"][0]["functionResponse"]["response"]
            .to_string()
            .contains("Sunny, 21 C"),
        "{sent}"
    );
}

#[tokio::test]
async fn an_image_block_reaches_the_upstream_inline() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "image").await else {
        return;
    };
    let text = text_of(&out["message"]);
    echoed_an_inline_image(&text);
}

#[tokio::test]
async fn errors_reach_the_sdk_as_its_typed_errors() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "errors").await else {
        return;
    };
    let expect = |case: &str, class: &str, status: u64, kind: &str| {
        let error = &out[case];
        assert_eq!(error["failed"], true, "{case}: {out}");
        assert_eq!(error["class"], class, "{case}: {error}");
        assert_eq!(error["status"], status, "{case}: {error}");
        assert_eq!(error["type"], kind, "{case}: {error}");
    };
    expect("unknownModel", "NotFoundError", 404, "not_found_error");
    expect("malformed", "BadRequestError", 400, "invalid_request_error");
    expect(
        "noMaxTokens",
        "BadRequestError",
        400,
        "invalid_request_error",
    );
    expect("badKey", "AuthenticationError", 401, "authentication_error");
    // After the stream began: an `error` event, which the SDK throws.
    let mid = &out["midStream"];
    assert_eq!(mid["failed"], true, "{out}");
    assert_eq!(mid["class"], "APIError", "{mid}");
    assert_eq!(mid["type"], "api_error", "{mid}");
    assert!(
        !mid["message"].as_str().unwrap().contains("good-1"),
        "{mid}"
    );
}

#[tokio::test]
async fn the_models_api_answers_in_anthropics_shape() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "models").await else {
        return;
    };
    let listed = out["listed"].as_array().unwrap();
    let flash = listed
        .iter()
        .find(|m| m["id"] == "gemini-2.5-flash")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(flash["type"], "model", "{out}");
    assert_eq!(flash["display_name"], "gemini-2.5-flash", "{out}");
    assert_eq!(flash["created_at"], "1970-01-01T00:00:00Z", "{out}");
    assert_eq!(
        out["one"],
        json!({"type": "model", "id": "gemini-2.5-flash", "display_name": "gemini-2.5-flash", "created_at": "1970-01-01T00:00:00Z"})
    );
    let bad = &out["badName"];
    assert_eq!(bad["class"], "BadRequestError", "{out}");
    assert_eq!(bad["type"], "invalid_request_error", "{out}");
}
