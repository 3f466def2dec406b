//! OpenAI's Responses API (`/v1/responses`, non-stateful) end to end, driven
//! by OpenAI's TypeScript SDK (`tests/sdk/responses.mjs`): the real gateway,
//! the `gemini` plugin built from source, and the mock Gemini API.

mod front_door_support;

use front_door_support::{echoed_an_inline_image, gemini_case, generations, signature_came_back};
use wasmgate_testkit::Value;

const SCRIPT: &str = "responses.mjs";

fn item_types(response: &Value) -> Vec<String> {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_response_has_reasoning_a_message_and_usage() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "text").await else {
        return;
    };
    let response = &out["response"];
    assert_eq!(response["object"], "response", "{out}");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["model"], "gemini-2.5-flash");
    assert!(response["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(out["outputText"], "echo: Say hi");
    // gemini-2.5-flash thinks: its thoughts are the reasoning item's summary.
    assert_eq!(item_types(response), ["reasoning", "message"], "{out}");
    assert!(
        response["output"][0]["summary"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Thinking about: Say hi")
    );
    let usage = &response["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert!(usage["output_tokens"].as_u64().unwrap() > 0, "{usage}");
    let sent = generations(&mock)[0].body.clone().unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["contents"].as_array().unwrap().len(), 3, "{sent}");
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 300);
}

#[tokio::test]
async fn a_stream_is_the_responses_events_in_order() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "stream").await else {
        return;
    };
    let types: Vec<&str> = out["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        types[..2],
        ["response.created", "response.in_progress"],
        "{types:?}"
    );
    assert_eq!(types.last(), Some(&"response.completed"));
    let first_text = types
        .iter()
        .position(|t| *t == "response.output_text.delta")
        .unwrap();
    assert_eq!(
        types[first_text - 2..first_text],
        ["response.output_item.added", "response.content_part.added"],
        "{types:?}"
    );
    // The message is the last item: its text, part and item end, then the response.
    assert_eq!(
        types[types.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ],
        "{types:?}"
    );
    assert!(out["summaryDeltas"].as_u64().unwrap() >= 1, "{out}");
    assert!(out["deltas"].as_array().unwrap().len() >= 2, "{out}");
    let numbers: Vec<u64> = out["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
    assert_eq!(out["outputText"], "echo: Tell me a story about a fox");
    assert_eq!(out["final"]["status"], "completed");
    assert!(out["final"]["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_function_call_and_its_output_make_a_second_turn_with_the_signature() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "tools").await else {
        return;
    };
    let call = &out["call"];
    assert_eq!(call["name"], "get_weather", "{out}");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string(), "{call}");
    assert!(!call["call_id"].as_str().unwrap().is_empty());
    assert!(
        out["secondText"]
            .as_str()
            .unwrap()
            .starts_with("echo: [functionResponse get_weather"),
        "{out}"
    );
    assert!(item_types(&out["streamed"]).contains(&"function_call".to_string()));
    assert!(
        !out["argumentDeltas"].as_array().unwrap().is_empty(),
        "{out}"
    );
    let _sent = signature_came_back(&mock, 1);
}

#[tokio::test]
async fn an_input_image_reaches_the_upstream_inline() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "image").await else {
        return;
    };
    let text = out["text"].as_str().unwrap();
    echoed_an_inline_image(text);
}

#[tokio::test]
async fn errors_reach_the_sdk_as_its_typed_errors() {
    let Some((_mock, _gateway, out)) = gemini_case(SCRIPT, "errors").await else {
        return;
    };
    let expect = |case: &str, class: &str, status: u64| {
        let error = &out[case];
        assert_eq!(error["failed"], true, "{case}: {out}");
        assert_eq!(error["class"], class, "{case}: {error}");
        assert_eq!(error["status"], status, "{case}: {error}");
    };
    expect("unknownModel", "NotFoundError", 404);
    expect("malformed", "BadRequestError", 400);
    expect("stateful", "BadRequestError", 400);
    assert!(
        out["stateful"]["message"]
            .as_str()
            .unwrap()
            .contains("does not store responses"),
        "{out}"
    );
    expect("badKey", "AuthenticationError", 401);
    let mid = &out["midStream"];
    assert_eq!(mid["failed"], true, "{out}");
    assert_eq!(mid["class"], "APIError", "{mid}");
}

#[tokio::test]
async fn web_search_answers_carry_their_sources_as_url_citations() {
    let Some((mock, _gateway, out)) = gemini_case(SCRIPT, "search").await else {
        return;
    };
    let text_length = out["wholeText"].as_str().unwrap().chars().count() as u64;
    for annotations in [&out["whole"], &out["streamed"], &out["added"]] {
        let citation = &annotations[0];
        assert_eq!(citation["type"], "url_citation", "{out}");
        assert_eq!(citation["url"], mock_gemini::grounding::SOURCE_URI);
        assert_eq!(citation["title"], mock_gemini::grounding::SOURCE_TITLE);
        assert_eq!(citation["start_index"], 0);
        assert_eq!(citation["end_index"], text_length, "{out}");
    }
    let sent = generations(&mock)[0].body.clone().unwrap();
    assert!(sent["tools"].to_string().contains("googleSearch"), "{sent}");
}
