//! Bounded property-based fuzzing (#13) of what the host reads from callers
//! and operators: the `POST /v1/chat/completions` body and `plugins.toml`.

use std::path::Path;

use base64::Engine as _;
use fuzz_support::config;
use proptest::prelude::*;
use serde_json::{Value, json};
use wasmgate::api::request::{ChatCompletionRequest, decode_data_url};
use wasmgate::config::{Config, ConfigError, EMBEDDED_DEFAULT};
use wasmgate::runtime::bindings::{ContentPart, Role};

/// A body parsed and mapped: never a panic, an error is always a 400.
fn check_request(body: &[u8]) -> Result<(), TestCaseError> {
    match ChatCompletionRequest::parse(body) {
        Ok(request) => {
            if let Err(err) = request.to_chat_request("upstream") {
                prop_assert_eq!(err.status, 400, "{}", err.message);
            }
        }
        Err(err) => prop_assert_eq!(err.status, 400, "{}", err.message),
    }
    Ok(())
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        "\\PC{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("system"),
            Just("tool"),
            Just("assistant"),
            Just("text"),
            Just("image_url"),
            Just("input_audio"),
            Just("file"),
            Just("function"),
            Just("auto"),
            Just("data:"),
            Just("data:;base64,"),
            Just("data:image/png;base64,iVBORw0KGgo="),
            Just("data:x;base64,@@"),
            Just("https://example.com/a.png"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ]
}

/// Keys of the request schema, so that generated objects reach deep paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![
            Just("model"), Just("messages"), Just("role"), Just("content"), Just("type"),
            Just("text"), Just("image_url"), Just("url"), Just("input_audio"), Just("data"),
            Just("format"), Just("file"), Just("file_data"), Just("tool_calls"), Just("id"),
            Just("function"), Just("name"), Just("arguments"), Just("tool_call_id"),
            Just("tools"), Just("parameters"), Just("tool_choice"), Just("stop"), Just("n"),
            Just("temperature"), Just("top_p"), Just("stream"), Just("stream_options"),
            Just("include_usage"), Just("max_tokens"), Just("seed"),
        ]
        .prop_map(String::from),
        1 => "\\PC{0,6}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn role() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("system"),
        Just("developer"),
        Just("user"),
        Just("assistant")
    ]
}

/// Text that TOML and the config parser react to.
fn toml_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("\n"),
        Just("\r\n"),
        Just("["),
        Just("]"),
        Just("[["),
        Just("]]"),
        Just("="),
        Just("\""),
        Just("'''"),
        Just("#"),
        Just("."),
        Just(","),
        Just("{"),
        Just("}"),
        Just("server"),
        Just("pool"),
        Just("runtime"),
        Just("models"),
        Just("answers"),
        Just("plugins.gemini"),
        Just("accounts"),
        Just("allowed-hosts"),
        Just("retries"),
        Just("listen"),
        Just("proxy"),
        Just("secrets"),
        Just("env"),
        Just("for-each"),
        Just("id"),
        Just("*"),
        Just("1e300"),
        Just("-1"),
        Just("18446744073709551616"),
        Just("é😀"),
        Just(" "),
    ]
    .prop_map(String::from);
    proptest::collection::vec(prop_oneof![4 => token, 1 => "\\PC{0,4}"], 0..60)
        .prop_map(|tokens| tokens.concat())
}

/// A config error names a line of the text (0 when it cannot tell).
fn check_config(text: &str) -> Result<(), TestCaseError> {
    match Config::parse(Path::new("plugins.toml"), text) {
        Ok(_) => {}
        Err(ConfigError::Invalid { line, .. }) => {
            prop_assert!(line <= text.lines().count() + 1, "line {}", line);
        }
        Err(other) => prop_assert!(false, "unexpected {}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes as a body: a typed request or a 400, never a panic.
    #[test]
    fn request_any_bytes_is_a_request_or_a_400(
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        check_request(&body)?;
    }

    /// Arbitrary JSON shaped like the schema (right keys, wrong types,
    /// out-of-range numbers, broken data: URLs): a request or a 400.
    #[test]
    fn request_schema_shaped_json_is_a_request_or_a_400(
        value in json_value(),
        messages in proptest::collection::vec(json_value(), 0..3),
        model in json_leaf(),
    ) {
        check_request(value.to_string().as_bytes())?;
        let mut object = match value {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        object.insert("model".into(), model);
        object.insert("messages".into(), Value::Array(messages));
        check_request(Value::Object(object).to_string().as_bytes())?;
    }

    /// A well-formed request maps onto the contract field for field.
    #[test]
    fn request_round_trips(
        model in "[a-z0-9.-]{1,20}",
        messages in proptest::collection::vec((role(), "\\PC{0,20}", any::<bool>()), 1..5),
        stop in proptest::collection::vec("\\PC{0,6}", 0..3),
        temperature in proptest::option::of(0.0f32..=2.0),
        max_tokens in proptest::option::of(any::<u32>()),
        stream in any::<bool>(),
        image in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&image);
        let body = json!({
            "model": model,
            "stream": stream,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "stop": stop,
            "messages": messages.iter().map(|(role, text, as_parts)| {
                if *as_parts {
                    json!({"role": role, "content": [
                        {"type": "text", "text": text},
                        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{encoded}")}},
                    ]})
                } else {
                    json!({"role": role, "content": text})
                }
            }).collect::<Vec<_>>(),
        });
        let request = ChatCompletionRequest::parse(body.to_string().as_bytes())
            .unwrap()
            .to_chat_request("upstream")
            .unwrap();
        prop_assert_eq!(request.model, "upstream");
        prop_assert_eq!(request.stream, stream);
        prop_assert_eq!(request.stop, stop);
        prop_assert_eq!(request.sampling.temperature, temperature);
        prop_assert_eq!(request.sampling.max_tokens, max_tokens);
        prop_assert_eq!(request.messages.len(), messages.len());
        for (got, (role, text, as_parts)) in request.messages.iter().zip(&messages) {
            let expected_role = match *role {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                _ => Role::Assistant,
            };
            prop_assert_eq!(got.role, expected_role);
            match (&got.content[..], as_parts) {
                ([ContentPart::Text(t)], false) => prop_assert_eq!(t, text),
                ([ContentPart::Text(t), ContentPart::Image(media)], true) => {
                    prop_assert_eq!(t, text);
                    prop_assert_eq!(&media.mime_type, "image/png");
                    prop_assert_eq!(&media.data, &image);
                }
                (other, _) => prop_assert!(false, "{:?}", other),
            }
        }
    }

    /// data: URLs: any text is bytes or an error; encoded bytes come back.
    #[test]
    fn data_urls_decode_or_fail(
        text in "(data:)?[a-z/;+=,0-9A-Z@ ]{0,40}",
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        mime in "[a-z]{0,8}(/[a-z0-9.+-]{1,8})?",
    ) {
        let _ = decode_data_url(&text);
        let url = format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        let media = decode_data_url(&url).unwrap();
        prop_assert_eq!(media.data, bytes);
        let expected = if mime.is_empty() { "application/octet-stream" } else { mime.as_str() };
        prop_assert_eq!(media.mime_type, expected);
    }

    /// Any text as `plugins.toml`: a config or an error naming a line.
    #[test]
    fn config_any_text_is_a_config_or_an_error(text in toml_text()) {
        check_config(&text)?;
    }

    /// The shipped file with random edits (a cut, an insertion, a line
    /// replaced): a config or an error naming a line, never a panic.
    #[test]
    fn config_mutated_default_is_a_config_or_an_error(
        edits in proptest::collection::vec(
            (any::<usize>(), any::<usize>(), toml_text(), 0u8..3),
            1..4,
        ),
    ) {
        let mut text = EMBEDDED_DEFAULT.to_string();
        for (at, len, insert, kind) in edits {
            let bounds: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let start = bounds[at % bounds.len()];
            let end = bounds[(bounds.partition_point(|&b| b < start) + len % 40).min(bounds.len() - 1)];
            match kind {
                0 => text.replace_range(start..end, ""),
                1 => text.insert_str(start, &insert),
                _ => {
                    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                    text.replace_range(line_start..line_end, &insert);
                }
            }
        }
        check_config(&text)?;
    }

    /// Generated `[pool]` numbers and `[models]` routes (exact and glob)
    /// are read back, and resolving any name never panics.
    #[test]
    fn config_generated_sections_round_trip(
        retries in any::<u32>(),
        cooldown in 0.0f64..1e6,
        routes in proptest::collection::vec(
            ("[a-z0-9é你.-]{1,8}(\\*[a-z0-9.-]{0,4})?", "[a-z0-9.-]{1,8}"),
            0..4,
        ),
        names in proptest::collection::vec("\\PC{0,12}", 0..6),
    ) {
        let mut seen = std::collections::HashSet::new();
        let mut body = String::new();
        for (name, model) in &routes {
            if seen.insert(name.clone()) {
                body.push_str(&format!("{} = {{ plugin = \"gemini\", model = {} }}\n",
                    toml_quote(name), toml_quote(model)));
            }
        }
        let text = format!(
            "[pool]\nretries = {retries}\nrate-limit-cooldown-secs = {cooldown:?}\n[models]\n{body}"
        );
        let parsed = Config::parse(Path::new("plugins.toml"), &text);
        let config = match parsed {
            Ok(config) => config,
            Err(err) => return Err(TestCaseError::fail(format!("{err}\n{text}"))),
        };
        prop_assert_eq!(config.file.pool.retries, Some(retries));
        prop_assert_eq!(config.file.pool.rate_limit_cooldown_secs, Some(cooldown));
        for (name, _) in &routes {
            prop_assert!(config.routes.resolve(name).is_some() || name.contains('*'));
        }
        for name in &names {
            let _ = config.routes.resolve(name);
        }
    }
}

fn toml_quote(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// Deep nesting is refused as invalid JSON, not a stack overflow.
#[test]
fn deeply_nested_bodies_are_a_400() {
    for depth in [200, 10_000, 100_000] {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        check_request(body.as_bytes()).unwrap();
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"extra":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        check_request(body.as_bytes()).unwrap();
    }
}

/// Deep nesting in `plugins.toml` is an error, not a stack overflow.
#[test]
fn deeply_nested_config_is_an_error() {
    for depth in [200, 10_000] {
        let text = format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        check_config(&text).unwrap();
        let text = format!("x = {}{}\n", "{a=".repeat(depth), "}".repeat(depth));
        check_config(&text).unwrap();
    }
}
