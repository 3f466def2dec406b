//! The chat.qwen.ai routes (`protocols/qwen-web.md` §8.2).
//!
//! Every route but sign-in and the models wants `Authorization: Bearer <JWT>`
//! with an `exp` in the future (else `401 {"detail":"Your session has
//! expired…"}`). `POST /api/v2/chat/completions?chat_id=` scenarios:
//! - (none): `response.created`, two cumulative `thinking_summary` events and
//!   their `finished` when `thinking_enabled`, 4 `answer` increments with
//!   `usage`, a final `status:"finished"`;
//! - `think` (mock's own): raw `think` increments instead of summaries;
//! - `expired`: the 401 above;
//! - `ratelimit`: `200` stream with one `{"success":false,"data":{"code":"RateLimited","num":2,…}}`;
//! - `ratelimit_http`: the same object with `429`;
//! - `quota`: one `{"error":{"message":"Allocated quota exceeded…"}}` event;
//! - `waf`: `200 text/html` with `aliyun_waf` / `captcha` markers;
//! - `empty`: `response.created`, then the end;
//! - `server_error`: `500 {"detail":"Internal Server Error"}`;
//! - `overload`: `503 {"detail":"Service temporarily unavailable"}`;
//! - `disconnect`: `response.created`, two increments, then the connection breaks;
//! - `slow`: `slow_gap` between events.
//!
//! Without `feature_config.output_schema:"phase"` the deltas carry no `phase`
//! (as upstream). With `hold`, the stream stops after its first answer piece.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::script::{Piece, Script};
use crate::{State, jwt};

pub const COMPLETIONS_PATH: &str = "/api/v2/chat/completions";
pub const EXPIRED_DETAIL: &str =
    "Your session has expired or the token is invalid. Please sign in again.";

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/auths/signin", post(signin))
        .route("/api/models", get(models))
        .route("/api/v2/models/", get(models))
        .route("/api/v2/chats/new", post(new_chat))
        .route(COMPLETIONS_PATH, post(completions))
        .route("/api/v2/chats/{id}", delete(delete_chat))
        .route("/api/v1/files/getstsToken", post(sts_token))
        .route("/oss/{*path}", put(|| async { StatusCode::OK }))
        .route("/api/v1/tasks/status/{id}", get(task_status))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"detail": EXPIRED_DETAIL})),
    )
        .into_response()
}

/// A 401, unless the request carries an unexpired JWT.
fn refusal(headers: &HeaderMap) -> Option<Response> {
    let exp = crate::bearer(headers)
        .and_then(|token| jwt::claims(&token))
        .and_then(|claims| claims.get("exp").and_then(Value::as_u64));
    match exp {
        Some(exp) if exp > jwt::now_unix() => None,
        _ => Some(unauthorized()),
    }
}

async fn signin(Extract(state): Extract<Arc<State>>, Json(body): Json<Value>) -> Response {
    let email = body.get("email").and_then(Value::as_str).unwrap_or("");
    let password = body.get("password").and_then(Value::as_str).unwrap_or("");
    let account = state
        .options
        .intl_accounts
        .iter()
        .find(|a| a.email == email && jwt::sha256_hex(&a.password) == password);
    match account {
        Some(account) => {
            let exp = jwt::now_unix() + state.options.token_ttl.as_secs();
            Json(json!({
                "id": account.id,
                "email": account.email,
                "token": jwt::test_jwt(&account.id, exp),
                "token_type": "Bearer",
                "expires_at": exp
            }))
            .into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "invalid credentials"})),
        )
            .into_response(),
    }
}

async fn models() -> Json<Value> {
    Json(json!({"data": [{
        "id": "qwen3-max",
        "name": "Qwen3-Max",
        "info": {"meta": {"abilities": {"thinking": true}, "chat_type": ["t2t", "search"]}}
    }]}))
}

async fn new_chat(Extract(state): Extract<Arc<State>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    if crate::header_text(&headers, "x-mock-scenario").as_deref() == Some("expired") {
        return unauthorized();
    }
    let id = format!("chat-{}", state.next_number());
    state.remember_chat(&id);
    Json(json!({"success": true, "data": {"id": id}})).into_response()
}

async fn delete_chat(headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    Json(json!({"success": true, "data": {"status": true}})).into_response()
}

async fn sts_token(Extract(state): Extract<Arc<State>>, Json(body): Json<Value>) -> Json<Value> {
    let name = body
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or("file.bin");
    let path = format!("mock/{}-{name}", state.next_number());
    Json(json!({
        "success": true,
        "data": {
            "access_key_id": "STS.mock",
            "access_key_secret": "mock-secret",
            "security_token": "mock-security-token",
            "file_url": format!("{}/oss/{path}", state.base_url),
            "file_path": path,
            "bucketname": "mock-bucket",
            "region": "oss-mock",
            "file_id": format!("file-{}", state.next_number())
        }
    }))
}

async fn task_status(Extract(state): Extract<Arc<State>>, Path(id): Path<String>) -> Json<Value> {
    if state.poll_task(&id) == 1 {
        Json(json!({"status": "running"}))
    } else {
        Json(json!({"status": "succeeded", "result": {"images": [{"url": "http://mock/i.png"}]}}))
    }
}

/// `{"choices":[{"delta":…}]}`, with `phase` only when the client asked for it.
fn delta(phased: bool, phase: &str, content: &str, status: &str) -> Value {
    let mut delta = json!({"role": "assistant", "content": content, "status": status});
    if phased {
        delta["phase"] = json!(phase);
    }
    json!({"choices": [{"delta": delta}]})
}

/// `text` in `parts` increments at character boundaries.
pub fn increments(text: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..parts)
        .map(|i| {
            chars[chars.len() * i / parts..chars.len() * (i + 1) / parts]
                .iter()
                .collect()
        })
        .filter(|s: &String| !s.is_empty())
        .collect()
}

async fn completions(
    Extract(state): Extract<Arc<State>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scenario = state.scenario(&headers, &body);
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    if scenario.as_deref() == Some("expired") {
        return unauthorized();
    }
    match query.get("chat_id") {
        Some(id) if state.knows_chat(id) => {}
        Some(_) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"detail": "Chat not found"})),
            )
                .into_response();
        }
        None => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"detail": "chat_id is required"})),
            )
                .into_response();
        }
    }
    let rate_limited = json!({
        "success": false,
        "request_id": "mock-request",
        "data": {"code": "RateLimited", "num": 2, "details": "quota exceeded"}
    });
    match scenario.as_deref() {
        Some("ratelimit_http") => {
            return (StatusCode::TOO_MANY_REQUESTS, Json(rate_limited)).into_response();
        }
        Some("server_error") => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"detail": "Internal Server Error"})),
            )
                .into_response();
        }
        Some("overload") => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"detail": "Service temporarily unavailable"})),
            )
                .into_response();
        }
        Some("waf") => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html><head><script src=\"https://g.alicdn.com/AWSC/AWSC/awsc.js\"></script></head>\
                 <body><div id=\"aliyun_waf_captcha\">captcha: please slide to verify</div></body></html>",
            )
                .into_response();
        }
        _ => {}
    }

    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let features = request.pointer("/messages/0/feature_config");
    let phased = features
        .and_then(|f| f.get("output_schema"))
        .and_then(Value::as_str)
        == Some("phase");
    let thinking = features
        .and_then(|f| f.get("thinking_enabled"))
        .and_then(Value::as_bool)
        == Some(true);
    let chat_id = query.get("chat_id").cloned().unwrap_or_default();
    let number = state.next_number();

    let mut script = Script::new(&state);
    if scenario.as_deref() == Some("slow") {
        script = script.with_gap(state.options.slow_gap);
    }
    script.event(
        &json!({"response.created": {
            "chat_id": chat_id,
            "parent_id": format!("parent-{number}"),
            "response_id": format!("response-{number}")
        }})
        .to_string(),
    );
    match scenario.as_deref() {
        Some("ratelimit") => {
            script.event(&rate_limited.to_string());
            return script.into_response(state);
        }
        Some("quota") => {
            script.event(
                &json!({"error": {"code": "Throttling", "message": "Allocated quota exceeded, please increase your quota limit. token-limit"}})
                    .to_string(),
            );
            return script.into_response(state);
        }
        Some("empty") => return script.into_response(state),
        _ => {}
    }

    if scenario.as_deref() == Some("think") {
        for piece in increments("The user greets me; I should answer kindly.", 3) {
            script.event(&delta(phased, "think", &piece, "typing").to_string());
        }
        script.event(&delta(phased, "think", "", "finished").to_string());
    } else if thinking {
        let thoughts = ["The user says hello.", "A short, friendly answer fits."];
        for n in 1..=thoughts.len() {
            let mut event = delta(phased, "thinking_summary", "", "typing");
            event["choices"][0]["delta"]["extra"] = json!({
                "summary_title": {"content": ["Greeting"]},
                "summary_thought": {"content": thoughts[..n]}
            });
            script.event(&event.to_string());
        }
        script.event(&delta(phased, "thinking_summary", "", "finished").to_string());
    }

    let prompt_tokens = (body.len() / 16).max(1) as u64;
    let pieces = increments(&state.options.answer, 4);
    let with_usage = |mut event: Value, output: u64| {
        event["usage"] = json!({
            "input_tokens": prompt_tokens,
            "output_tokens": output,
            "total_tokens": prompt_tokens + output
        });
        event
    };
    for (i, piece) in pieces.iter().enumerate() {
        let output = i as u64 + 1;
        script.event(&with_usage(delta(phased, "answer", piece, "typing"), output).to_string());
        if i == 0 {
            script.push(Piece::Hold);
        }
        if i == 1 && scenario.as_deref() == Some("disconnect") {
            script.push(Piece::Abort);
            return script.into_response(state);
        }
    }
    script.event(
        &with_usage(delta(phased, "answer", "", "finished"), pieces.len() as u64).to_string(),
    );
    script.into_response(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_cover_the_text() {
        assert_eq!(increments("你好世界!", 2).concat(), "你好世界!");
        assert_eq!(increments("ab", 4), ["a", "b"]);
    }
}
