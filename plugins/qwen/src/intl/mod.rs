//! The chat.qwen.ai flow (v2 API): an access JWT, `POST /api/v2/chats/new`
//! for a chat id, then `POST /api/v2/chat/completions?chat_id=…`, which
//! streams phased increments.
//!
//! Since 2026-09 access tokens live about 15 minutes: with a `session-token`
//! the plugin trades it at the auth origin (`GET /api/v2/auths/refresh`) for
//! one, keeps it in the account's state until shortly before it expires, and
//! stores the rotated session token it gets back. Write calls also need the
//! browser's anti-bot material (`bx-ua` + `bx-umidtoken`, or the cookie jar);
//! without it the edge answers a challenge only a browser can solve.

pub mod decoder;

use serde_json::{Value, json};
use wasmgate_plugin_sdk::http::{Request, encode_component};
use wasmgate_plugin_sdk::{ModelInfo, Platform, ProviderError, Pump};

use crate::account::{Account, Credentials, Flow};
use crate::errors;
use crate::ids::random_uuid;
use crate::jwt;
use crate::models::{self, ModelChoice, SEARCH_SUFFIX, THINKING_SUFFIX};
use crate::prompt::FoldedPrompt;
use crate::pump::SseProducer;
use decoder::IntlDecoder;

pub const NEW_CHAT_PATH: &str = "/api/v2/chats/new";
pub const COMPLETIONS_PATH: &str = "/api/v2/chat/completions";
pub const MODELS_PATH: &str = "/api/v2/models/";
/// On the auth origin.
pub const REFRESH_PATH: &str = "/api/v2/auths/refresh";

/// State keys (per account).
pub const STATE_ACCESS_TOKEN: &str = "access-token";
pub const STATE_SESSION_TOKEN: &str = "session-token";
pub const STATE_MODELS: &str = "models";

/// How long the live catalogue is trusted (the proxies cache 5–60 min).
pub const MODELS_TTL_SECS: u32 = 3_600;
/// Access tokens are renewed this long before they expire.
const EXPIRY_MARGIN_SECS: u64 = 60;
/// The access token's life when it does not say (900 s live).
const DEFAULT_ACCESS_TTL_SECS: u64 = 900;
/// Rotated session tokens live about 30 days.
const SESSION_TTL_SECS: u32 = 30 * 86_400;

/// The anti-bot `bx-v` header value the proxies send (UNCONFIRMED whether
/// it is checked).
const BX_V: &str = "2.5.36";

fn parts(account: &Account) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>) {
    match &account.credentials {
        Credentials::ChatQwenAi {
            session_token,
            extra_cookie,
            bx_ua,
            bx_umidtoken,
            ..
        } => (
            session_token.as_deref(),
            extra_cookie.as_deref(),
            bx_ua.as_deref(),
            bx_umidtoken.as_deref(),
        ),
        Credentials::Tongyi { .. } => (None, None, None, None),
    }
}

/// `token=<session or access token>` plus the browser's cookie jar.
fn cookie_header(account: &Account, token_cookie: &str) -> String {
    let (_, extra, _, _) = parts(account);
    match extra {
        // A whole pasted jar may hold its own `token`.
        Some(jar) if jar.split(';').any(|c| c.trim().starts_with("token=")) => jar.to_string(),
        Some(jar) => format!("token={token_cookie}; {jar}"),
        None => format!("token={token_cookie}"),
    }
}

/// The headers every chat.qwen.ai call carries.
fn with_headers(
    request: Request,
    account: &Account,
    access_token: &str,
    accept: &str,
    request_id: &str,
) -> Request {
    let (session, _, bx_ua, bx_umidtoken) = parts(account);
    let mut request = request
        .header("authorization", format!("Bearer {access_token}"))
        .header(
            "cookie",
            cookie_header(account, session.unwrap_or(access_token)).as_bytes(),
        )
        .header("accept", accept)
        .header("accept-encoding", "identity")
        .header("content-type", "application/json")
        .header("origin", &account.web_origin)
        .header("referer", format!("{}/", account.web_origin))
        .header("user-agent", crate::tongyi::USER_AGENT)
        .header("source", "web")
        .header("version", &account.client_version)
        .header("bx-v", BX_V)
        .header("x-request-id", request_id);
    if let Some(value) = bx_ua {
        request = request.header("bx-ua", value);
    }
    if let Some(value) = bx_umidtoken {
        request = request.header("bx-umidtoken", value);
    }
    request
}

/// `GET <auth>/api/v2/auths/refresh` with the session token as cookie.
pub fn refresh_request(account: &Account, session_token: &str, request_id: &str) -> Request {
    Request::get(format!("{}{REFRESH_PATH}", account.auth_url))
        .header("cookie", cookie_header(account, session_token).as_bytes())
        .header("accept", "application/json")
        .header("accept-encoding", "identity")
        .header("origin", &account.web_origin)
        .header("referer", format!("{}/", account.web_origin))
        .header("x-request-origin", &account.web_origin)
        .header("user-agent", crate::tongyi::USER_AGENT)
        .header("source", "web")
        .header("version", &account.client_version)
        .header("x-request-id", request_id)
}

/// An access token for this account, and whether it was just made (a
/// refused fresh token is not worth a second try).
fn access_token(
    platform: &dyn Platform,
    account: &Account,
) -> Result<(String, bool), ProviderError> {
    let (token, session) = match &account.credentials {
        Credentials::ChatQwenAi {
            token,
            session_token,
            ..
        } => (token.as_deref(), session_token.as_deref()),
        Credentials::Tongyi { .. } => (None, None),
    };
    let Some(configured_session) = session else {
        let token = token.unwrap_or_default();
        jwt::check_fresh(token, platform.now_ms())?;
        return Ok((token.to_string(), true));
    };
    if let Some(cached) = platform.state_get(STATE_ACCESS_TOKEN) {
        let now_s = platform.now_secs();
        let fresh = jwt::expiry(&cached).is_none_or(|exp| exp > now_s + EXPIRY_MARGIN_SECS);
        if fresh {
            return Ok((cached, false));
        }
    }
    // The rotated session token if there is one, else the configured one.
    let rotated = platform.state_get(STATE_SESSION_TOKEN);
    let result = match rotated.as_deref() {
        Some(rotated) if rotated != configured_session => {
            match refresh(platform, account, rotated) {
                Err(ProviderError::Unauthorized(_)) => {
                    platform.state_delete(STATE_SESSION_TOKEN);
                    refresh(platform, account, configured_session)
                }
                other => other,
            }
        }
        _ => refresh(platform, account, configured_session),
    };
    result.map(|token| (token, true))
}

/// Trades a session token for an access token, and keeps both.
fn refresh(
    platform: &dyn Platform,
    account: &Account,
    session_token: &str,
) -> Result<String, ProviderError> {
    let request = refresh_request(account, session_token, &random_uuid(platform));
    let answer = platform
        .send(request)
        .map_err(ProviderError::from)
        .and_then(|response| {
            errors::expect_json(Flow::ChatQwenAi, response, platform.now_secs())
        })
        .map_err(|error| match error {
            ProviderError::Unauthorized(_) => ProviderError::Unauthorized(
                "chat.qwen.ai: the auth origin refused the session token (expired or signed out); copy the `token` cookie of a signed-in chat.qwen.ai browser session into `session-token`".into(),
            ),
            other => other,
        })?;
    let data = answer.get("data").unwrap_or(&answer);
    let Some(access) = data
        .get("access_token")
        .or_else(|| data.get("token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(ProviderError::upstream(
            502,
            "chat.qwen.ai: the token refresh answered without an access token",
        ));
    };
    let now_s = platform.now_secs();
    let lifetime = jwt::expiry(access)
        .map(|exp| exp.saturating_sub(now_s))
        .or_else(|| data.get("expires_in").and_then(Value::as_u64))
        .unwrap_or(DEFAULT_ACCESS_TTL_SECS);
    let keep = lifetime.saturating_sub(EXPIRY_MARGIN_SECS).max(1);
    platform.state_set(
        STATE_ACCESS_TOKEN,
        access,
        Some(u32::try_from(keep).unwrap_or(u32::MAX)),
    );
    if let Some(rotated) = data
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        platform.state_set(STATE_SESSION_TOKEN, rotated, Some(SESSION_TTL_SECS));
    }
    Ok(access.to_string())
}

/// A WAF challenge, explained with what the account should set.
fn explain_challenge(error: ProviderError, account: &Account) -> ProviderError {
    if !errors::is_human_verification_error(&error) {
        return error;
    }
    let (_, jar, bx_ua, bx_umidtoken) = parts(account);
    if (bx_ua.is_some() && bx_umidtoken.is_some()) || jar.is_some() {
        // The material exists but no longer passes: it is stale, or this IP
        // is flagged. Rest the account; another may pass.
        return ProviderError::rate_limited(
            format!(
                "chat.qwen.ai: {}; the account's browser material no longer passes: copy fresh `bx-ua`, `bx-umidtoken` and `cookie` from a signed-in browser",
                errors::HUMAN_VERIFICATION
            ),
            None,
        );
    }
    ProviderError::Forbidden(format!(
        "chat.qwen.ai: {}: since 2026-09 chat.qwen.ai only answers requests carrying anti-bot material a browser makes; set the account's `bx-ua` and `bx-umidtoken` secrets (headers of a browser request to chat.qwen.ai) or `cookie` (the browser's whole Cookie header). Without a browser this flow cannot work",
        errors::HUMAN_VERIFICATION
    ))
}

pub fn new_chat_request(
    account: &Account,
    access_token: &str,
    choice: &ModelChoice,
    now_ms: u64,
    request_id: &str,
) -> Request {
    let body = json!({
        "title": "New Chat",
        "models": [choice.upstream],
        "chat_mode": "normal",
        "chat_type": chat_type(choice),
        "timestamp": now_ms,
        "project_id": ""
    });
    let request =
        Request::post(format!("{}{NEW_CHAT_PATH}", account.base_url)).body(body.to_string());
    with_headers(
        request,
        account,
        access_token,
        "application/json",
        request_id,
    )
}

fn chat_type(choice: &ModelChoice) -> &'static str {
    if choice.search { "search" } else { "t2t" }
}

/// The thinking switches. UNCONFIRMED beyond `thinking_enabled`: the mode
/// and format names are the web client's as the proxies copy them.
fn feature_config(thinking: bool, search: bool) -> Value {
    json!({
        "output_schema": "phase",
        "thinking_enabled": thinking,
        "auto_thinking": false,
        "thinking_mode": if thinking { "Thinking" } else { "Fast" },
        "thinking_format": "summary",
        "research_mode": "normal",
        "auto_search": search
    })
}

/// Ids for one completion body.
pub struct MessageIds {
    pub fid: String,
    pub child: String,
}

pub fn completion_body(
    chat_id: &str,
    choice: &ModelChoice,
    prompt: &FoldedPrompt,
    thinking: bool,
    now_ms: u64,
    ids: &MessageIds,
) -> Value {
    let content = if prompt.image_urls.is_empty() {
        json!(prompt.text)
    } else {
        let mut items = vec![json!({ "type": "text", "text": prompt.text })];
        items.extend(
            prompt
                .image_urls
                .iter()
                .map(|url| json!({ "type": "image", "image": url })),
        );
        Value::Array(items)
    };
    let chat_type = chat_type(choice);
    let now_s = now_ms / 1000;
    json!({
        "stream": true,
        "version": "2.1",
        "incremental_output": true,
        "chat_id": chat_id,
        "chat_mode": "normal",
        "model": choice.upstream,
        "parent_id": null,
        "timestamp": now_s,
        "messages": [{
            "fid": ids.fid,
            "parentId": null,
            "childrenIds": [ids.child],
            "role": "user",
            "content": content,
            "user_action": "chat",
            "files": [],
            "timestamp": now_s,
            "models": [choice.upstream],
            "chat_type": chat_type,
            "sub_chat_type": chat_type,
            "feature_config": feature_config(thinking, choice.search),
            "extra": { "meta": { "subChatType": chat_type } }
        }]
    })
}

pub fn completion_request(
    account: &Account,
    access_token: &str,
    chat_id: &str,
    body: &Value,
    request_id: &str,
) -> Request {
    let url = format!(
        "{}{COMPLETIONS_PATH}?chat_id={}",
        account.base_url,
        encode_component(chat_id)
    );
    let request = Request::post(url)
        .body(body.to_string())
        .header("x-accel-buffering", "no");
    with_headers(
        request,
        account,
        access_token,
        "text/event-stream",
        request_id,
    )
}

/// `data.id` of a `chats/new` answer.
pub fn chat_id(answer: &Value) -> Result<String, ProviderError> {
    answer
        .pointer("/data/id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::upstream(502, "chat.qwen.ai: creating a chat returned no chat id")
        })
}

/// A chat.qwen.ai answer: its stream through the decoder.
pub type AnswerStream = SseProducer<IntlDecoder>;

/// Starts a chat. A cached access token the upstream refuses is renewed
/// once; a WAF challenge says what the account lacks.
pub fn start(
    platform: &dyn Platform,
    account: &Account,
    requested_model: &str,
    thinking: Option<bool>,
    prompt: &FoldedPrompt,
) -> Result<Pump<AnswerStream>, ProviderError> {
    let attempt = |token: &str| -> Result<Pump<AnswerStream>, ProviderError> {
        let live = live_model_ids(platform, account, token);
        let choice = models::resolve(requested_model, Flow::ChatQwenAi, live.as_deref());
        let thinking = thinking.unwrap_or(choice.thinking);
        start_with(platform, account, token, &choice, prompt, thinking)
    };
    let (token, fresh) = access_token(platform, account)?;
    let result = match attempt(&token) {
        Err(ProviderError::Unauthorized(_)) if !fresh => {
            platform.state_delete(STATE_ACCESS_TOKEN);
            let (token, _) = access_token(platform, account)?;
            attempt(&token)
        }
        other => other,
    };
    result.map_err(|error| explain_challenge(error, account))
}

fn start_with(
    platform: &dyn Platform,
    account: &Account,
    token: &str,
    choice: &ModelChoice,
    prompt: &FoldedPrompt,
    thinking: bool,
) -> Result<Pump<AnswerStream>, ProviderError> {
    let new_chat = new_chat_request(
        account,
        token,
        choice,
        platform.now_ms(),
        &random_uuid(platform),
    );
    let chat_id = chat_id(&errors::expect_json(
        Flow::ChatQwenAi,
        platform.send(new_chat)?,
        platform.now_secs(),
    )?)?;

    let ids = MessageIds {
        fid: random_uuid(platform),
        child: random_uuid(platform),
    };
    let body = completion_body(&chat_id, choice, prompt, thinking, platform.now_ms(), &ids);
    let request = completion_request(account, token, &chat_id, &body, &random_uuid(platform));
    let response = errors::expect_stream(
        Flow::ChatQwenAi,
        platform.send(request)?,
        platform.now_secs(),
    )?;
    let pump = Pump::new(SseProducer::new(response, IntlDecoder::new()));
    // Rate limits, refusals and empty answers arrive inside the stream:
    // surface them here, while the host may still try another account.
    pump.prime()?;
    Ok(pump)
}

pub fn models_request(account: &Account, access_token: &str, request_id: &str) -> Request {
    let request = Request::get(format!("{}{MODELS_PATH}", account.base_url));
    with_headers(
        request,
        account,
        access_token,
        "application/json",
        request_id,
    )
}

/// The catalogue's entries: `data` is the list (or `data.data`).
fn entries(answer: &Value) -> &[Value] {
    let data = answer.get("data");
    data.and_then(Value::as_array)
        .or_else(|| data.and_then(|d| d.get("data")).and_then(Value::as_array))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The catalogue, with the `-thinking` / `-search` variants each model's
/// abilities allow.
pub fn parse_models(answer: &Value) -> Vec<ModelInfo> {
    let mut models = Vec::new();
    for entry in entries(answer) {
        let Some(id) = entry
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let meta = entry.pointer("/info/meta");
        let thinking = meta
            .and_then(|m| m.pointer("/abilities/thinking"))
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_u64().is_some_and(|n| n > 0));
        let search = meta
            .and_then(|m| m.get("chat_type"))
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("search")));
        let context_window = meta
            .and_then(|m| m.get("max_context_length"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let info = |suffix: &str| ModelInfo {
            id: format!("{id}{suffix}"),
            display_name: name.as_ref().map(|n| format!("{n}{suffix}")),
            context_window,
        };
        models.push(info(""));
        if thinking {
            models.push(info(THINKING_SUFFIX));
        }
        if search {
            models.push(info(SEARCH_SUFFIX));
        }
    }
    models
}

/// The live catalogue's raw answer: from the state while fresh, else read
/// and kept for [`MODELS_TTL_SECS`].
fn live_catalogue(
    platform: &dyn Platform,
    account: &Account,
    token: &str,
) -> Result<Value, ProviderError> {
    if let Some(cached) = platform.state_get(STATE_MODELS)
        && let Ok(answer) = serde_json::from_str::<Value>(&cached)
    {
        return Ok(answer);
    }
    let request = models_request(account, token, &random_uuid(platform));
    let answer = errors::expect_json(
        Flow::ChatQwenAi,
        platform.send(request)?,
        platform.now_secs(),
    )?;
    if entries(&answer).is_empty() {
        return Err(ProviderError::upstream(
            502,
            "chat.qwen.ai: the model list was empty",
        ));
    }
    platform.state_set(STATE_MODELS, &answer.to_string(), Some(MODELS_TTL_SECS));
    Ok(answer)
}

/// The live ids, or `None` when the catalogue cannot be read (the dated
/// fallback then applies).
fn live_model_ids(platform: &dyn Platform, account: &Account, token: &str) -> Option<Vec<String>> {
    let answer = live_catalogue(platform, account, token).ok()?;
    Some(
        entries(&answer)
            .iter()
            .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_string))
            .collect(),
    )
}

/// The live catalogue, or the dated fallback list when it cannot be read.
pub fn list_models(
    platform: &dyn Platform,
    account: &Account,
) -> Result<Vec<ModelInfo>, ProviderError> {
    let live = access_token(platform, account)
        .and_then(|(token, _)| live_catalogue(platform, account, &token));
    Ok(match live {
        Ok(answer) => parse_models(&answer),
        Err(_) => models::listed(Flow::ChatQwenAi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::resolve;

    fn account() -> Account {
        Account::from_host(
            |name| match name {
                "token" => Some("eyJ.payload.sig".into()),
                "cookie" => Some("ssxmod_itna=1".into()),
                _ => None,
            },
            |_| None,
        )
        .unwrap()
    }

    #[test]
    fn requests_carry_the_token_as_bearer_and_cookie() {
        let account = account();
        let choice = resolve("qwen3-max-thinking", Flow::ChatQwenAi, None);
        let request = new_chat_request(
            &account,
            "eyJ.payload.sig",
            &choice,
            1_767_225_600_000,
            "rid",
        );
        assert_eq!(request.url(), "https://chat.qwen.ai/api/v2/chats/new");
        assert_eq!(
            request.header_text("authorization").as_deref(),
            Some("Bearer eyJ.payload.sig")
        );
        assert_eq!(
            request.header_text("cookie").as_deref(),
            Some("token=eyJ.payload.sig; ssxmod_itna=1")
        );
        assert_eq!(
            request.header_text("origin").as_deref(),
            Some("https://chat.qwen.ai")
        );
        let body: Value = serde_json::from_slice(request.body_bytes()).unwrap();
        assert_eq!(body["models"][0], "qwen3-max");
        assert_eq!(body["chat_type"], "t2t");
    }

    #[test]
    fn completion_body_asks_for_phases_and_increments() {
        let choice = resolve("qwen3-max-thinking", Flow::ChatQwenAi, None);
        let prompt = FoldedPrompt {
            text: "Hi".into(),
            image_urls: vec!["https://x/cat.png".into()],
        };
        let ids = MessageIds {
            fid: "f".into(),
            child: "c".into(),
        };
        let body = completion_body("chat-1", &choice, &prompt, true, 1_767_225_600_123, &ids);
        assert_eq!(body["stream"], true);
        assert_eq!(body["incremental_output"], true);
        assert_eq!(body["chat_id"], "chat-1");
        assert_eq!(body["timestamp"], 1_767_225_600u64);
        let message = &body["messages"][0];
        assert_eq!(message["feature_config"]["output_schema"], "phase");
        assert_eq!(message["feature_config"]["thinking_enabled"], true);
        assert_eq!(message["content"][0]["text"], "Hi");
        assert_eq!(message["content"][1]["image"], "https://x/cat.png");
        let request = completion_request(&account(), "tok", "chat 1", &body, "rid");
        assert_eq!(
            request.url(),
            "https://chat.qwen.ai/api/v2/chat/completions?chat_id=chat%201"
        );
        assert_eq!(
            request.header_text("accept").as_deref(),
            Some("text/event-stream")
        );
    }

    #[test]
    fn chat_id_is_required() {
        assert_eq!(
            chat_id(&json!({"success":true,"data":{"id":"chat-7"}})).unwrap(),
            "chat-7"
        );
        assert!(chat_id(&json!({"success":true,"data":{}})).is_err());
    }

    #[test]
    fn models_come_with_their_variants() {
        let answer = json!({"data":[
            {"id":"qwen3-max","name":"Qwen3-Max","info":{"meta":{"abilities":{"thinking":true},"chat_type":["t2t","search"]}}},
            {"id":"qwen-turbo-latest","name":"Qwen Turbo","info":{"meta":{"chat_type":["t2t"]}}},
            {"name":"no id"}
        ]});
        let ids: Vec<String> = parse_models(&answer).into_iter().map(|m| m.id).collect();
        assert_eq!(
            ids,
            [
                "qwen3-max",
                "qwen3-max-thinking",
                "qwen3-max-search",
                "qwen-turbo-latest"
            ]
        );
    }
}
