//! Any upstream that speaks OpenAI's chat completions API (OpenRouter, DeepSeek, Groq,
//! llama.cpp…), named by each account's `base-url`. `chat` returns once the upstream
//! answered (a refusal surfaces there, where the host can try another account).

pub mod wire;

use serde_json::Value;
use wasmgate_plugin_sdk::answer::{self, SseAnswer, SseDecoder};
use wasmgate_plugin_sdk::{ChatRequest, Completion, Event, FinishReason, ModelInfo};
use wasmgate_plugin_sdk::{Platform, PluginManifest, Provider, ProviderError, WasiHost};
use wasmgate_plugin_sdk::{SecretSpec, SettingSpec};
use wasmgate_plugin_sdk::{headers, http, openai_json, retry_after, sse::SseEvent};

pub struct OpenAiCompatible;

impl Provider for OpenAiCompatible {
    type Completion = SseAnswer<http::Response, Chunks>;

    fn manifest() -> PluginManifest {
        let setting = |name: &str, description: &str| SettingSpec::new(name, description, None);
        PluginManifest {
            name: "openai-compatible".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Any OpenAI-compatible chat API (OpenRouter, DeepSeek, llama.cpp…)".into(),
            hosts: vec![], // the host grants the origin of each account's `base-url`
            secrets: vec![SecretSpec::optional(
                "api-key",
                "sent as `Authorization: Bearer`; none for keyless servers",
            )],
            settings: vec![
                setting("base-url", "required: e.g. https://openrouter.ai/api/v1"),
                setting("extra-headers", "a JSON object or `Name: value` lines"),
                setting(
                    "models",
                    "ids, comma-separated; unset: GET {base-url}/models",
                ),
            ],
            models: vec![],
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        models(&WasiHost)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        Ok(Completion::new(start(&WasiHost, &request)?))
    }
}

/// Sends the chat; returns once the upstream accepted it, with its answer.
pub fn start(
    host: &impl Platform,
    request: &ChatRequest,
) -> Result<SseAnswer<http::Response, Chunks>, ProviderError> {
    let body = wire::body(request)?.to_string();
    let url = format!("{}/chat/completions", base_url(host)?);
    let response = send(host, http::Request::post(url).json(body))?;
    Ok(answer::streaming(response, Chunks(None)))
}

/// The configured ids, else the upstream's own list.
pub fn models(host: &impl Platform) -> Result<Vec<ModelInfo>, ProviderError> {
    if let Some(list) = host.setting("models") {
        return Ok(list.split(',').filter_map(wire::model).collect());
    }
    let url = format!("{}/models", base_url(host)?);
    let response = send(host, http::Request::get(url))?;
    wire::models(&response.text(8 << 20)?)
}

fn base_url(host: &impl Platform) -> Result<String, ProviderError> {
    let missing = || ProviderError::Internal("the account has no `base-url` setting".into());
    let url = host.setting("base-url").ok_or_else(missing)?;
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// Sends with the account's extra headers and key; a refusal as its typed error.
fn send(host: &impl Platform, mut request: http::Request) -> Result<http::Response, ProviderError> {
    let extra = headers::parse_headers(&host.setting("extra-headers").unwrap_or_default());
    let extra = extra.map_err(|e| ProviderError::Internal(format!("extra-headers: {e}")))?;
    for (name, value) in extra {
        request = request.header(&name, value);
    }
    if let Some(key) = host.secret("api-key") {
        request = request.header("authorization", format!("Bearer {}", key.trim()));
    }
    let response = host.send(request)?;
    if response.is_success() {
        return Ok(response);
    }
    let header = response.header("retry-after").unwrap_or("");
    let retry_after = retry_after::retry_after_ms(header, host.now_secs());
    let (status, body) = (response.status, response.text(64 << 10).unwrap_or_default());
    Err(wire::refusal(status, &body, retry_after))
}

/// The stream's decoder; holds the finish reason until `[DONE]` or the end.
pub struct Chunks(Option<FinishReason>);

impl SseDecoder for Chunks {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<Event>) -> Result<bool, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.0 = self.0.or(Some(FinishReason::Stop));
            return Ok(true);
        }
        let chunk: Value = serde_json::from_str(data).unwrap_or_default();
        self.0 = openai_json::chunk_events(&chunk, out)?.or(self.0);
        Ok(false)
    }

    /// A body that ends before `[DONE]` and any finish reason was cut off.
    fn end(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        let cut = || ProviderError::upstream(0, "the upstream's stream was cut off");
        out.push(Event::Finish(self.0.take().ok_or_else(cut)?));
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(OpenAiCompatible);
