//! Running the plugin's flow natively against the mock: an HTTP/1.1
//! transport over hyper, and an in-memory host (secrets, settings, state).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::runtime::{Handle, Runtime};

use mock_gemini_business::MockUpstream;
use plugin_gemini_business::env::Env;
use plugin_gemini_business::transport::{Body, HttpCall, HttpReply, Method, Transport};
use wasmgate_plugin_sdk::http::HttpError;
use wasmgate_plugin_sdk::{ChatRequest, ContentPart, Event, Message, ProviderError, Role};

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Blocking HTTP on the test thread, driven by the mock's runtime.
#[derive(Clone)]
pub struct HyperTransport {
    pub handle: Handle,
}

pub struct HyperBody {
    handle: Handle,
    body: hyper::body::Incoming,
}

impl Body for HyperBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            match self.handle.block_on(self.body.frame()) {
                None => return Ok(None),
                Some(Err(err)) => return Err(HttpError::Protocol(err.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(data.to_vec()));
                    }
                }
            }
        }
    }
}

impl Transport for HyperTransport {
    type Body = HyperBody;

    fn send(&self, call: HttpCall) -> Result<HttpReply<HyperBody>, HttpError> {
        let handle = self.handle.clone();
        self.handle.block_on(async move {
            let uri: hyper::Uri = call
                .url
                .parse()
                .map_err(|e| HttpError::InvalidRequest(format!("{e}")))?;
            let authority = uri
                .authority()
                .ok_or_else(|| HttpError::InvalidRequest("no authority".into()))?
                .to_string();
            let stream = tokio::net::TcpStream::connect(&authority)
                .await
                .map_err(|e| HttpError::Connect(e.to_string()))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| HttpError::Connect(e.to_string()))?;
            tokio::spawn(connection);
            let mut request = hyper::Request::builder()
                .method(match call.method {
                    Method::Get => hyper::Method::GET,
                    Method::Post => hyper::Method::POST,
                })
                .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
                .header("host", authority);
            for (name, value) in &call.headers {
                request = request.header(*name, value);
            }
            let request = request
                .body(Full::new(Bytes::from(call.body)))
                .map_err(|e| HttpError::InvalidRequest(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            Ok(HttpReply {
                status: response.status().as_u16(),
                retry_after: header("retry-after"),
                content_type: header("content-type"),
                location: header("location"),
                body: HyperBody {
                    handle,
                    body: response.into_body(),
                },
            })
        })
    }
}

/// One gateway account: its secrets and settings, and a state store shared
/// by the requests made with clones of it (as the host scopes state per
/// account).
#[derive(Clone, Default)]
pub struct MemoryEnv {
    pub secrets: HashMap<String, String>,
    pub settings: HashMap<String, String>,
    pub state: Arc<Mutex<HashMap<String, String>>>,
    /// Every wait the plugin asked for, in milliseconds (not waited).
    pub sleeps: Arc<Mutex<Vec<u64>>>,
}

impl MemoryEnv {
    /// An account pointed at the mock by `base-url` alone (it routes the
    /// sign-in too).
    pub fn for_mock(mock: &MockUpstream) -> Self {
        let mut env = MemoryEnv::default();
        env.settings
            .insert("base-url".into(), mock.base_url.clone());
        env
    }

    pub fn slept(&self) -> Vec<u64> {
        self.sleeps.lock().unwrap().clone()
    }

    /// The per-variable secrets of mock account `index`.
    pub fn with_account(mut self, mock: &MockUpstream, index: usize) -> Self {
        let account = mock.account(index);
        self.secrets
            .insert("secure-c-ses".into(), account.secure_c_ses.clone());
        if let Some(oses) = &account.host_c_oses {
            self.secrets.insert("host-c-oses".into(), oses.clone());
        }
        self.secrets
            .insert("csesidx".into(), account.csesidx.clone());
        self.secrets
            .insert("config-id".into(), account.config_id.clone());
        self
    }

    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    pub fn stored(&self, key: &str) -> Option<String> {
        self.state.lock().unwrap().get(key).cloned()
    }

    pub fn store(&self, key: &str, value: &str) {
        self.state.lock().unwrap().insert(key.into(), value.into());
    }
}

impl Env for MemoryEnv {
    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned()
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).cloned()
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.stored(key)
    }

    fn state_set(&self, key: &str, value: &str, _ttl_seconds: Option<u32>) {
        self.store(key, value)
    }

    fn state_delete(&self, key: &str) {
        self.state.lock().unwrap().remove(key);
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn debug(&self, _message: &str) {}

    fn warn(&self, _message: &str) {}

    fn sleep_ms(&self, ms: u64) {
        self.sleeps.lock().unwrap().push(ms);
    }
}

pub fn user_message(parts: Vec<ContentPart>) -> Message {
    Message {
        role: Role::User,
        content: parts,
        name: None,
        tool_calls: vec![],
        tool_call_id: None,
    }
}

pub fn request(model: &str, prompt: &str) -> ChatRequest {
    request_with(
        model,
        vec![user_message(vec![ContentPart::Text(prompt.into())])],
    )
}

pub fn request_with(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new(model, messages, true)
}

/// What a chat produced: its events, and the error that ended it, if any.
pub struct Outcome {
    pub events: Vec<Event>,
    pub error: Option<ProviderError>,
}

impl Outcome {
    pub fn text(&self) -> String {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn reasoning(&self) -> String {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reasoning(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Runs a chat to its end; `Err` when `chat` itself refused.
pub fn run(
    transport: &HyperTransport,
    env: &MemoryEnv,
    request: &ChatRequest,
) -> Result<Outcome, ProviderError> {
    let answer = plugin_gemini_business::chat::start(transport.clone(), env.clone(), request)?;
    let mut events = Vec::new();
    loop {
        match answer.next_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => {
                return Ok(Outcome {
                    events,
                    error: None,
                });
            }
            Err(err) => {
                return Ok(Outcome {
                    events,
                    error: Some(err),
                });
            }
        }
    }
}
