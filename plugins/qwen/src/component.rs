//! The wasm side: the exported provider, its flows over the SDK's
//! [`WasiHost`]. Built for `wasm32` only, so that the native test build has
//! no component exports to link.

use std::rc::Rc;

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, CompletionStream, Event, ModelInfo, PluginManifest, Provider,
    ProviderError, SecretSpec, SettingSpec, WasiHost, export_provider, host,
};

use crate::account::{Account, DEFAULT_CLIENT_VERSION, secret, setting};
use crate::{chat, models};

struct Qwen;

impl Provider for Qwen {
    type Completion = QwenCompletion;

    fn manifest() -> PluginManifest {
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
                SecretSpec::optional(
                    secret::COOKIE,
                    "tongyi: the browser's whole Cookie header; chat.qwen.ai: the browser's cookie jar (ssxmod_itna…), which passes the anti-bot check",
                ),
                SecretSpec::optional(
                    secret::XSRF_TOKEN,
                    "tongyi: the x-xsrf-token header copied from the browser (optional: newer clients send none)",
                ),
                SecretSpec::optional(
                    secret::SESSION_TOKEN,
                    "chat.qwen.ai: the `token` cookie of a signed-in browser (about 30 days); traded at auth.qwen.ai for 15-minute access tokens",
                ),
                SecretSpec::optional(
                    secret::BX_UA,
                    "chat.qwen.ai: the bx-ua header of a browser request to chat.qwen.ai (anti-bot; needed with bx-umidtoken unless `cookie` holds the jar)",
                ),
                SecretSpec::optional(
                    secret::BX_UMIDTOKEN,
                    "chat.qwen.ai: the bx-umidtoken header of a browser request to chat.qwen.ai",
                ),
                SecretSpec::optional(
                    secret::TOKEN,
                    "chat.qwen.ai: a fixed access token (expires within ~15 minutes; prefer session-token)",
                ),
            ],
            settings: vec![
                SettingSpec::new(
                    setting::BASE_URL,
                    "API origin (tongyi: https://api.tongyi.com, chat.qwen.ai: https://chat.qwen.ai)",
                    None,
                ),
                SettingSpec::new(
                    setting::AUTH_URL,
                    "chat.qwen.ai's auth origin for token refresh (default: base-url when set, else https://auth.qwen.ai)",
                    None,
                ),
                SettingSpec::new(
                    setting::WEB_ORIGIN,
                    "Origin/Referer sent (tongyi: https://www.tongyi.com, chat.qwen.ai: the base URL)",
                    None,
                ),
                SettingSpec::new(
                    setting::CLIENT_VERSION,
                    "chat.qwen.ai web client version header",
                    Some(DEFAULT_CLIENT_VERSION),
                ),
                SettingSpec::new(
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
        chat::list_models(&WasiHost, &account)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let account = current_account()?;
        let answer = chat::start(Rc::new(WasiHost), &account, &request)?;
        Ok(Completion::new(QwenCompletion(answer)))
    }
}

fn current_account() -> Result<Account, ProviderError> {
    Account::from_host(host::secret, host::setting)
}

struct QwenCompletion(chat::Answer);

impl CompletionStream for QwenCompletion {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        self.0.next_batch()
    }
}

export_provider!(Qwen);
