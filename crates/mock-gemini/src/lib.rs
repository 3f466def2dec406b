//! A fake Gemini Developer API on loopback, for the `gemini` plugin's tests
//! (`docs/protocols/gemini-api.md`, "The mock").
//!
//! ```ignore
//! let mock = mock_gemini::spawn(MockOptions::default()).await;
//! // account settings: base-url = mock.base_url; secrets: api-key = "good-1"
//! // … drive the gateway …
//! assert_eq!(mock.generation_keys(), ["limited-1-a", "good-b"]);
//! ```
//!
//! - Keys: the prefix decides ([`keys`]): `good-*`, `bad-*` (400
//!   `API_KEY_INVALID`), `banned-*` (403), `limited-*` (N successes, then 429
//!   with `QuotaFailure` + `RetryInfo`, recovering after the delay),
//!   `daily-*` (429 per-day quota, forever). Sent as `x-goog-api-key` or
//!   `?key=` (the OpenAI-compatible route takes `Authorization: Bearer`).
//! - Faults ([`KeyFault`]): [`MockUpstream::set_key_fault`] makes any key
//!   answer its generation calls with 429 (per-minute or per-day), 400
//!   `API_KEY_INVALID`, 403, 500 or 503 until the fault is removed; it takes
//!   precedence over the prefix. [`chaos::start`] re-draws faults for a
//!   fraction of a key pool every period; [`MockUpstream::generation_statuses`]
//!   tells what each generation call got.
//! - Scenarios ([`Scenario`]): the `x-mock-scenario` header, or the model
//!   name (`mock-thinking`, `tool_call`, …).
//! - Answers echo the last user turn ([`content`]): `echo: <text>`.
//! - Every request is recorded: [`MockUpstream::requests`], `GET /_mock/log`
//!   (`DELETE /_mock/log` clears it).
//! - `hold` streams wait for [`MockUpstream::release`] (or `POST /_mock/release`).

pub mod chaos;
pub mod content;
mod faults;
mod framing;
pub mod google_errors;
pub mod grounding;
pub mod keys;
mod openai;
mod routes;
pub mod scenario;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_kit::Controls;
pub(crate) use mock_kit::lock;
use serde::Serialize;
use serde_json::Value;

pub use content::{THOUGHT_SIGNATURE, echo_text};
pub use faults::KeyFault;
pub use scenario::Scenario;

/// Knobs a test may turn; `Default` is what the tests usually want.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Generation calls a `limited-*` key gets before its 429s (a key named
    /// `limited-<N>-…` sets its own N).
    pub limited_successes: u32,
    /// How long a `limited-*` key stays limited; sent as `RetryInfo.retryDelay`.
    pub limited_retry_delay: Duration,
    /// Pause between the pieces of a streamed answer.
    pub chunk_delay: Duration,
    /// How long the `timeout` scenario holds a request before answering.
    pub timeout_hold: Duration,
    /// The wait of the `slow_first_byte` scenario.
    pub slow_first_byte: Duration,
    /// The models listed, and accepted besides scenario names and `mock-*`.
    pub models: Vec<String>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            limited_successes: 2,
            limited_retry_delay: Duration::from_millis(2500),
            chunk_delay: Duration::from_millis(20),
            timeout_hold: Duration::from_secs(60),
            slow_first_byte: Duration::from_secs(10),
            // Today's catalogue: retired models (`gemini-2.0-flash`,
            // `gemini-3-pro-preview`) answer 404, as Google's do.
            models: [
                "gemini-2.5-pro",
                "gemini-2.5-flash",
                "gemini-3.1-pro-preview",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// One request as the mock saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// The API key, however it was sent.
    pub key: Option<String>,
    /// `header` (x-goog-api-key), `query` (?key=) or `bearer`.
    pub key_source: Option<String>,
    /// The model of a `models/…` call, without `models/`.
    pub model: Option<String>,
    /// `generateContent`, `streamGenerateContent`, `countTokens`,
    /// `batchEmbedContents`, `listModels`, `getModel`, `openaiChat`…
    pub action: Option<String>,
    /// The scenario a generation call ran.
    pub scenario: Option<String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// The status answered; `None` while the request is still held.
    pub status: Option<u16>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        mock_kit::find_header(&self.headers, name)
    }

    /// Whether this call generated content (and so spent quota).
    pub fn is_generation(&self) -> bool {
        matches!(
            self.action.as_deref(),
            Some("generateContent" | "streamGenerateContent" | "openaiChat")
        )
    }
}

/// State shared by the server's handlers and the test's handle.
pub struct Shared {
    options: MockOptions,
    controls: Controls<RecordedRequest>,
    limits: Mutex<keys::Limits>,
    /// Run-time faults by key; checked before the key's prefix.
    faults: Mutex<HashMap<String, KeyFault>>,
}

impl Shared {
    fn set_status(&self, seq: u64, status: u16) {
        self.controls.records.update(
            |entry| entry.seq == seq,
            |entry| entry.status = Some(status),
        );
    }

    pub(crate) fn fault_of(&self, key: &str) -> Option<KeyFault> {
        lock(&self.faults).get(key).copied()
    }
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<Shared>;

mock_kit::deref_to!(Shared => controls: Controls<RecordedRequest>);

/// Starts a mock on `127.0.0.1:0`, served by a task of the current runtime.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    spawn_on(0, options).await
}

/// Starts a mock on `127.0.0.1:port` (0: any free port).
pub async fn spawn_on(port: u16, options: MockOptions) -> MockUpstream {
    let shared = Arc::new(Shared {
        options,
        controls: Controls::default(),
        limits: Mutex::new(keys::Limits::default()),
        faults: Mutex::new(HashMap::new()),
    });
    let server = mock_kit::serve_on(port, routes::router(shared.clone())).await;
    mock_kit::Running::new(shared, server)
}

impl Shared {
    /// The keys of the generation calls, in order: the rotation the gateway did.
    pub fn generation_keys(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_generation)
            .map(|request| request.key.unwrap_or_default())
            .collect()
    }

    /// `(key, status)` of every answered generation call, in arrival order
    /// (a held stream shows up once its status is sent).
    pub fn generation_statuses(&self) -> Vec<(String, u16)> {
        self.requests()
            .iter()
            .filter(|request| request.is_generation())
            .filter_map(|request| Some((request.key.clone().unwrap_or_default(), request.status?)))
            .collect()
    }

    /// Makes `key` fail its generation calls with `fault` (`None`: behave per
    /// its prefix again).
    pub fn set_key_fault(&self, key: &str, fault: Option<KeyFault>) {
        let mut faults = lock(&self.faults);
        match fault {
            Some(fault) => faults.insert(key.to_string(), fault),
            None => faults.remove(key),
        };
    }

    /// Replaces all current faults with `faults` (empty: clears them).
    pub fn set_key_faults(&self, faults: impl IntoIterator<Item = (String, KeyFault)>) {
        *lock(&self.faults) = faults.into_iter().collect();
    }

    /// The faults in force now.
    pub fn key_faults(&self) -> HashMap<String, KeyFault> {
        lock(&self.faults).clone()
    }
}

#[cfg(test)]
mod tests;
