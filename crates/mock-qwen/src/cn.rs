//! The tongyi routes (`docs/protocols/qwen.md`, "Tongyi routes").
//!
//! `POST /dialog/conversation` scenarios:
//! - (none): 4 cumulative snapshots, the last `msgStatus:"finished"`, then `[DONE]`;
//! - `expired`: one `{"errorCode":"NOT_LOGIN"}` event (also for an unknown
//!   cookie, a wrong `x-xsrf-token` — it is optional, as in newer clients —,
//!   a missing `x-platform`, or an account marked expired);
//! - deep thinking, when `params.deepThink` or a content's `ext.deepThink`
//!   is true (`feature_config` is ignored, as upstream): `contentType:"think"`
//!   items first, each `incremental` with a JSON-string content
//!   `{"content":"<piece>"}`, closed by a `status:"finished"` think item that
//!   repeats the whole thought; then the answer as usual;
//! - `incremental`: the answer as `incremental:true` text deltas, the final
//!   `status:"finished"` item repeating the whole text;
//! - `no_finished`: the complete answer as snapshots that all say
//!   `generating`, then a clean end without `finished` or `[DONE]`;
//! - `filtered`: the final event has `canShare:false`;
//! - `refused` (mock's own): one finished event, `canShare:false`, no content;
//! - `backend_error`: the final event carries `errorCode:"SERVICE_ERROR"`;
//! - `reset`: a snapshot that does not extend the previous one;
//! - `utf8_split`: a Chinese answer, one event written in two pieces split
//!   inside a character, and one snapshot ending in U+FFFD;
//! - `heartbeat`: `data: [heartbeat]` between events;
//! - `disconnect`: two events, then the connection breaks;
//! - `http500`: `500 {"success":false,"errorCode":"InternalError","errorMsg":"mock"}`;
//! - `ratelimit` (mock's own: no tongyi signature is known): `429`,
//!   `Retry-After: 30`, `{"success":false,"errorCode":"RateLimited",…}`;
//! - `slow`: `slow_gap` between events.
//!
//! With `hold`, the stream stops after its first snapshot until release.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::State;
use crate::script::{Piece, Script};

pub const CONVERSATION_PATH: &str = "/dialog/conversation";
/// The session id of new conversations.
pub const SESSION_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// What deep thinking thinks before answering.
pub const THOUGHT: &str = "The user greets me. A short, friendly answer fits.";
/// The answer of the `utf8_split` scenario.
pub const CHINESE_ANSWER: &str = "你好，我是通义千问。很高兴为你服务！";
/// What the `reset` scenario restarts with, before the answer.
pub const RESET_PREFIX: &str = "Let me start over. ";

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(CONVERSATION_PATH, post(conversation))
        .route("/dialog/session/list", post(session_list))
        .route("/dialog/session/delete", post(|| ok(json!(true))))
        .route("/assistant/api/record/list", post(|| ok(json!({"list": []}))))
        .route(
            "/dialog/uploadToken",
            post(|| ok(json!({"accessId": "AK", "policy": "cG9saWN5", "signature": "c2ln", "dir": "mock/"}))),
        )
        .route("/oss", post(|| async { StatusCode::OK }))
        .route(
            "/dialog/downloadLink",
            post(|| ok(json!({"url": "http://mock/oss/mock/img.png"}))),
        )
        .route(
            "/dialog/downloadLink/batch",
            post(|| ok(json!({"results": [{"url": "http://mock/doc"}]}))),
        )
        .route(
            "/dialog/secResult/batch",
            post(|| ok(json!({"pollEndFlag": true, "statusList": [{"status": 1}]}))),
        )
}

async fn ok(data: Value) -> Json<Value> {
    Json(json!({"success": true, "data": data}))
}

fn not_login() -> Value {
    json!({"success": false, "errorCode": "NOT_LOGIN", "errorMsg": "not login"})
}

/// Whether the request carries a live account's cookie and its token.
fn logged_in(state: &State, headers: &HeaderMap) -> bool {
    let Some(account) = state.cn_account(headers) else {
        return false;
    };
    let xsrf = crate::header_text(headers, "x-xsrf-token");
    let platform = crate::header_text(headers, "x-platform");
    !account.expired
        && xsrf.is_none_or(|xsrf| xsrf == account.xsrf_token)
        && platform.is_some_and(|p| p.eq_ignore_ascii_case("pc_tongyi"))
}

async fn session_list(Extract(state): Extract<Arc<State>>, headers: HeaderMap) -> Json<Value> {
    if logged_in(&state, &headers) {
        Json(json!({"success": true, "data": []}))
    } else {
        Json(not_login())
    }
}

/// One conversation event.
fn event(session_id: &str, msg_id: &str, finished: bool, text: &str) -> Value {
    json!({
        "sessionId": session_id,
        "msgId": msg_id,
        "parentMsgId": "0",
        "msgStatus": if finished { "finished" } else { "generating" },
        "contentType": "text",
        "contentFrom": "",
        "canShare": true,
        "errorCode": "",
        "contents": [{"role": "assistant", "contentType": "text", "content": text, "status": if finished { "finished" } else { "generating" }}]
    })
}

/// `parts` growing prefixes of `text`, cut at character boundaries.
pub fn snapshots(text: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut shots: Vec<String> = (1..=parts)
        .map(|i| chars[..chars.len() * i / parts].iter().collect())
        .filter(|s: &String| !s.is_empty())
        .collect();
    shots.dedup();
    shots
}

async fn conversation(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scenario = state.scenario(&headers, &body);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match scenario.as_deref() {
        Some("http500") => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"success": false, "errorCode": "InternalError", "errorMsg": "mock"})),
            )
                .into_response();
        }
        Some("ratelimit") => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "30")],
                Json(json!({"success": false, "errorCode": "RateLimited", "errorMsg": "too many requests"})),
            )
                .into_response();
        }
        _ => {}
    }

    let mut script = Script::new(&state);
    if scenario.as_deref() == Some("slow") {
        script = script.with_gap(state.options.slow_gap);
    }
    if !logged_in(&state, &headers) || scenario.as_deref() == Some("expired") {
        script.event(
            &json!({"errorCode": "NOT_LOGIN", "errorMsg": "not login", "contents": []}).to_string(),
        );
        return script.into_response(state);
    }

    // A follow-up keeps its session; every answer gets a new message id.
    let session_id = match request.get("sessionId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => SESSION_ID.to_string(),
    };
    let msg_id = format!("{:032x}", state.next_number());
    let answer = state.options.answer.clone();
    let event = |finished: bool, text: &str| event(&session_id, &msg_id, finished, text);
    // Items the client sees as one event each: only `contents` differs.
    let with_item = |item: Value| {
        let mut frame = event(false, "");
        frame["contents"] = json!([item]);
        frame
    };

    if deep_think(&request) {
        for piece in crate::intl::increments(THOUGHT, 3) {
            let item = json!({"role": "assistant", "contentType": "think",
                "content": json!({"content": piece}).to_string(),
                "incremental": true, "status": "generating"});
            script.event(&with_item(item).to_string());
        }
        let item = json!({"role": "assistant", "contentType": "think",
            "content": json!({"content": THOUGHT}).to_string(),
            "incremental": true, "status": "finished"});
        script.event(&with_item(item).to_string());
    }

    match scenario.as_deref() {
        Some("incremental") => {
            let pieces = crate::intl::increments(&answer, 4);
            for (i, piece) in pieces.iter().enumerate() {
                let item = json!({"role": "assistant", "contentType": "text",
                    "content": piece, "incremental": true, "status": "generating"});
                script.event(&with_item(item).to_string());
                if i == 0 {
                    script.push(Piece::Hold);
                }
            }
            let mut last = event(true, &answer);
            last["contents"][0]["incremental"] = json!(true);
            script.event(&last.to_string()).event("[DONE]");
        }
        Some("no_finished") => {
            for shot in snapshots(&answer, 4) {
                script.event(&event(false, &shot).to_string());
            }
        }
        Some("refused") => {
            let mut last = event(true, "");
            last["canShare"] = json!(false);
            last["contents"] = json!([]);
            script.event(&last.to_string()).event("[DONE]");
        }
        Some("disconnect") => {
            let shots = snapshots(&answer, 4);
            script
                .event(&event(false, nth(&shots, 0)).to_string())
                .push(Piece::Hold)
                .event(&event(false, nth(&shots, 1)).to_string())
                .push(Piece::Abort);
        }
        Some("utf8_split") => {
            let shots = snapshots(CHINESE_ANSWER, 4);
            // The server's lossy view of a snapshot cut inside a character.
            let cut = format!("{}\u{FFFD}", &shots[1]);
            script
                .event(&event(false, &shots[0]).to_string())
                .push(Piece::Hold);
            // This event goes out in two writes, split inside a character.
            let frame = script.frame(&event(false, &cut).to_string());
            let split = split_inside_a_character(&frame);
            script
                .raw(frame[..split].to_vec())
                .raw(frame[split..].to_vec())
                .event(&event(false, &shots[2]).to_string())
                .event(&event(true, &shots[3]).to_string())
                .event("[DONE]");
        }
        Some("reset") => {
            let first = snapshots(&answer, 4);
            let restarted = snapshots(&format!("{RESET_PREFIX}{answer}"), 3);
            script
                .event(&event(false, nth(&first, 0)).to_string())
                .push(Piece::Hold)
                .event(&event(false, nth(&first, 1)).to_string());
            for (i, shot) in restarted.iter().enumerate() {
                script.event(&event(i + 1 == restarted.len(), shot).to_string());
            }
            script.event("[DONE]");
        }
        other => {
            let shots = snapshots(&answer, 4);
            for (i, shot) in shots.iter().enumerate() {
                let last = i + 1 == shots.len();
                let mut frame = event(last, shot);
                if last && other == Some("filtered") {
                    frame["canShare"] = json!(false);
                }
                if last && other == Some("backend_error") {
                    frame["errorCode"] = json!("SERVICE_ERROR");
                    frame["errorMsg"] = json!("mock service error");
                }
                script.event(&frame.to_string());
                if i == 0 {
                    script.push(Piece::Hold);
                }
                if other == Some("heartbeat") {
                    script.event("[heartbeat]");
                }
            }
            script.event("[DONE]");
        }
    }
    script.into_response(state)
}

/// Whether the request asks for deep thinking, the way newer clients do.
fn deep_think(request: &Value) -> bool {
    let on = |value: Option<&Value>| value.and_then(Value::as_bool) == Some(true);
    on(request.pointer("/params/deepThink"))
        || request
            .get("contents")
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|item| on(item.pointer("/ext/deepThink"))))
}

/// The `i`-th snapshot, or the last when there are fewer (a short answer).
fn nth(shots: &[String], i: usize) -> &str {
    shots
        .get(i)
        .or(shots.last())
        .map(String::as_str)
        .unwrap_or("")
}

/// A byte offset inside the first multi-byte character of `bytes`.
fn split_inside_a_character(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| *b >= 0xC0)
        .map(|start| start + 1)
        .unwrap_or(bytes.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_grow_at_character_boundaries() {
        assert_eq!(snapshots("你好世界", 2), ["你好", "你好世界"]);
        assert_eq!(snapshots("ab", 4), ["a", "ab"]);
    }

    #[test]
    fn the_split_falls_inside_a_character() {
        let bytes = "data: {\"c\":\"你\"}".as_bytes();
        let at = split_inside_a_character(bytes);
        assert!(std::str::from_utf8(&bytes[..at]).is_err());
    }
}
