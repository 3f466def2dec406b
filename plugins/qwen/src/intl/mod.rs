//! The chat.qwen.ai flow (v2 API): a bearer JWT, `POST /api/v2/chats/new`
//! for a chat id, then `POST /api/v2/chat/completions?chat_id=…`, which
//! streams phased increments.

pub mod decoder;

use serde_json::{Value, json};
use wasmgate_plugin_sdk::{ModelInfo, ProviderError, http::encode_component};

use crate::account::{Account, Credentials, Flow};
use crate::errors;
use crate::jwt;
use crate::models::{ModelChoice, SEARCH_SUFFIX, THINKING_SUFFIX};
use crate::platform::{HttpRequest, Method, Platform, uuid_from_hex32};
use crate::prompt::FoldedPrompt;
use crate::pump::SsePump;
use decoder::IntlDecoder;

pub const NEW_CHAT_PATH: &str = "/api/v2/chats/new";
pub const COMPLETIONS_PATH: &str = "/api/v2/chat/completions";
pub const MODELS_PATH: &str = "/api/models";

/// The anti-bot `bx-v` header value the proxies send (UNCONFIRMED whether
/// it is checked).
const BX_V: &str = "2.5.36";

/// The headers every chat.qwen.ai call carries.
fn with_headers(
    request: HttpRequest,
    account: &Account,
    accept: &str,
    request_id: &str,
) -> HttpRequest {
    let Credentials::ChatQwenAi {
        token,
        extra_cookie,
    } = &account.credentials
    else {
        return request;
    };
    let cookie = match extra_cookie {
        Some(extra) => format!("token={token}; {extra}"),
        None => format!("token={token}"),
    };
    request
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", cookie.as_bytes())
        .header("accept", accept)
        .header("accept-encoding", "identity")
        .header("content-type", "application/json")
        .header("origin", &account.web_origin)
        .header("referer", format!("{}/", account.web_origin))
        .header("user-agent", crate::tongyi::USER_AGENT)
        .header("source", "web")
        .header("version", &account.client_version)
        .header("bx-v", BX_V)
        .header("x-request-id", request_id)
}

pub fn new_chat_request(
    account: &Account,
    choice: &ModelChoice,
    now_ms: u64,
    request_id: &str,
) -> HttpRequest {
    let body = json!({
        "title": "New Chat",
        "models": [choice.upstream],
        "chat_mode": "normal",
        "chat_type": chat_type(choice),
        "timestamp": now_ms,
        "project_id": ""
    });
    let request =
        HttpRequest::new(Method::Post, format!("{}{NEW_CHAT_PATH}", account.base_url)).json(&body);
    with_headers(request, account, "application/json", request_id)
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
    chat_id: &str,
    body: &Value,
    request_id: &str,
) -> HttpRequest {
    let url = format!(
        "{}{COMPLETIONS_PATH}?chat_id={}",
        account.base_url,
        encode_component(chat_id)
    );
    let request = HttpRequest::new(Method::Post, url)
        .json(body)
        .header("x-accel-buffering", "no");
    with_headers(request, account, "text/event-stream", request_id)
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

fn token(account: &Account) -> &str {
    match &account.credentials {
        Credentials::ChatQwenAi { token, .. } => token,
        Credentials::Tongyi { .. } => "",
    }
}

pub fn start(
    platform: &dyn Platform,
    account: &Account,
    choice: &ModelChoice,
    prompt: &FoldedPrompt,
    thinking: bool,
) -> Result<SsePump<IntlDecoder>, ProviderError> {
    jwt::check_fresh(token(account), platform.now_ms())?;
    let new_chat = new_chat_request(
        account,
        choice,
        platform.now_ms(),
        &uuid_from_hex32(&platform.random_hex32()),
    );
    let chat_id = chat_id(&errors::expect_json(
        Flow::ChatQwenAi,
        platform.send(new_chat)?,
    )?)?;

    let ids = MessageIds {
        fid: uuid_from_hex32(&platform.random_hex32()),
        child: uuid_from_hex32(&platform.random_hex32()),
    };
    let body = completion_body(&chat_id, choice, prompt, thinking, platform.now_ms(), &ids);
    let request = completion_request(
        account,
        &chat_id,
        &body,
        &uuid_from_hex32(&platform.random_hex32()),
    );
    let response = errors::expect_stream(Flow::ChatQwenAi, platform.send(request)?)?;
    let mut pump = SsePump::new(response.body, IntlDecoder::new());
    // Rate limits and empty answers arrive inside the stream: surface them
    // here, while the host may still try another account.
    pump.prime()?;
    Ok(pump)
}

pub fn models_request(account: &Account, request_id: &str) -> HttpRequest {
    let request = HttpRequest::new(Method::Get, format!("{}{MODELS_PATH}", account.base_url));
    with_headers(request, account, "application/json", request_id)
}

/// The catalogue, with the `-thinking` / `-search` variants each model's
/// abilities allow.
pub fn parse_models(answer: &Value) -> Vec<ModelInfo> {
    let mut models = Vec::new();
    let Some(entries) = answer.get("data").and_then(Value::as_array) else {
        return models;
    };
    for entry in entries {
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

pub fn list_models(
    platform: &dyn Platform,
    account: &Account,
) -> Result<Vec<ModelInfo>, ProviderError> {
    jwt::check_fresh(token(account), platform.now_ms())?;
    let request = models_request(account, &uuid_from_hex32(&platform.random_hex32()));
    let answer = errors::expect_json(Flow::ChatQwenAi, platform.send(request)?)?;
    Ok(parse_models(&answer))
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
        let choice = resolve("qwen3-max-thinking", Flow::ChatQwenAi);
        let request = new_chat_request(&account, &choice, 1_767_225_600_000, "rid");
        assert_eq!(request.url, "https://chat.qwen.ai/api/v2/chats/new");
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
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["models"][0], "qwen3-max");
        assert_eq!(body["chat_type"], "t2t");
    }

    #[test]
    fn completion_body_asks_for_phases_and_increments() {
        let choice = resolve("qwen3-max-thinking", Flow::ChatQwenAi);
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
        let request = completion_request(&account(), "chat 1", &body, "rid");
        assert_eq!(
            request.url,
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
