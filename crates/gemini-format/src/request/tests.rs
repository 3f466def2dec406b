use serde_json::json;
use wasmgate_plugin_sdk::{Sampling, Tool, ToolCall};

use super::*;

fn request(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new(model, messages, true)
}

fn build(request: &ChatRequest) -> Value {
    build_request(request, &RequestOptions::default()).unwrap()
}

fn bad(request: &ChatRequest) -> String {
    match build_request(request, &RequestOptions::default()) {
        Err(ProviderError::BadRequest(message)) => message,
        other => panic!("expected bad-request, got {other:?}"),
    }
}

#[test]
fn roles_system_instruction_and_merging() {
    let body = build(&request(
        "gemini-2.0-flash",
        vec![
            Message::text(Role::System, "Answer briefly."),
            Message::text(Role::User, "Hi"),
            Message::text(Role::User, "Still there?"),
            Message::text(Role::Assistant, "Yes."),
            Message::text(Role::System, "Be kind."),
            Message::text(Role::User, "Good"),
        ],
    ));
    assert_eq!(
        body,
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "Still there?"}]},
                {"role": "model", "parts": [{"text": "Yes."}]},
                {"role": "user", "parts": [{"text": "Good"}]}
            ],
            "systemInstruction": {"parts": [{"text": "Answer briefly."}, {"text": "Be kind."}]}
        })
    );
}

#[test]
fn system_only_requests_become_the_prompt() {
    let body = build(&request(
        "gemini-2.0-flash",
        vec![Message::text(Role::System, "Say hi")],
    ));
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "Say hi"}]}])
    );
    assert!(body.get("systemInstruction").is_none());
    assert!(bad(&request("gemini-2.0-flash", vec![])).contains("no messages"));
}

#[test]
fn tool_calls_and_results_round_trip() {
    let mut assistant = Message::new(Role::Assistant, vec![]);
    assistant.tool_calls = vec![
        ToolCall {
            id: "call_0".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
            provider_data: Some("c2lnbmF0dXJl".into()),
        },
        ToolCall {
            id: "call_1".into(),
            name: "get_time".into(),
            arguments: "".into(),
            provider_data: None,
        },
    ];
    let mut weather = Message::text(Role::Tool, r#"{"temp":18}"#);
    weather.tool_call_id = Some("call_0".into());
    let mut time = Message::text(Role::Tool, "12:00");
    time.tool_call_id = Some("call_1".into());
    let body = build(&request(
        "gemini-2.0-flash",
        vec![
            Message::text(Role::User, "Weather and time in Paris?"),
            assistant,
            weather,
            time,
        ],
    ));
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnbmF0dXJl"},
                {"functionCall": {"name": "get_time", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"content": {"temp": 18}}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "12:00"}}}
            ]}
        ])
    );
}

#[test]
fn a_reused_call_id_names_the_latest_call() {
    let call = |name: &str| {
        let mut assistant = Message::new(Role::Assistant, vec![]);
        assistant.tool_calls = vec![ToolCall {
            id: "call_0".into(),
            name: name.into(),
            arguments: "{}".into(),
            provider_data: None,
        }];
        assistant
    };
    let result = || {
        let mut result = Message::text(Role::Tool, "ok");
        result.tool_call_id = Some("call_0".into());
        result
    };
    let body = build(&request(
        "gemini-2.0-flash",
        vec![
            Message::text(Role::User, "go"),
            call("first"),
            result(),
            call("second"),
            result(),
        ],
    ));
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"]["name"],
        "first"
    );
    assert_eq!(
        body["contents"][4]["parts"][0]["functionResponse"]["name"],
        "second"
    );
}

#[test]
fn unknown_tool_results_and_bad_arguments_are_refused() {
    let mut orphan = Message::text(Role::Tool, "42");
    orphan.tool_call_id = Some("call_9".into());
    assert!(
        bad(&request(
            "m",
            vec![Message::text(Role::User, "x"), orphan.clone()]
        ))
        .contains("call_9")
    );
    // The participant name of the tool message is accepted as the function name.
    orphan.name = Some("lookup".into());
    let body = build(&request("m", vec![Message::text(Role::User, "x"), orphan]));
    assert_eq!(
        body["contents"][0]["parts"][1]["functionResponse"]["name"],
        "lookup"
    );

    let mut assistant = Message::new(Role::Assistant, vec![]);
    assistant.tool_calls = vec![ToolCall {
        id: "c".into(),
        name: "f".into(),
        arguments: "{not json".into(),
        provider_data: None,
    }];
    assert!(
        bad(&request(
            "m",
            vec![Message::text(Role::User, "x"), assistant.clone()]
        ))
        .contains("not valid JSON")
    );
    assistant.tool_calls[0].arguments = "[1]".into();
    assert!(bad(&request("m", vec![assistant])).contains("not a JSON object"));
}

#[test]
fn images_and_files_go_inline() {
    let body = build(&request(
        "gemini-2.0-flash",
        vec![Message::new(
            Role::User,
            vec![
                ContentPart::Text("What is in this image?".into()),
                ContentPart::Image(Media {
                    mime_type: "image/png".into(),
                    data: vec![0x89, b'P', b'N', b'G'],
                }),
                ContentPart::File(Media {
                    mime_type: "application/pdf".into(),
                    data: b"%PDF".to_vec(),
                }),
                ContentPart::ImageUrl("data:image/jpeg;base64,/9j/4AAQ".into()),
            ],
        )],
    ));
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text": "What is in this image?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}
        ])
    );
}

#[test]
fn remote_image_urls_are_refused_unless_the_upstream_reads_them() {
    let remote = request(
        "m",
        vec![Message::new(
            Role::User,
            vec![ContentPart::ImageUrl("https://example.com/cat.png".into())],
        )],
    );
    assert!(bad(&remote).contains("data: URL"));

    let options = RequestOptions {
        file_uri_prefixes: vec!["gs://".into()],
        ..Default::default()
    };
    let gcs = request(
        "m",
        vec![Message::new(
            Role::User,
            vec![ContentPart::ImageUrl("gs://bucket/cat.JPG".into())],
        )],
    );
    let body = build_request(&gcs, &options).unwrap();
    assert_eq!(
        body["contents"][0]["parts"][0],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.JPG"}})
    );
    match build_request(&remote, &options) {
        Err(ProviderError::BadRequest(message)) => assert!(!message.contains("gs://")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sampling_and_stop_sequences() {
    let mut chat = request(
        "gemini-2.0-flash",
        vec![Message::text(Role::User, "Say hi")],
    );
    chat.sampling = Sampling {
        temperature: Some(0.7),
        top_p: Some(0.95),
        top_k: Some(40),
        max_tokens: Some(256),
        seed: Some(42),
        presence_penalty: Some(0.1),
        frequency_penalty: Some(-0.5),
    };
    chat.stop = vec!["END".into()];
    assert_eq!(
        build(&chat)["generationConfig"],
        json!({
            "temperature": 0.7, "topP": 0.95, "topK": 40, "maxOutputTokens": 256, "seed": 42,
            "presencePenalty": 0.1, "frequencyPenalty": -0.5, "stopSequences": ["END"]
        })
    );
}

#[test]
fn thinking_models_return_their_thoughts() {
    let body = build(&request(
        "gemini-2.5-flash",
        vec![Message::text(Role::User, "hi")],
    ));
    assert_eq!(
        body["generationConfig"],
        json!({"thinkingConfig": {"includeThoughts": true}})
    );
    let body = build(&request(
        "gemini-2.0-flash",
        vec![Message::text(Role::User, "hi")],
    ));
    assert!(body.get("generationConfig").is_none());
}

#[test]
fn reasoning_effort_sets_budget_or_level() {
    let mut chat = request("gemini-2.5-flash", vec![Message::text(Role::User, "hi")]);
    chat.extra = Some(r#"{"reasoning_effort":"low"}"#.into());
    assert_eq!(
        build(&chat)["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    chat.model = "gemini-3-pro-preview".into();
    chat.extra = Some(r#"{"reasoning_effort":"high"}"#.into());
    assert_eq!(
        build(&chat)["generationConfig"]["thinkingConfig"],
        json!({"thinkingLevel": "high", "includeThoughts": true})
    );
    chat.extra = Some(r#"{"reasoning_effort":"maximum"}"#.into());
    assert!(bad(&chat).contains("reasoning_effort"));
}

#[test]
fn caller_generation_config_and_safety_pass_through() {
    let mut chat = request("gemini-2.5-flash", vec![Message::text(Role::User, "hi")]);
    chat.sampling.temperature = Some(0.5);
    chat.extra = Some(
        json!({
            "generation_config": {
                "temperature": 1.0,
                "thinking_config": {"thinking_budget": -1},
                "response_schema": {"type": "object", "properties": {"snake_name": {"type": "string"}}}
            },
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        })
        .to_string(),
    );
    let body = build(&chat);
    assert_eq!(
        body["generationConfig"],
        json!({
            "temperature": 1.0,
            "thinkingConfig": {"includeThoughts": true, "thinkingBudget": -1},
            "responseSchema": {"type": "object", "properties": {"snake_name": {"type": "string"}}}
        })
    );
    assert_eq!(
        body["safetySettings"],
        json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}])
    );

    chat.extra = Some("[1,2]".into());
    assert!(bad(&chat).contains("extra"));
}

#[test]
fn default_safety_threshold_covers_every_category() {
    let options = RequestOptions {
        safety_threshold: Some("OFF".into()),
        ..Default::default()
    };
    let body = build_request(
        &request("m", vec![Message::text(Role::User, "hi")]),
        &options,
    )
    .unwrap();
    let settings = body["safetySettings"].as_array().unwrap();
    assert_eq!(settings.len(), HARM_CATEGORIES.len());
    assert_eq!(
        settings[0],
        json!({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"})
    );
}

#[test]
fn response_format_maps_to_mime_type_and_schema() {
    let mut chat = request("gemini-2.0-flash", vec![Message::text(Role::User, "hi")]);
    chat.extra = Some(
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema":
            {"type": "object", "additionalProperties": false, "properties": {"answer": {"type": "string"}}}}}})
        .to_string(),
    );
    assert_eq!(
        build(&chat)["generationConfig"],
        json!({"responseMimeType": "application/json",
               "responseSchema": {"type": "object", "properties": {"answer": {"type": "string"}}}})
    );
}

#[test]
fn tools_and_tool_choice() {
    let mut chat = request(
        "gemini-2.0-flash",
        vec![Message::text(Role::User, "weather?")],
    );
    chat.tools = vec![
        Tool {
            name: "get_weather".into(),
            description: Some("Weather by city".into()),
            parameters: Some(
                r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"#.into(),
            ),
        },
        Tool { name: "now".into(), description: None, parameters: Some(r#"{"type":"object","properties":{}}"#.into()) },
    ];
    chat.tool_choice = Some(ToolChoice::Function("get_weather".into()));
    let body = build(&chat);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather by city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now"}
        ]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    for (choice, mode) in [
        (ToolChoice::Auto, "AUTO"),
        (ToolChoice::None, "NONE"),
        (ToolChoice::Required, "ANY"),
    ] {
        chat.tool_choice = Some(choice);
        assert_eq!(
            build(&chat)["toolConfig"],
            json!({"functionCallingConfig": {"mode": mode}})
        );
    }
    chat.tools[0].parameters = Some("{oops".into());
    assert!(bad(&chat).contains("get_weather"));
}

#[test]
fn empty_parts_and_turns_are_skipped() {
    let body = build(&request(
        "m",
        vec![
            Message::text(Role::User, "hi"),
            Message::text(Role::Assistant, ""),
            Message::text(Role::User, ""),
        ],
    ));
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}]}])
    );
}

/// A Gemini 3 history whose calls lost their signature (the client rebuilt
/// the ids) gets the documented dummy on the first call of the step; a
/// real signature is kept, and older models get nothing.
#[test]
fn lost_thought_signatures_get_the_documented_dummy() {
    let call = |id: &str| ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: "{}".into(),
        provider_data: None,
    };
    let with_calls = |ids: &[&str]| {
        let mut assistant = Message::text(Role::Assistant, "");
        assistant.content.clear();
        assistant.tool_calls = ids.iter().map(|id| call(id)).collect();
        request("m", vec![Message::text(Role::User, "weather?"), assistant])
    };
    let options = RequestOptions {
        thought_signature_fallback: true,
        ..Default::default()
    };
    let body = build_request(&with_calls(&["call_0", "call_1"]), &options).unwrap();
    let parts = body["contents"][1]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thoughtSignature"], DUMMY_THOUGHT_SIGNATURE);
    assert!(parts[1].get("thoughtSignature").is_none());

    let body = build_request(&with_calls(&["call_0~ts~c2lnbg==", "call_1"]), &options).unwrap();
    let parts = body["contents"][1]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thoughtSignature"], "c2lnbg==");
    assert!(parts[1].get("thoughtSignature").is_none());

    let body = build_request(&with_calls(&["call_0"]), &RequestOptions::default()).unwrap();
    assert!(
        body["contents"][1]["parts"][0]
            .get("thoughtSignature")
            .is_none()
    );

    assert!(validates_thought_signatures("gemini-3.1-pro-preview"));
    assert!(validates_thought_signatures(
        "models/gemini-3-flash-preview"
    ));
    assert!(validates_thought_signatures("gemini-flash-latest"));
    assert!(!validates_thought_signatures("gemini-2.5-flash"));
    assert!(!validates_thought_signatures("mock-tool-call"));
}

/// Vertex needs `fileData.mimeType`: a URI whose type is unknown is refused
/// here rather than upstream; the Gemini API takes it without.
#[test]
fn file_data_without_a_known_type() {
    let unknown = request(
        "m",
        vec![Message::new(
            Role::User,
            vec![ContentPart::ImageUrl("gs://bucket/scan".into())],
        )],
    );
    let lenient = RequestOptions {
        file_uri_prefixes: vec!["gs://".into()],
        ..Default::default()
    };
    let body = build_request(&unknown, &lenient).unwrap();
    assert_eq!(
        body["contents"][0]["parts"][0],
        json!({"fileData": {"fileUri": "gs://bucket/scan"}})
    );
    let strict = RequestOptions {
        file_data_needs_mime_type: true,
        ..lenient
    };
    match build_request(&unknown, &strict) {
        Err(ProviderError::BadRequest(message)) => assert!(message.contains("extension")),
        other => panic!("{other:?}"),
    }
}
