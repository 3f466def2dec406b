//! The wasm side: the exported provider, and the platform over the host's
//! `wasi:http`, clocks and randomness. Built for `wasm32` only, so that the
//! native test build has no component exports to link.

use std::cell::RefCell;

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, CompletionStream, Event, ModelInfo, PluginManifest, Provider,
    ProviderError, SecretSpec, SettingSpec, export_provider, host, http,
};

use crate::account::{Account, DEFAULT_CLIENT_VERSION, secret, setting};
use crate::platform::{Body, HttpRequest, HttpResponse, Method, Platform};
use crate::{chat, models};

struct Qwen;

impl Provider for Qwen {
    type Completion = QwenCompletion;

    fn manifest() -> PluginManifest {
        let secret_spec = |name: &str, description: &str| SecretSpec {
            name: name.into(),
            description: description.into(),
            required: false,
        };
        let setting_spec = |name: &str, description: &str, default: Option<&str>| SettingSpec {
            name: name.into(),
            description: description.into(),
            default: default.map(str::to_string),
        };
        PluginManifest {
            name: "qwen".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Qwen web chat: tongyi (browser cookie) or chat.qwen.ai (session token) accounts. chat.qwen.ai needs anti-bot material a browser makes (bx-ua + bx-umidtoken, or the cookie jar): it cannot work without a browser to copy them from."
                    .into(),
            hosts: vec![
                "api.tongyi.com".into(),
                "chat.qwen.ai".into(),
                "auth.qwen.ai".into(),
            ],
            secrets: vec![
                secret_spec(
                    secret::COOKIE,
                    "tongyi: the browser's whole Cookie header; chat.qwen.ai: the browser's cookie jar (ssxmod_itna…), which passes the anti-bot check",
                ),
                secret_spec(
                    secret::XSRF_TOKEN,
                    "tongyi: the x-xsrf-token header copied from the browser (optional: newer clients send none)",
                ),
                secret_spec(
                    secret::SESSION_TOKEN,
                    "chat.qwen.ai: the `token` cookie of a signed-in browser (about 30 days); traded at auth.qwen.ai for 15-minute access tokens",
                ),
                secret_spec(
                    secret::BX_UA,
                    "chat.qwen.ai: the bx-ua header of a browser request to chat.qwen.ai (anti-bot; needed with bx-umidtoken unless `cookie` holds the jar)",
                ),
                secret_spec(
                    secret::BX_UMIDTOKEN,
                    "chat.qwen.ai: the bx-umidtoken header of a browser request to chat.qwen.ai",
                ),
                secret_spec(
                    secret::TOKEN,
                    "chat.qwen.ai: a fixed access token (expires within ~15 minutes; prefer session-token)",
                ),
            ],
            settings: vec![
                setting_spec(
                    setting::BASE_URL,
                    "API origin (tongyi: https://api.tongyi.com, chat.qwen.ai: https://chat.qwen.ai)",
                    None,
                ),
                setting_spec(
                    setting::AUTH_URL,
                    "chat.qwen.ai's auth origin for token refresh (default: base-url when set, else https://auth.qwen.ai)",
                    None,
                ),
                setting_spec(
                    setting::WEB_ORIGIN,
                    "Origin/Referer sent (tongyi: https://www.tongyi.com, chat.qwen.ai: the base URL)",
                    None,
                ),
                setting_spec(
                    setting::CLIENT_VERSION,
                    "chat.qwen.ai web client version header",
                    Some(DEFAULT_CLIENT_VERSION),
                ),
                setting_spec(
                    setting::KEEP_SESSIONS,
                    "tongyi: `true` keeps each proxied chat in the account's history",
                    Some("false"),
                ),
            ],
            models: models::all(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        let account = current_account()?;
        chat::list_models(&WasiPlatform, &account)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let account = current_account()?;
        let answer = chat::start(&WasiPlatform, &account, &request)?;
        Ok(Completion::new(QwenCompletion {
            state: RefCell::new(Some((answer, account))),
        }))
    }
}

fn current_account() -> Result<Account, ProviderError> {
    Account::from_host(host::secret, host::setting)
}

struct QwenCompletion {
    /// `None` once the answer is over.
    state: RefCell<Option<(chat::Answer, Account)>>,
}

impl CompletionStream for QwenCompletion {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        let mut state = self.state.borrow_mut();
        let Some((answer, account)) = state.as_mut() else {
            return Ok(Vec::new());
        };
        let next = answer.next_event(&WasiPlatform, account);
        if !matches!(next, Ok(Some(_))) {
            if answer.restarts() > 0 {
                host::warn(&format!(
                    "tongyi restarted its answer {} time(s)",
                    answer.restarts()
                ));
            }
            *state = None;
        }
        next.map(|event| event.into_iter().collect())
    }
}

/// The host's `wasi:http`, clocks and randomness.
struct WasiPlatform;

impl Platform for WasiPlatform {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
        let mut outgoing = match request.method {
            Method::Get => http::Request::get(request.url),
            Method::Post => http::Request::post(request.url),
        };
        for (name, value) in &request.headers {
            outgoing = outgoing.header(name, value);
        }
        let response = outgoing.body(request.body).send()?;
        Ok(HttpResponse {
            status: response.status,
            actual_status: crate::platform::parse_actual_status(
                response.header("x-actual-status-code"),
            ),
            content_type: response.header("content-type").map(str::to_string),
            retry_after: response.header("retry-after").map(str::to_string),
            body: Box::new(WasiBody(response)),
        })
    }

    fn random_hex32(&self) -> String {
        wasmgate_plugin_sdk::bindings::wasi::random::random::get_random_bytes(16)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn now_ms(&self) -> u64 {
        let now = wasmgate_plugin_sdk::bindings::wasi::clocks::wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }

    fn state_get(&self, key: &str) -> Option<String> {
        host::store::get(key)
    }

    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        host::store::set(key, value, ttl_seconds)
    }

    fn state_delete(&self, key: &str) {
        host::store::delete(key)
    }
}

struct WasiBody(http::Response);

impl Body for WasiBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        self.0.next_chunk().map_err(|error| match error {
            // Mid-answer, a broken connection is an upstream failure.
            http::HttpError::Protocol(what) => ProviderError::upstream(
                0,
                format!("the upstream connection broke mid-answer: {what}"),
            ),
            other => other.into(),
        })
    }
}

export_provider!(Qwen);
