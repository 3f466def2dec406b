//! What the flows need from outside: HTTP, the state store, a clock,
//! randomness and a log. The component provides them over `wasi:http` and the
//! host's imports; native tests provide them over a socket to the mock.

use wasmgate_plugin_sdk::http::HttpError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A request, fully built.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A response body, read as it arrives.
pub trait BodyStream {
    /// The next piece, `None` at the end; a broken connection is an error.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError>;
}

pub struct HttpResponse {
    pub status: u16,
    /// Every header, repeated names included (`Set-Cookie`).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Box<dyn BodyStream>,
}

impl HttpResponse {
    /// Every value of a header, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
    }

    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
    }

    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.body.next_chunk()
    }

    /// The whole remaining body, up to `limit` bytes.
    pub fn bytes(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            all.extend_from_slice(&chunk);
            if all.len() > limit {
                return Err(HttpError::Protocol(format!(
                    "response body larger than {limit} bytes"
                )));
            }
        }
        Ok(all)
    }

    /// The whole remaining body as text (lossy), up to `limit` bytes.
    pub fn text(&mut self, limit: usize) -> Result<String, HttpError> {
        self.bytes(limit)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
}

pub trait Platform {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
    /// The plugin's key/value store for this account.
    fn state_get(&self, key: &str) -> Option<String>;
    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn state_delete(&self, key: &str);
    /// Unix seconds.
    fn now(&self) -> u64;
    fn random_u64(&self) -> u64;
    fn log(&self, level: Level, message: &str);
    /// Waits (between retries).
    fn sleep_ms(&self, ms: u64);
}
