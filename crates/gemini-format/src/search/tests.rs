use serde_json::{Value, json};
use wasmgate_plugin_sdk::{ChatRequest, Message, Role, Tool, ToolChoice};

use super::*;
use crate::{RequestOptions, build_request};

fn request(model: &str, extra: Option<&str>) -> ChatRequest {
    let question = Message::text(Role::User, "Who won yesterday?");
    let mut request = ChatRequest::new(model, vec![question], false);
    request.extra = extra.map(str::to_string);
    request
}

fn tools_of(request: &ChatRequest) -> Option<Value> {
    build_request(request, &RequestOptions::default())
        .unwrap()
        .get("tools")
        .cloned()
}

#[test]
fn the_suffix_is_cut_in_any_case() {
    assert_eq!(base_model("gemini-2.5-flash-search"), "gemini-2.5-flash");
    assert_eq!(base_model("Gemini-2.5-Pro-SEARCH"), "Gemini-2.5-Pro");
    assert_eq!(
        base_model("models/gemini-2.5-pro-search"),
        "models/gemini-2.5-pro"
    );
    assert_eq!(base_model("gemini-2.5-flash"), "gemini-2.5-flash");
    assert_eq!(base_model("-search"), "-search");
    assert_eq!(base_model("gemini-researcher"), "gemini-researcher");
    assert_eq!(base_model("é-search"), "é");
    assert_eq!(base_model(""), "");
}

#[test]
fn a_search_model_sends_the_search_tool() {
    assert_eq!(
        tools_of(&request("gemini-2.5-flash-search", None)),
        Some(json!([{ "googleSearch": {} }]))
    );
}

#[test]
fn web_search_options_send_the_search_tool() {
    for options in [
        r#"{"web_search_options":{}}"#,
        r#"{"web_search_options":{"search_context_size":"low"}}"#,
    ] {
        assert_eq!(
            tools_of(&request("gemini-2.5-flash", Some(options))),
            Some(json!([{ "googleSearch": {} }])),
            "{options}"
        );
    }
}

#[test]
fn a_plain_request_sends_no_search_tool() {
    assert_eq!(tools_of(&request("gemini-2.5-flash", None)), None);
    assert_eq!(
        tools_of(&request(
            "gemini-2.5-flash",
            Some(r#"{"web_search_options":null}"#)
        )),
        None
    );
    assert_eq!(
        tools_of(&request("gemini-2.5-flash", Some(r#"{"user":"x"}"#))),
        None
    );
}

#[test]
fn function_declarations_and_search_travel_together() {
    let mut request = request("gemini-2.5-flash-search", None);
    request.tools = vec![Tool {
        name: "get_weather".into(),
        description: None,
        parameters: Some(r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into()),
    }];
    request.tool_choice = Some(ToolChoice::Auto);
    let body = build_request(&request, &RequestOptions::default()).unwrap();
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2, "{tools:?}");
    assert_eq!(tools[0]["functionDeclarations"][0]["name"], "get_weather");
    assert_eq!(tools[1], json!({ "googleSearch": {} }));
    assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
}
