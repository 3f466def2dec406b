//! The Gemini Developer API (`generativelanguage.googleapis.com`) with one
//! API key per account.
//!
//! `chat` sends `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`
//! (or `:generateContent` when the caller does not stream) with the key in
//! `x-goog-api-key`, and returns as soon as the upstream answered with its
//! status, so that a refused key (400 `API_KEY_INVALID`, 403, 429) surfaces
//! there and the host can try another account. The body is then decoded as
//! the host pulls events (`gemini_format::answer`, shared with Vertex). The
//! protocol logic lives in `gemini-format` and in the modules below; the
//! flows here reach the host through the SDK's [`Platform`] (its
//! [`WasiHost`] in the component).

pub mod endpoints;
pub mod models;

use endpoints::{API_KEY_HEADER, API_KEY_SECRET, DEFAULT_BASE_URL, SAFETY_THRESHOLD_SETTING};
use gemini_format::answer::{self, Answer};
use gemini_format::{
    RequestOptions, build_request, error_from_response, search_base_model, upstream_model_id,
    validates_thought_signatures,
};
use wasmgate_plugin_sdk::http::{Request, Response};
use wasmgate_plugin_sdk::{
    ChatRequest, Completion, ModelInfo, Platform, PluginManifest, Provider, ProviderError,
    SecretSpec, SettingSpec, WasiHost,
};

/// Largest error body read to classify a refusal.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest non-streamed answer: generated images arrive inline, and the
/// instance's memory (128 MiB by default) must also hold their decoded copy.
const ANSWER_BODY_LIMIT: usize = 24 * 1024 * 1024;
/// Largest page of the model list.
const MODELS_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Pages of the model list followed at most (the catalogue has one or two).
const MAX_MODEL_PAGES: usize = 20;
/// State key and lifetime of the live model list (ids), which decides
/// whether a retired name still goes out as is.
const MODELS_STATE_KEY: &str = "live-models";
const MODELS_TTL_SECONDS: u32 = 6 * 3600;

/// The provider. Exported only in the wasm build: natively (unit tests) the
/// component export names do not link.
pub struct Gemini;

impl Provider for Gemini {
    type Completion = Answer<Response>;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "gemini".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gemini Developer API (Google AI Studio keys): generateContent, \
                          streamed over SSE, with thoughts, tools and images."
                .into(),
            hosts: vec![endpoints::PUBLIC_HOST.into()],
            secrets: vec![SecretSpec::required(
                API_KEY_SECRET,
                "a Gemini API key (AIza…, AQ.…), sent in the x-goog-api-key header",
            )],
            settings: vec![
                SettingSpec::new(
                    "base-url",
                    "origin of the API (a proxy, or a test upstream)",
                    Some(DEFAULT_BASE_URL),
                ),
                SettingSpec::new(
                    SAFETY_THRESHOLD_SETTING,
                    "threshold for every harm category (OFF, BLOCK_NONE, BLOCK_ONLY_HIGH…) when \
                     a request sends no safetySettings; unset keeps Google's defaults",
                    None,
                ),
            ],
            models: models::default_models(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        list_models(&WasiHost)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        Ok(Completion::new(start_chat(&WasiHost, request)?))
    }
}

/// The models the account's key can chat with (every page of the list); their
/// ids are kept in state for [`start_chat`].
pub fn list_models(platform: &impl Platform) -> Result<Vec<ModelInfo>, ProviderError> {
    let key = api_key(platform)?;
    let base_url = platform.base_url(DEFAULT_BASE_URL);
    let mut all = Vec::new();
    let mut page_token: Option<String> = None;
    for _ in 0..MAX_MODEL_PAGES {
        let request = Request::get(endpoints::models_url(&base_url, page_token.as_deref()))
            .header(API_KEY_HEADER, &key);
        let response = platform.send(request)?;
        if !response.is_success() {
            return Err(refusal(response));
        }
        let page = models::parse_page(&response.text(MODELS_BODY_LIMIT)?)?;
        all.extend(page.models);
        match page.next_page_token {
            Some(token) if Some(&token) != page_token.as_ref() => page_token = Some(token),
            _ => break,
        }
    }
    platform.state_set(
        MODELS_STATE_KEY,
        &models::encode_ids(&all),
        Some(MODELS_TTL_SECONDS),
    );
    Ok(all)
}

/// Sends the request and returns once the upstream accepted it; the answer
/// then streams from the body.
pub fn start_chat(
    platform: &impl Platform,
    request: ChatRequest,
) -> Result<Answer<Response>, ProviderError> {
    gemini_format::tool_ids::name_calls_with(format!("call_{:016x}_", platform.random_u64()));
    let key = api_key(platform)?;
    let base_url = platform.base_url(DEFAULT_BASE_URL);
    let live = platform
        .state_get(MODELS_STATE_KEY)
        .map(|ids| models::decode_ids(&ids));
    // `-search` asks for grounding (in the body); the URL names the base model.
    let model = upstream_model_id(search_base_model(&request.model), live.as_deref());
    let options = RequestOptions {
        file_uri_prefixes: endpoints::file_uri_prefixes(&base_url),
        safety_threshold: platform.setting(SAFETY_THRESHOLD_SETTING),
        // The Gemini API takes `fileData` without a type (Files API URIs have no extension).
        file_data_needs_mime_type: false,
        thought_signature_fallback: validates_thought_signatures(&model),
    };
    let body = build_request(&request, &options)?;
    let body = serde_json::to_vec(&body)
        .map_err(|err| ProviderError::Internal(format!("encoding the request: {err}")))?;
    let url = endpoints::generate_url(&base_url, &model, request.stream);
    let response = platform.send(Request::post(url).header(API_KEY_HEADER, &key).json(body))?;
    if !response.is_success() {
        return Err(refusal(response));
    }
    answer::of_response(response, request.stream, ANSWER_BODY_LIMIT)
}

/// The account's key, trimmed; any non-empty value is accepted.
fn api_key(platform: &impl Platform) -> Result<String, ProviderError> {
    platform
        .secret(API_KEY_SECRET)
        .map(|key| key.trim().to_string())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            ProviderError::Unauthorized(format!("the account has no `{API_KEY_SECRET}` secret"))
        })
}

/// The typed error for a non-2xx answer.
fn refusal(response: Response) -> ProviderError {
    let status = response.status;
    let body = response.text(ERROR_BODY_LIMIT).unwrap_or_default();
    error_from_response(status, &body)
}

#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(Gemini);
