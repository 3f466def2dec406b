//! `POST /v1beta/openai/chat/completions`: Google's OpenAI-compatible
//! endpoint, in its simplest form (`Authorization: Bearer <key>`, the echo
//! answer as `chat.completion` or as SSE chunks ending with `data: [DONE]`).
//! Field details of this endpoint are UNCONFIRMED (the plugin does not use
//! it); errors use the Google envelope.

use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};

use crate::content::split_pieces;
use crate::google_errors;
use crate::keys::Cost;
use crate::routes::{Call, error_response, json_response};
use crate::scenario::Scenario;
use mock_kit::{Pacing, paced_body};

pub async fn chat(call: &Call) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(error) => return error_response(&error),
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Err(error) = call.admit(Cost::Generation, &model) {
        return error_response(&error);
    }
    match call.scenario {
        Scenario::Overloaded => return error_response(&google_errors::overloaded()),
        Scenario::Internal => return error_response(&google_errors::internal()),
        _ => {}
    }
    let answer = format!("echo: {}", last_user_text(body));
    let id = format!("mock-{}", call.seq);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !stream {
        return json_response(
            200,
            &json!({
                "id": id,
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": 1, "completion_tokens": answer.split_whitespace().count(), "total_tokens": 1 + answer.split_whitespace().count() }
            }),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
        })
    };
    let mut events: Vec<Value> = split_pieces(&answer, 3)
        .into_iter()
        .enumerate()
        .map(|(index, piece)| {
            let delta = if index == 0 {
                json!({ "role": "assistant", "content": piece })
            } else {
                json!({ "content": piece })
            };
            chunk(delta, Value::Null)
        })
        .collect();
    events.push(chunk(json!({}), json!("stop")));
    let mut pieces: Vec<bytes::Bytes> = events
        .iter()
        .map(|event| bytes::Bytes::from(format!("data: {event}\n\n")))
        .collect();
    pieces.push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    let pacing = Pacing {
        piece_delay: call.shared.options.chunk_delay,
        ..Pacing::default()
    };
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(paced_body(pieces, pacing))
        .unwrap_or_default()
}

pub fn models(call: &Call) -> Response {
    if let Err(error) = call.admit(Cost::Free, "") {
        return error_response(&error);
    }
    let data: Vec<Value> = call
        .shared
        .options
        .models
        .iter()
        .map(|id| json!({ "id": format!("models/{id}"), "object": "model", "owned_by": "google" }))
        .collect();
    json_response(200, &json!({ "object": "list", "data": data }))
}

/// The text of the last `user` message (string or content-part array).
fn last_user_text(body: &Value) -> String {
    let Some(message) = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
    else {
        return String::new();
    };
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}
