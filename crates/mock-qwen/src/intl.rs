//! The chat.qwen.ai routes (`docs/protocols/qwen.md`, "chat.qwen.ai routes",
//! including the 2026-09 changes described there).
//!
//! Like the live site, every refusal is an HTTP `200` whose real status rides
//! in `x-actual-status-code`, with `{"success":false,"data":{"code",…}}`:
//! - a missing, expired or unknown access JWT: `401`, code `Unauthorized`;
//! - write calls (`chats/new`, `chat/completions`) without browser-made
//!   anti-bot material (`bx-ua` + `bx-umidtoken` headers, or the cookie jar
//!   with `ssxmod_itna`), when [`MockOptions::require_browser_material`]:
//!   Alibaba's TMD challenge `{"ret":["FAIL_SYS_USER_VALIDATE","RGV587_ERROR…"],…}`;
//! - a model outside the catalogue: `404`, code `Not_Found` (the details
//!   text is the mock's own).
//!
//! The auth origin (`GET /api/v2/auths/refresh`, same server) trades the
//! `token` cookie (a session token) for a short-lived access JWT and a
//! rotated session token.
//!
//! `POST /api/v2/chat/completions?chat_id=` scenarios:
//! - (none): `response.created`, two cumulative `thinking_summary` events and
//!   their `finished` when `thinking_enabled`, 4 `answer` increments with
//!   `usage`, a final `status:"finished"`;
//! - `think` (mock's own): raw `think` increments instead of summaries;
//! - `expired`: the unauthorized refusal above;
//! - `ratelimit`: `200` stream with one `{"success":false,"data":{"code":"RateLimited","num":2,…}}`;
//! - `ratelimit_http`: the same object with `429` and `Retry-After: 30` (the
//!   header is the mock's own, to exercise it);
//! - `quota`: one `{"error":{"message":"Allocated quota exceeded…"}}` event;
//! - `inspection`: one `{"error":{"code":"data_inspection_failed",…}}` event
//!   (the prompt failed moderation);
//! - `output_inspection`: two answer increments, then that error (the
//!   answer failed moderation midway);
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
pub const NEW_CHAT_PATH: &str = "/api/v2/chats/new";
pub const REFRESH_PATH: &str = "/api/v2/auths/refresh";
pub const MODELS_PATH: &str = "/api/v2/models/";
/// What the moderation error of the `inspection` scenario says.
pub const INSPECTION_MESSAGE: &str = "Input data may contain inappropriate content.";

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/auths/signin", post(signin))
        .route(REFRESH_PATH, get(refresh))
        .route("/api/models", get(models))
        .route(MODELS_PATH, get(models))
        .route(NEW_CHAT_PATH, post(new_chat))
        .route(COMPLETIONS_PATH, post(completions))
        .route("/api/v2/chats/{id}", delete(delete_chat))
        .route("/api/v1/files/getstsToken", post(sts_token))
        .route("/oss/{*path}", put(|| async { StatusCode::OK }))
        .route("/api/v1/tasks/status/{id}", get(task_status))
}

/// A refusal the way the live site sends it: `200` on the wire, the real
/// status in `x-actual-status-code`, the reason in the body.
fn refusal_200(status: u16, code: &str, details: &str) -> Response {
    (
        StatusCode::OK,
        [("x-actual-status-code", status.to_string())],
        Json(json!({
            "success": false,
            "request_id": "mock-request",
            "data": {"code": code, "details": details}
        })),
    )
        .into_response()
}

fn unauthorized() -> Response {
    refusal_200(401, "Unauthorized", "401 Unauthorized")
}

/// The unauthorized refusal, unless the request carries an unexpired JWT.
fn refusal(headers: &HeaderMap) -> Option<Response> {
    let exp = crate::bearer(headers)
        .and_then(|token| jwt::claims(&token))
        .and_then(|claims| claims.get("exp").and_then(Value::as_u64));
    match exp {
        Some(exp) if exp > jwt::now_unix() => None,
        _ => Some(unauthorized()),
    }
}

/// The value of one cookie of the `Cookie` header.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let header = crate::header_text(headers, "cookie")?;
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

/// Alibaba's TMD anti-bot challenge for write calls without browser-made
/// material: a puzzle only a browser can solve.
fn challenge(state: &State, headers: &HeaderMap) -> Option<Response> {
    if !state.options.require_browser_material {
        return None;
    }
    let has = |name: &str| {
        crate::header_text(headers, name).is_some_and(|value| !value.trim().is_empty())
    };
    if (has("bx-ua") && has("bx-umidtoken")) || cookie(headers, "ssxmod_itna").is_some() {
        return None;
    }
    Some(
        Json(json!({
            "ret": ["FAIL_SYS_USER_VALIDATE", "RGV587_ERROR::SM::哎哟喂,被挤爆啦,请稍后重试"],
            "data": {
                "url": format!("{}/_____tmd_____/punish?x5secdata=mock&action=captchaconnect", state.base_url),
                "dialogSize": {"width": "375px", "height": "665px"}
            }
        }))
        .into_response(),
    )
}

/// `GET /api/v2/auths/refresh` with `Cookie: token=<session token>`.
async fn refresh(Extract(state): Extract<Arc<State>>, headers: HeaderMap) -> Response {
    let Some(account) = cookie(&headers, "token").and_then(|t| state.session_account(&t)) else {
        return unauthorized();
    };
    let ttl = state.options.access_token_ttl.as_secs();
    Json(json!({
        "success": true,
        "request_id": "mock-request",
        "data": {
            "access_token": jwt::test_jwt(&account, jwt::now_unix() + ttl),
            "refresh_token": state.issue_session(&account),
            "token_type": "Bearer",
            "expires_in": ttl
        }
    }))
    .into_response()
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

async fn models(Extract(state): Extract<Arc<State>>) -> Json<Value> {
    let data: Vec<Value> = state
        .options
        .intl_models
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "name": display_name(id),
                "info": {"meta": {
                    "abilities": {"thinking": true},
                    "chat_type": ["t2t", "search"],
                    "max_context_length": 1_000_000
                }}
            })
        })
        .collect();
    Json(json!({"success": true, "data": data}))
}

/// `qwen3.7-plus` → `Qwen3.7-Plus`.
fn display_name(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// `404 Not_Found` for a model outside the catalogue.
fn unknown_model(state: &State, model: Option<&str>) -> Option<Response> {
    let model = model?;
    if state.options.intl_models.iter().any(|m| m == model) {
        return None;
    }
    Some(refusal_200(
        404,
        "Not_Found",
        &format!("Model not found: {model}"),
    ))
}

async fn new_chat(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    if crate::header_text(&headers, "x-mock-scenario").as_deref() == Some("expired") {
        return unauthorized();
    }
    if let Some(challenged) = challenge(&state, &headers) {
        return challenged;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(refused) =
        unknown_model(&state, request.pointer("/models/0").and_then(Value::as_str))
    {
        return refused;
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

/// DashScope's moderation error, which chat.qwen.ai sends in band.
fn inspection_failed(message: &str) -> Value {
    json!({"error": {
        "code": "data_inspection_failed",
        "type": "data_inspection_failed",
        "message": message
    }})
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
    if let Some(challenged) = challenge(&state, &headers) {
        return challenged;
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
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "30")],
                Json(rate_limited),
            )
                .into_response();
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
    if let Some(refused) = unknown_model(&state, request.get("model").and_then(Value::as_str)) {
        return refused;
    }
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
        Some("inspection") => {
            script.event(&inspection_failed(INSPECTION_MESSAGE).to_string());
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
        if i == 1 && scenario.as_deref() == Some("output_inspection") {
            script.event(
                &inspection_failed("Output data may contain inappropriate content.").to_string(),
            );
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
