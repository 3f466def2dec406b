//! A fake OpenAI-compatible chat completions API on loopback, for the
//! `openai-compatible` plugin's tests. It follows OpenAI's protocol:
//!
//! - `POST /v1/chat/completions`, streamed (`text/event-stream`: `data:`
//!   chunks of `chat.completion.chunk` objects, the first delta carrying the
//!   role, `"usage": null` on each chunk and a last `choices: []` chunk with
//!   the usage when `stream_options.include_usage` is set, then
//!   `data: [DONE]`) or whole (`chat.completion`);
//! - `GET /v1/models`: `{"object": "list", "data": [{"id", "object": "model", …}]}`;
//! - errors as `{"error": {"message", "type", "param", "code"}}`.
//!
//! Keys travel as `Authorization: Bearer <key>`: any key is accepted except
//! `bad-*` (401 `invalid_api_key`) and `limited-*` (its chats get 429 with
//! `Retry-After`, as the `rate-limit` scenario); without one the answer is 401 unless
//! [`MockOptions::require_key`] is off (a local llama.cpp).
//!
//! Answers echo the last user turn: `echo: <text>`, streamed word by word.
//! A request with tools whose last turn is the user's calls the first tool
//! with `{"city":"Paris"}` (arguments streamed in pieces); once the tool's
//! result comes back the answer is `tool said: <result>`.
//!
//! Scenarios ([`scenario`]), by mock-kit's convention (`x-mock-scenario`
//! header, or `#scenario=<name>` in the prompt), else the model
//! `mock-<name>`: `reasoning` (`reasoning_content` deltas first),
//! `reasoning-openrouter` (`reasoning` deltas), `rate-limit` (429 with
//! `Retry-After`), `quota` (429 `insufficient_quota`), `auth` (401),
//! `forbidden` (403), `filter` (400 `content_filter`), `bad-request` (400),
//! `server-error` (500), `overloaded` (503), `cut` (the connection breaks
//! after the first piece), `cut-clean` (the body ends after the first piece,
//! with no finish and no `[DONE]`), `stream-error` (an in-stream
//! `{"error": …}` chunk, as OpenRouter sends), `length` (finish `length`),
//! `hold` (a stream's first text piece, then nothing until
//! [`MockUpstream::release`]).
//! A model neither listed nor `mock-*` is 404 `model_not_found`.
//!
//! Every request is recorded: [`MockUpstream::requests`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use mock_kit::{Controls, Ending, Pacing, paced_body};
use serde::Serialize;
use serde_json::{Value, json};

/// Knobs a test may turn.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The models `GET /v1/models` lists, and chat accepts besides `mock-*`.
    pub models: Vec<String>,
    /// Whether a request without a key is refused (OpenAI: yes; llama.cpp: no).
    pub require_key: bool,
    /// Pause between the chunks of a streamed answer.
    pub chunk_delay: Duration,
    /// The `Retry-After` of the `rate-limit` scenario, in seconds.
    pub retry_after_secs: u64,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            models: ["gpt-4o-mini", "deepseek-chat", "llama-3.1-8b"]
                .map(String::from)
                .to_vec(),
            require_key: true,
            chunk_delay: Duration::from_millis(10),
            retry_after_secs: 7,
        }
    }
}

/// One request as the mock saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// The scenario a chat ran (`echo` by default).
    pub scenario: Option<String>,
    pub status: u16,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        mock_kit::find_header(&self.headers, name)
    }

    /// The bearer key, if one was sent.
    pub fn key(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    pub fn is_chat(&self) -> bool {
        self.path == "/v1/chat/completions"
    }
}

pub struct Shared {
    options: MockOptions,
    controls: Controls<RecordedRequest>,
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<Shared>;

mock_kit::deref_to!(Shared => controls: Controls<RecordedRequest>);

/// Starts a mock on `127.0.0.1:0`, served by a task of the current runtime.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    let shared = Arc::new(Shared {
        options,
        controls: Controls::default(),
    });
    let server = mock_kit::serve(Router::new().fallback(handle).with_state(shared.clone())).await;
    mock_kit::Running::new(shared, server)
}

impl Shared {
    /// The chat calls so far.
    pub fn chats(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_chat)
    }
}

/// The scenario a chat asks for, by mock-kit's convention (the
/// `x-mock-scenario` header, or `#scenario=<name>` in the body), else the
/// model `mock-<name>`; `echo` otherwise.
pub fn scenario(headers: &HeaderMap, raw: &[u8], body: &Value) -> String {
    let named = body["model"].as_str().and_then(|m| m.strip_prefix("mock-"));
    mock_kit::requested_scenario(headers, raw)
        .or(named.map(String::from))
        .unwrap_or_else(|| "echo".into())
}

/// The text of a message's `content`: a string, or its `text` parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

fn last_user_text(body: &Value) -> Option<String> {
    let messages = body["messages"].as_array()?;
    let last = messages.iter().rev().find(|m| m["role"] == "user")?;
    Some(text_of(&last["content"]))
}

/// `{"error": {…}}` with its status.
fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let seq = shared.controls.records.next_seq();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 64 << 20).await.unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let mut record = RecordedRequest {
        seq,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: mock_kit::header_pairs(&parts.headers),
        body: body.clone(),
        scenario: None,
        status: 0,
    };
    let response = route(&shared, &mut record, &parts.headers, &bytes, body).await;
    record.status = response.status().as_u16();
    shared.controls.records.record(record);
    response
}

async fn route(
    shared: &Shared,
    record: &mut RecordedRequest,
    headers: &HeaderMap,
    raw: &[u8],
    body: Option<Value>,
) -> Response {
    let key = record.key().map(str::to_string);
    match key.as_deref() {
        Some(key) if key.starts_with("bad") => {
            let message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.";
            return error(
                401,
                "invalid_request_error",
                Some("invalid_api_key"),
                message,
            );
        }
        Some(key) if key.starts_with("limited") && record.path == "/v1/chat/completions" => {
            return rate_limited(shared);
        }
        None if shared.options.require_key => {
            let message = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
            return error(401, "invalid_request_error", None, message);
        }
        _ => {}
    }
    let method = record.method.parse::<Method>().unwrap_or(Method::GET);
    match (method, record.path.as_str()) {
        (Method::GET, "/v1/models") => {
            let data = shared.options.models.iter().map(|id| {
                json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "mock"})
            });
            let list = json!({"object": "list", "data": data.collect::<Vec<_>>()});
            json_response(200, &list)
        }
        (Method::POST, "/v1/chat/completions") => match body {
            Some(body) if body["messages"].is_array() && body["model"].is_string() => {
                let scenario = scenario(headers, raw, &body);
                record.scenario = Some(scenario.clone());
                chat(shared, &body, &scenario)
            }
            _ => error(
                400,
                "invalid_request_error",
                None,
                "We could not parse the JSON body of your request, or it lacks `model` or `messages`.",
            ),
        },
        _ => error(404, "invalid_request_error", None, "Unknown request URL."),
    }
}

/// 429 with the configured `Retry-After`, as OpenAI words a per-minute limit.
fn rate_limited(shared: &Shared) -> Response {
    let message = "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.";
    let mut response = error(429, "requests", Some("rate_limit_exceeded"), message);
    let after = shared.options.retry_after_secs.to_string();
    response
        .headers_mut()
        .insert("retry-after", after.parse().unwrap());
    response
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// One piece of an answer.
#[derive(Debug, Clone)]
enum Piece {
    Reasoning(&'static str, String),
    Text(String),
    /// A tool call's first piece (id, name), then argument pieces.
    ToolStart(String, String),
    ToolArguments(String),
}

fn chat(shared: &Shared, body: &Value, scenario: &str) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let known = shared.options.models.contains(&model) || model.starts_with("mock-");
    if !known {
        let message =
            format!("The model `{model}` does not exist or you do not have access to it.");
        return error(
            404,
            "invalid_request_error",
            Some("model_not_found"),
            &message,
        );
    }
    match scenario {
        "rate-limit" => return rate_limited(shared),
        "quota" => {
            let message =
                "You exceeded your current quota, please check your plan and billing details.";
            return error(
                429,
                "insufficient_quota",
                Some("insufficient_quota"),
                message,
            );
        }
        "auth" => {
            return error(
                401,
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided.",
            );
        }
        "forbidden" => {
            return error(
                403,
                "invalid_request_error",
                Some("unsupported_country_region_territory"),
                "Country, region, or territory not supported.",
            );
        }
        "filter" => {
            return error(
                400,
                "invalid_request_error",
                Some("content_filter"),
                "The response was filtered due to the prompt triggering the content management policy.",
            );
        }
        "bad-request" => {
            return error(
                400,
                "invalid_request_error",
                None,
                "Invalid value for 'temperature': expected a number.",
            );
        }
        "server-error" => {
            return error(
                500,
                "server_error",
                None,
                "The server had an error while processing your request. Sorry about that!",
            );
        }
        "overloaded" => {
            return error(
                503,
                "server_error",
                None,
                "The engine is currently overloaded, please try again later.",
            );
        }
        _ => {}
    }

    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let mut pieces = Vec::new();
    let mut finish = "stop";
    if scenario.starts_with("reasoning") {
        let field = if scenario == "reasoning-openrouter" {
            "reasoning"
        } else {
            "reasoning_content"
        };
        for word in words("Let me think. The user wants an echo.") {
            pieces.push(Piece::Reasoning(field, word));
        }
    }
    if last["role"] == "tool" {
        pieces.extend(words(&format!("tool said: {}", text_of(&last["content"]))).map(Piece::Text));
    } else if has_tools {
        let name = body["tools"][0]["function"]["name"]
            .as_str()
            .unwrap_or("tool")
            .to_string();
        pieces.push(Piece::ToolStart(
            format!("call_mock_{}", messages.len()),
            name,
        ));
        for part in ["{\"city\":", "\"Paris\"}"] {
            pieces.push(Piece::ToolArguments(part.into()));
        }
        finish = "tool_calls";
    } else {
        let text = format!("echo: {}", last_user_text(body).unwrap_or_default());
        pieces.extend(words(&text).map(Piece::Text));
    }
    if scenario == "length" {
        finish = "length";
    }
    let prompt_tokens: usize = messages
        .iter()
        .map(|m| text_of(&m["content"]).split_whitespace().count())
        .sum();
    let reasoning_tokens = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Reasoning(..)))
        .count();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": pieces.len(),
        "total_tokens": prompt_tokens + pieces.len(),
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
    });
    let id = format!("chatcmpl-mock-{}", shared.controls.records.last_seq());
    if body["stream"] != true {
        return json_response(200, &whole(&id, &model, &pieces, finish, &usage));
    }
    let include_usage = body["stream_options"]["include_usage"] == true;
    stream(
        shared,
        &id,
        &model,
        pieces,
        finish,
        include_usage.then_some(usage),
        scenario,
    )
}

/// `text` in word pieces, each but the first with its leading space.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(' ').enumerate().map(|(i, w)| {
        if i == 0 {
            w.to_string()
        } else {
            format!(" {w}")
        }
    })
}

fn whole(id: &str, model: &str, pieces: &[Piece], finish: &str, usage: &Value) -> Value {
    let mut message = json!({"role": "assistant", "content": null, "refusal": null});
    let mut reasoning = String::new();
    let mut text = String::new();
    let mut calls: Vec<Value> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Reasoning(_, t) => reasoning.push_str(t),
            Piece::Text(t) => text.push_str(t),
            Piece::ToolStart(id, name) => calls.push(
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": ""}}),
            ),
            Piece::ToolArguments(a) => {
                if let Some(call) = calls.last_mut() {
                    let so_far = call["function"]["arguments"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    call["function"]["arguments"] = json!(so_far + a);
                }
            }
        }
    }
    if !text.is_empty() {
        message["content"] = json!(text);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    json!({
        "id": id, "object": "chat.completion", "created": 1_700_000_000u64, "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    })
}

fn stream(
    shared: &Shared,
    id: &str,
    model: &str,
    pieces: Vec<Piece>,
    finish: &str,
    usage: Option<Value>,
    scenario: &str,
) -> Response {
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64,
            "model": model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if usage.is_some() {
            chunk["usage"] = Value::Null;
        }
        format!("data: {chunk}\n\n")
    };
    let mut ending = Ending::Clean;
    let mut frames: Vec<String> = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for piece in &pieces {
        let delta = match piece {
            Piece::Reasoning(field, t) => json!({ *field: t }),
            Piece::Text(t) => json!({"content": t}),
            Piece::ToolStart(id, name) => {
                json!({"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]})
            }
            Piece::ToolArguments(a) => {
                json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]})
            }
        };
        frames.push(chunk(delta, Value::Null));
        match scenario {
            "cut" => {
                ending = Ending::Reset;
                break;
            }
            "cut-clean" => break,
            "stream-error" => {
                let error = json!({"error": {"message": "Provider returned error", "code": 502}});
                frames.push(format!("data: {error}\n\n"));
                break;
            }
            _ => {}
        }
    }
    if !matches!(scenario, "cut" | "cut-clean" | "stream-error") {
        frames.push(chunk(json!({}), json!(finish)));
        if let Some(usage) = usage {
            let last = json!({
                "id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64,
                "model": model, "system_fingerprint": "fp_mock", "choices": [], "usage": usage,
            });
            frames.push(format!("data: {last}\n\n"));
        }
        frames.push("data: [DONE]\n\n".into());
    }
    let hold =
        (scenario == "hold").then(|| (shared.controls.hold.clone(), shared.controls.hold.ticket()));
    if hold.is_some() && frames.len() > 1 {
        // The hold comes after the first text piece, not after the role alone.
        let text = frames.remove(1);
        frames[0].push_str(&text);
    }
    let delay = shared.options.chunk_delay;
    let pacing = Pacing {
        first_delay: delay,
        piece_delay: delay,
        hold,
        ending,
    };
    let body = paced_body(frames.into_iter().map(Bytes::from).collect(), pacing);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap()
}

#[cfg(test)]
mod tests;
