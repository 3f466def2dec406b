//! Gemini models on Vertex AI, with two kinds of account
//! (`docs/protocols/vertex.md`):
//!
//! - a service account (`credentials-json`: the downloaded key file): the
//!   plugin signs an RS256 JWT, exchanges it for an access token at the OAuth
//!   token endpoint, keeps the token in the host's `state` until shortly
//!   before it expires, and sends it as `Authorization: Bearer`. On a 401 it
//!   gets a new token and tries once more.
//! - an express-mode key (`express-api-key`), sent in `x-goog-api-key`.
//!
//! `chat` posts to `…:streamGenerateContent?alt=sse` (or `:generateContent`
//! when the caller does not stream) and returns once Vertex answered with a
//! status, so refusals surface where the host can still try another account.
//! The request/response mapping and the streamed answer are `gemini-format`'s,
//! shared with the Gemini plugin; the modules below are plain Rust, tested
//! natively. The flows here reach the host (HTTP, secrets, settings, the
//! token cache in `state`, the clock) through the SDK's [`Platform`]: its
//! [`WasiHost`] in the component.

/// The generated types have no `PartialEq`; their `Debug` text is exact.
#[cfg(test)]
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($message:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($message)+)?)
    };
}

pub mod credentials;
pub mod endpoints;
pub mod errors;
pub mod jwt;
pub mod models;
pub mod settings;
pub mod token;
pub mod token_cache;

use credentials::ServiceAccount;
use gemini_format::answer::{self, Answer};
use gemini_format::{RequestOptions, build_request};
use settings::{AccountConfig, Auth};
use token::AccessToken;
use wasmgate_plugin_sdk::http::{Request, Response};
use wasmgate_plugin_sdk::{
    ChatRequest, Completion, Level, ModelInfo, Platform, PluginManifest, Provider, ProviderError,
    SecretSpec, SettingSpec, WasiHost,
};

/// Largest error body read to classify a refusal.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest non-streamed answer (generated images arrive inline).
const ANSWER_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Largest token-endpoint answer.
const TOKEN_BODY_LIMIT: usize = 64 * 1024;
/// The header of express keys; never `?key=`, which ends up in logs.
const API_KEY_HEADER: &str = "x-goog-api-key";
/// `image-url` prefixes Vertex reads itself (Cloud Storage objects).
const FILE_URI_PREFIXES: &[&str] = &["gs://"];

pub struct Vertex;

impl Provider for Vertex {
    type Completion = Answer<Response>;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "vertex".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gemini models on Vertex AI (generateContent, streamed over SSE) with a \
                          service-account key file or an express-mode API key."
                .into(),
            hosts: endpoints::PUBLIC_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            secrets: vec![
                SecretSpec::optional(
                    settings::CREDENTIALS_SECRET,
                    "a service account's JSON key file, whole (used when present)",
                ),
                SecretSpec::optional(
                    settings::EXPRESS_KEY_SECRET,
                    "a Vertex AI express-mode API key",
                ),
            ],
            settings: vec![
                SettingSpec::new(
                    settings::PROJECT_SETTING,
                    "project of a service account's requests (default: the key file's project_id)",
                    None,
                ),
                SettingSpec::new(
                    settings::LOCATION_SETTING,
                    "global, or a region such as us-central1 (picks the regional host)",
                    Some(settings::DEFAULT_LOCATION),
                ),
                SettingSpec::new(
                    settings::BASE_URL_SETTING,
                    "replaces the whole origin the location implies (a proxy, a test upstream)",
                    None,
                ),
                SettingSpec::new(
                    settings::TOKEN_URL_SETTING,
                    "OAuth token endpoint (default: {base-url}/token when base-url is set, else the \
                     key file's token_uri)",
                    Some(token::DEFAULT_TOKEN_URL),
                ),
                SettingSpec::new(
                    settings::API_VERSION_SETTING,
                    "API version of the request paths",
                    Some(settings::DEFAULT_API_VERSION),
                ),
                SettingSpec::new(
                    settings::SAFETY_THRESHOLD_SETTING,
                    "threshold for every harm category (OFF, BLOCK_NONE…) when a request sends \
                     no safetySettings; unset keeps Google's defaults",
                    None,
                ),
            ],
            models: models::default_models(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(models::default_models())
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        Ok(Completion::new(start_chat(&WasiHost, request)?))
    }
}

/// Sends the request and returns once Vertex accepted it; the answer then
/// streams from the body.
pub fn start_chat(
    platform: &impl Platform,
    request: ChatRequest,
) -> Result<Answer<Response>, ProviderError> {
    gemini_format::tool_ids::name_calls_with(format!("call_{:016x}_", platform.random_u64()));
    let AccountConfig {
        auth,
        endpoint,
        safety_threshold,
    } = settings::resolve(platform)?;
    // Lower case, and a retired model's documented successor (Vertex's
    // publisher-model list needs a permission many accounts lack).
    // `-search` asks for grounding (in the body); the URL names the base model.
    let model =
        gemini_format::upstream_model_id(gemini_format::search_base_model(&request.model), None);
    let options = RequestOptions {
        file_uri_prefixes: FILE_URI_PREFIXES.iter().map(|p| p.to_string()).collect(),
        safety_threshold,
        // Vertex refuses `fileData` without `mimeType`.
        file_data_needs_mime_type: true,
        thought_signature_fallback: gemini_format::validates_thought_signatures(&model),
    };
    let body = serde_json::to_vec(&build_request(&request, &options)?)
        .map_err(|err| ProviderError::Internal(format!("encoding the request: {err}")))?;
    let url = endpoint.generate_url(&model, request.stream);
    let post = |header: &str, value: &str| {
        platform.send(Request::post(&url).header(header, value).json(body.clone()))
    };

    let response = match &auth {
        Auth::Express { key } => post(API_KEY_HEADER, key)?,
        Auth::ServiceAccount { account, token_url } => {
            let tokens = Tokens::new(platform, account, token_url);
            let response = post("authorization", &tokens.current()?.bearer())?;
            if errors::token_rejected(response.status) {
                platform.log(
                    Level::Debug,
                    "Vertex refused the access token; fetching a new one",
                );
                drop(response);
                post("authorization", &tokens.renewed()?.bearer())?
            } else {
                response
            }
        }
    };
    if !response.is_success() {
        let status = response.status;
        let body = response.text(ERROR_BODY_LIMIT).unwrap_or_default();
        return Err(errors::refusal(status, &body));
    }
    answer::of_response(response, request.stream, ANSWER_BODY_LIMIT)
}

/// The access tokens of one service account, cached in the host's state.
struct Tokens<'a, P> {
    platform: &'a P,
    account: &'a ServiceAccount,
    token_url: &'a str,
    cache_key: String,
}

impl<'a, P: Platform> Tokens<'a, P> {
    fn new(platform: &'a P, account: &'a ServiceAccount, token_url: &'a str) -> Self {
        Tokens {
            platform,
            account,
            token_url,
            cache_key: token_cache::key(account, token_url),
        }
    }

    /// The cached token, or a new one.
    fn current(&self) -> Result<AccessToken, ProviderError> {
        match token_cache::load(self.platform, &self.cache_key) {
            Some(token) => Ok(token),
            None => self.renewed(),
        }
    }

    /// A new token, replacing the cached one.
    fn renewed(&self) -> Result<AccessToken, ProviderError> {
        token_cache::forget(self.platform, &self.cache_key);
        let token = self.exchange()?;
        token_cache::save(self.platform, &self.cache_key, &token);
        self.platform.log(
            Level::Debug,
            &format!(
                "fetched an access token for the service account, used for {} s",
                token.seconds_left(self.platform.now_secs())
            ),
        );
        Ok(token)
    }

    /// Signs an assertion and exchanges it; a transient failure is tried once more.
    fn exchange(&self) -> Result<AccessToken, ProviderError> {
        let signer = jwt::RsaSigner::from_pem(&self.account.private_key_pem).map_err(|err| {
            ProviderError::Unauthorized(format!(
                "the {} secret: {err}",
                settings::CREDENTIALS_SECRET
            ))
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let issued = self.platform.now_secs();
            let assertion = jwt::assertion(self.account, &signer, issued);
            let request = Request::post(self.token_url)
                .header("content-type", token::FORM_CONTENT_TYPE)
                .body(token::request_body(&assertion));
            let response = self.platform.send(request)?;
            let status = response.status;
            let body = response.text(TOKEN_BODY_LIMIT)?;
            match token::parse_response(status, &body, issued) {
                Ok(token) => return Ok(token),
                Err(failure) if failure.retryable && attempt == 1 => {
                    self.platform.log(
                        Level::Warn,
                        &format!("token endpoint: {:?}; trying once more", failure.error),
                    );
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(Vertex);
