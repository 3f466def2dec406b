//! A template provider: copy it to start a plugin (docs/plugins.md walks
//! through it). It speaks a small, made-up JSON API — swap in your
//! upstream's — and shows each part a real plugin has:
//!
//! - what it needs, declared in its manifest (a host, a secret, settings);
//! - the request: the conversation folded into one prompt;
//! - the answer streamed back as events through the SDK's event pump;
//! - refusals as typed errors, so the gateway's pools act on them.
//!
//! The API: `POST {base-url}/v1/generate` with a bearer key and
//! `{"model", "prompt", "max_tokens"}`; the answer is Server-Sent Events,
//! `data: {"text": "…"}` pieces, then `data: {"done": true, "usage":
//! {"input": n, "output": m}}`. Errors are non-2xx with `{"error": "…"}`.

use serde_json::{Value, json};
use wasmgate_plugin_sdk::answer::{self, SseAnswer, SseDecoder};
use wasmgate_plugin_sdk::sse::SseEvent;
use wasmgate_plugin_sdk::{ChatRequest, Completion, Event, FinishReason, ModelInfo, Usage};
use wasmgate_plugin_sdk::{Platform, PluginManifest, Provider, ProviderError, WasiHost};
use wasmgate_plugin_sdk::{SecretSpec, SettingSpec, http, prompt, retry_after};

const DEFAULT_BASE_URL: &str = "https://api.example.com";

pub struct Template;

impl Provider for Template {
    type Completion = SseAnswer<http::Response, Pieces>;

    /// Called once at load, without an account: no secrets, no network.
    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "template".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A template: a small JSON API with streamed answers".into(),
            // The only host it may reach (an account's `base-url` origin is
            // granted too, when the operator sets one).
            hosts: vec!["api.example.com".into()],
            secrets: vec![SecretSpec::required(
                "api-key",
                "sent as `Authorization: Bearer`",
            )],
            settings: vec![SettingSpec::new(
                "base-url",
                "where the API lives",
                Some(DEFAULT_BASE_URL),
            )],
            models: vec![ModelInfo {
                id: "template-small".into(),
                display_name: Some("Template small".into()),
                context_window: Some(8192),
            }],
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(Self::manifest().models)
    }

    /// Returns once the upstream accepted the request, so that a refusal
    /// (a bad key, a rate limit) lets the gateway try another account.
    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        Ok(Completion::new(start(&WasiHost, &request)?))
    }
}

/// The chat's flow, written against the SDK's `Platform`: the gateway's
/// host in the component (`WasiHost`), the SDK's `NativeHost` in native
/// tests against a mock upstream.
pub fn start(
    host: &impl Platform,
    request: &ChatRequest,
) -> Result<SseAnswer<http::Response, Pieces>, ProviderError> {
    let key = host
        .secret("api-key")
        .ok_or_else(|| ProviderError::Unauthorized("the account has no `api-key`".into()))?;
    let folded = prompt::fold(&request.messages)
        .map_err(|err| ProviderError::BadRequest(err.to_string()))?;
    let body = json!({
        "model": request.model,
        "prompt": folded.text,
        "max_tokens": request.sampling.max_tokens,
    });
    let url = format!("{}/v1/generate", host.base_url(DEFAULT_BASE_URL));
    let request = http::Request::post(url)
        .header("authorization", format!("Bearer {}", key.trim()))
        .json(body.to_string());
    let response = host.send(request)?;
    if !response.is_success() {
        return Err(refusal(response, host.now_secs()));
    }
    Ok(answer::streaming(response, Pieces::default()))
}

/// A non-2xx answer as the typed error the gateway's pools act on: 401/403
/// bench the account, 429 cools it down (for `Retry-After` when given).
fn refusal(response: http::Response, now_secs: u64) -> ProviderError {
    let retry_after =
        retry_after::retry_after_ms(response.header("retry-after").unwrap_or(""), now_secs);
    let status = response.status;
    let body: Value =
        serde_json::from_str(&response.text(64 << 10).unwrap_or_default()).unwrap_or_default();
    let message = body["error"].as_str().unwrap_or("no detail").to_string();
    ProviderError::from_status(status, message, retry_after)
}

/// Decodes the answer's events as they arrive.
#[derive(Default)]
pub struct Pieces {
    done: bool,
}

impl SseDecoder for Pieces {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<Event>) -> Result<bool, ProviderError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|_| {
            ProviderError::upstream(0, "the upstream sent an event that is not JSON")
        })?;
        if let Some(text) = data["text"].as_str() {
            out.push(Event::Text(text.to_string()));
        }
        if data["done"] == true {
            let count = |key: &str| data["usage"][key].as_u64().unwrap_or(0) as u32;
            let (input, output) = (count("input"), count("output"));
            out.push(Event::Usage(Usage {
                prompt_tokens: input,
                completion_tokens: output,
                reasoning_tokens: None,
                total_tokens: input + output,
            }));
            out.push(Event::Finish(FinishReason::Stop));
            self.done = true;
        }
        Ok(self.done)
    }

    /// A stream that ends before `done` was cut: the caller must not take a
    /// partial answer for a whole one.
    fn end(&mut self, _out: &mut Vec<Event>) -> Result<(), ProviderError> {
        match self.done {
            true => Ok(()),
            false => Err(ProviderError::upstream(0, "the answer was cut off")),
        }
    }
}

wasmgate_plugin_sdk::export_provider!(Template);

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(lines: &[&str]) -> (Vec<Event>, bool) {
        let mut pieces = Pieces::default();
        let mut out = Vec::new();
        let mut done = false;
        for data in lines {
            let event = SseEvent {
                event: None,
                data: data.to_string(),
            };
            done = pieces.event(&event, &mut out).unwrap();
        }
        (out, done)
    }

    #[test]
    fn pieces_then_usage_and_the_finish() {
        let (events, done) = decode(&[
            r#"{"text": "Hel"}"#,
            r#"{"text": "lo"}"#,
            r#"{"done": true, "usage": {"input": 3, "output": 2}}"#,
        ]);
        assert!(done);
        assert!(matches!(&events[0], Event::Text(t) if t == "Hel"));
        assert!(matches!(&events[2], Event::Usage(u) if u.total_tokens == 5));
        assert!(matches!(events[3], Event::Finish(FinishReason::Stop)));
    }

    #[test]
    fn a_stream_without_done_is_cut() {
        let mut pieces = Pieces::default();
        assert!(pieces.end(&mut Vec::new()).is_err());
    }
}
