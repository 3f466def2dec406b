use super::*;

fn prompt_of(body: Value) -> Prompt {
    inspect(&body).unwrap()
}

#[test]
fn the_last_user_turn_is_rendered() {
    let prompt = prompt_of(json!({
        "systemInstruction": {"parts": [{"text": "Answer briefly."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "first"}]},
            {"role": "model", "parts": [{"text": "ok"}]},
            {"role": "user", "parts": [
                {"text": "What is in this image?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
                {"file_data": {"file_uri": "gs://b/x.pdf"}}
            ]}
        ],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true}}
    }));
    assert_eq!(
        prompt.text,
        "What is in this image? [inlineData image/png 4 bytes] [fileData gs://b/x.pdf]"
    );
    assert!(prompt.include_thoughts);
    // (15 + 5 + 2 + 22) characters / 4
    assert_eq!(prompt.prompt_tokens, 11);
    assert_eq!(echo_text(&prompt), format!("echo: {}", prompt.text));
}

#[test]
fn tool_results_are_rendered_and_noticed() {
    let prompt = prompt_of(json!({"contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "18C"}}}]}
    ]}));
    assert!(prompt.answers_tool);
    assert_eq!(
        prompt.text,
        r#"[functionResponse get_weather {"content":"18C"}]"#
    );
    assert!(matches!(
        reply(&prompt, Scenario::ToolCall),
        Reply::Text { .. }
    ));
}

#[test]
fn invalid_requests_are_refused_as_google_does() {
    let refuse = |body: Value| inspect(&body).unwrap_err();
    assert!(
        refuse(json!({})).body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contents is not specified")
    );
    assert!(refuse(json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}))
        .body["error"]["message"].as_str().unwrap().contains("valid role"));
    assert!(
        refuse(json!({"contents": [{"role": "user", "parts": []}]})).body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must not be empty")
    );
    let bad_base64 = refuse(
        json!({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "***"}}]}]}),
    );
    assert_eq!(bad_base64.status, 400);
    assert!(
        bad_base64.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Base64")
    );
}

#[test]
fn pieces_rejoin_exactly() {
    for (text, wanted, count) in [
        ("echo: one two three four five", 4, 4),
        ("echo: hi", 4, 2),
        ("echo: ", 4, 2),
        ("echo: a  b\n c", 3, 3),
        ("x", 4, 1),
        ("echo: héllo wörld", 4, 3),
    ] {
        let pieces = split_pieces(text, wanted);
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces.len(), count, "{text:?} → {pieces:?}");
        assert!(pieces.iter().all(|p| !p.is_empty()));
    }
}

fn meta() -> Meta {
    Meta {
        model: "gemini-2.5-flash".into(),
        response_id: "mock-1".into(),
    }
}

#[test]
fn streamed_answers_have_two_to_four_chunks() {
    let prompt = Prompt {
        text: "tell me a story about a cat".into(),
        prompt_tokens: 6,
        ..Default::default()
    };
    let chunks = reply(&prompt, Scenario::Normal).chunks(6, &meta());
    assert_eq!(chunks.len(), 4);
    let text = super::chunks_text(&chunks);
    assert_eq!(text, "echo: tell me a story about a cat");
    assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
    assert!(
        chunks[..3]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(chunks[3]["usageMetadata"]["candidatesTokenCount"], 8);
    assert_eq!(chunks[3]["usageMetadata"]["totalTokenCount"], 14);

    let thinking = reply(&prompt, Scenario::Thinking).chunks(6, &meta());
    assert_eq!(thinking.len(), 4);
    assert_eq!(
        thinking[0]["candidates"][0]["content"]["parts"][0]["thought"],
        true
    );
    assert_eq!(thinking[3]["usageMetadata"]["thoughtsTokenCount"], 9);
}

#[test]
fn tool_calls_fill_declared_arguments() {
    let prompt = prompt_of(json!({
        "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
        "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
            "required": ["city", "days"]}}]}]
    }));
    let whole = reply(&prompt, Scenario::ToolCall).whole(2, &meta());
    assert_eq!(
        whole["candidates"][0]["content"]["parts"][0],
        json!({"functionCall": {"name": "lookup", "args": {"city": "Paris", "days": 1}}, "thoughtSignature": THOUGHT_SIGNATURE})
    );
    let bare = Prompt {
        text: "x".into(),
        ..Default::default()
    };
    let chunks = reply(&bare, Scenario::ToolCall).chunks(0, &meta());
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"name": "get_weather", "args": {"city": "Paris"}})
    );
}

#[test]
fn max_tokens_cuts_the_echo() {
    let prompt = Prompt {
        text: "one two three four".into(),
        ..Default::default()
    };
    let whole = reply(&prompt, Scenario::MaxTokens).whole(1, &meta());
    assert_eq!(whole["candidates"][0]["finishReason"], "MAX_TOKENS");
    let text = whole["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        "echo: one two three four".starts_with(text) && text.len() < 24,
        "{text}"
    );
}
