//! What the protocol code needs from the outside world, as a trait.
//!
//! The flows are written against [`Platform`] so that the same code runs in
//! the wasm component (over `wasi:http`) and in native tests (over a socket to
//! the mock upstream).

use wasmgate_plugin_sdk::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An HTTP request, fully built, not yet sent.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Lower-case names; values are raw bytes (a browser cookie may hold
    /// non-ASCII bytes).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: Method, url: String) -> Self {
        HttpRequest {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        let mut request = self;
        request.body = body.to_string().into_bytes();
        request
    }

    /// A header's value as text (for tests and diagnostics).
    pub fn header_text(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }
}

/// The body of a response, read as it arrives.
pub trait Body {
    /// The next piece, `None` at the end. A broken connection is an error.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError>;
}

pub struct HttpResponse {
    pub status: u16,
    /// `x-actual-status-code`: chat.qwen.ai answers refusals with `200` on
    /// the wire and the real status here.
    pub actual_status: Option<u16>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub body: Box<dyn Body>,
}

impl HttpResponse {
    /// The real status: `x-actual-status-code` when present.
    pub fn effective_status(&self) -> u16 {
        self.actual_status.unwrap_or(self.status)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.effective_status())
    }

    pub fn is_event_stream(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/event-stream"))
    }

    /// The rest of the body as text (lossy), at most `limit` bytes kept.
    pub fn text(mut self, limit: usize) -> Result<String, ProviderError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.body.next_chunk()? {
            let room = limit.saturating_sub(all.len());
            all.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if all.len() >= limit {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&all).into_owned())
    }
}

pub trait Platform {
    /// Sends a request and returns once the response head arrived.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError>;
    /// A fresh random id: 32 lower-case hex digits.
    fn random_hex32(&self) -> String;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// The account's key/value store (the host's `state`).
    fn state_get(&self, key: &str) -> Option<String>;
    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn state_delete(&self, key: &str);
}

/// `x-actual-status-code` as a number.
pub fn parse_actual_status(value: Option<&str>) -> Option<u16> {
    value?.trim().parse().ok()
}

/// Formats 16 random bytes as a UUID (`8-4-4-4-12`).
pub fn uuid_from_hex32(hex: &str) -> String {
    if hex.len() != 32 || !hex.is_ascii() {
        return hex.to_string();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
