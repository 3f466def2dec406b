//! The HTTP the plugin needs, as a trait: over `wasi:http` inside the
//! gateway, over a native client in this crate's tests.

use wasmgate_plugin_sdk::http::{self, HttpError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One outgoing request.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpCall {
    pub fn get(url: String) -> Self {
        HttpCall {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn post_json(url: String, body: &serde_json::Value) -> Self {
        HttpCall {
            method: Method::Post,
            url,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A response head, with the body still to read.
pub struct HttpReply<B> {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    /// Where a redirect points.
    pub location: Option<String>,
    pub body: B,
}

impl<B> HttpReply<B> {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }
}

/// A response body that arrives in pieces.
pub trait Body {
    /// The next piece, `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError>;

    /// The rest of the body, failing past `limit` bytes.
    fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
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
}

pub trait Transport {
    type Body: Body;
    fn send(&self, call: HttpCall) -> Result<HttpReply<Self::Body>, HttpError>;
}

/// `wasi:http` through the SDK's client.
pub struct WasiTransport;

impl Body for http::Response {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        http::Response::next_chunk(self)
    }
}

impl Transport for WasiTransport {
    type Body = http::Response;

    fn send(&self, call: HttpCall) -> Result<HttpReply<http::Response>, HttpError> {
        let mut request = match call.method {
            Method::Get => http::Request::get(call.url),
            Method::Post => http::Request::post(call.url),
        };
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let response = request.body(call.body).send()?;
        Ok(HttpReply {
            status: response.status,
            retry_after: response.header("retry-after").map(str::to_string),
            content_type: response.header("content-type").map(str::to_string),
            location: response.header("location").map(str::to_string),
            body: response,
        })
    }
}
