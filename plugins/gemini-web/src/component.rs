//! The component side: the [`Platform`] over `wasi:http` and the host's
//! imports, and the exported provider.
//!
//! HTTP goes through the raw `wasi:http` bindings rather than the SDK client
//! because the flows need every `Set-Cookie` header of a response, and the
//! SDK's `Response::header` returns only the first value of a name.

use std::rc::Rc;

use wasmgate_plugin_sdk::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use wasmgate_plugin_sdk::bindings::wasi::http::outgoing_handler;
use wasmgate_plugin_sdk::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, Scheme,
};
use wasmgate_plugin_sdk::bindings::wasi::io::streams::{InputStream, StreamError};
use wasmgate_plugin_sdk::bindings::wasi::random::random;
use wasmgate_plugin_sdk::http::HttpError;
use wasmgate_plugin_sdk::{
    ChatRequest, Completion, CompletionStream, Event, ModelInfo, PluginManifest, Provider,
    ProviderError, host,
};

use crate::account::{self, Account};
use crate::answer::Answer;
use crate::chat;
use crate::models;
use crate::platform::{BodyStream, HttpRequest, HttpResponse, Level, Method, Platform};

const WRITE_CHUNK: usize = 4096;
const READ_CHUNK: u64 = 64 * 1024;

pub struct GeminiWeb;

impl Provider for GeminiWeb {
    type Completion = Streaming;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "gemini-web".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gemini through the gemini.google.com web app, with the account's Google session cookies".into(),
            hosts: vec![
                "gemini.google.com".into(),
                "accounts.google.com".into(),
                "content-push.googleapis.com".into(),
                "*.googleusercontent.com".into(),
            ],
            secrets: account::secret_specs(),
            settings: account::setting_specs(),
            models: table_models(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        let account = Account::from_config(host::account_id(), host::secret, host::setting)?;
        if let Some(overrides) = &account.model_overrides {
            models::parse_overrides(overrides).map_err(chat::model_error)?;
        }
        Ok(chat::list(Rc::new(WasiPlatform), account)
            .into_iter()
            .map(|(id, display)| ModelInfo {
                id,
                display_name: Some(display),
                context_window: None,
            })
            .collect())
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let account = Account::from_config(host::account_id(), host::secret, host::setting)?;
        let answer = chat::start(Rc::new(WasiPlatform), account, &request)?;
        Ok(Completion::new(Streaming(answer)))
    }
}

/// The completion resource.
pub struct Streaming(Answer);

impl CompletionStream for Streaming {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        Ok(self.0.next_event()?.into_iter().collect())
    }
}

fn table_models() -> Vec<ModelInfo> {
    models::table_names()
        .into_iter()
        .map(|(id, display)| ModelInfo {
            id,
            display_name: Some(display),
            context_window: None,
        })
        .collect()
}

struct WasiPlatform;

impl Platform for WasiPlatform {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        send(request)
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

    fn now(&self) -> u64 {
        wall_clock::now().seconds
    }

    fn random_u64(&self) -> u64 {
        random::get_random_u64()
    }

    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Debug => host::debug(message),
            Level::Info => host::info(message),
            Level::Warn => host::warn(message),
        }
    }

    fn sleep_ms(&self, ms: u64) {
        monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }
}

fn send(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (scheme, authority, path) = split_url(&request.url)?;
    let list: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&list)
        .map_err(|e| HttpError::InvalidRequest(format!("header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |what: &str| HttpError::InvalidRequest(format!("{what} of {authority}"));
    let method = match request.method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
    };
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;
    let future = outgoing_handler::handle(outgoing, None).map_err(from_error_code)?;
    let written = write_body(body, &request.body);

    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_error_code(code)),
        Some(Err(())) | None => return Err(HttpError::Protocol("response future lost".into())),
    };
    // A denial shows on the future; only now does a body-write error count.
    written?;
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Protocol("response body unavailable".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::Protocol("response body stream unavailable".into()))?;
    Ok(HttpResponse {
        status,
        headers,
        body: Box::new(WasiBody {
            stream: Some(stream),
            _body: Some(incoming),
            _response: response,
        }),
    })
}

/// Field order matters: the stream is dropped before its body, the body
/// before its response.
struct WasiBody {
    stream: Option<InputStream>,
    _body: Option<IncomingBody>,
    _response: IncomingResponse,
}

impl BodyStream for WasiBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            let Some(stream) = &self.stream else {
                return Ok(None);
            };
            match stream.blocking_read(READ_CHUNK) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(error)) => {
                    self.stream = None;
                    return Err(HttpError::Protocol(error.to_debug_string()));
                }
            }
        }
    }
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    {
        let stream = body
            .write()
            .map_err(|()| HttpError::Protocol("request body unavailable".into()))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Protocol(format!("writing the request body: {e:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(from_error_code)
}

fn split_url(url: &str) -> Result<(Scheme, String, String), HttpError> {
    let invalid = || HttpError::InvalidRequest(format!("not an http(s) URL: {url:?}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(invalid()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    Ok((scheme, authority.to_string(), path))
}

fn from_error_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied("http-request-denied".into()),
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Timeout(format!("{code:?}")),
        ErrorCode::ConnectionRefused
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DnsError(_) => HttpError::Connect(format!("{code:?}")),
        other => HttpError::Protocol(format!("{other:?}")),
    }
}
