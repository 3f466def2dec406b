//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Blocking is right inside a plugin: each request runs in its own instance,
//! and the host turns every wait into an async await on its side.
//!
//! The host decides where a request may go. A request to a host the plugin was
//! not granted fails with [`HttpError::Denied`]; the host reports that denial
//! on the response future, so the body is written after `handle()` and the
//! future is checked before a body-write error is reported.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};

/// Largest write `blocking-write-and-flush` accepts.
const WRITE_CHUNK: usize = 4096;
/// How much to ask for per read.
const READ_CHUNK: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The gateway refused to let this plugin reach the host.
    Denied(String),
    /// The URL or a header could not be expressed as a request.
    InvalidRequest(String),
    /// Connecting, TLS or DNS failed.
    Connect(String),
    Timeout(String),
    /// The connection broke or the peer spoke nonsense.
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(what) => write!(
                f,
                "the gateway denied this request ({what}): the host is not in this plugin's allowed-hosts"
            ),
            HttpError::InvalidRequest(what) => write!(f, "invalid request: {what}"),
            HttpError::Connect(what) => write!(f, "could not connect to the upstream: {what}"),
            HttpError::Timeout(what) => write!(f, "the upstream timed out: {what}"),
            HttpError::Protocol(what) => write!(f, "the upstream connection failed: {what}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP method a plugin sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// An outgoing request, built with [`Request::get`] or [`Request::post`],
/// sent with [`Request::send`] (the component's host) or a
/// [`Platform`](crate::platform::Platform)'s `send`.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header; the name is stored lower-case, the value as raw bytes
    /// (a browser cookie may hold non-ASCII bytes).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").body(body)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every header, in order, lower-case names and raw values.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// A header's first value as text (lossy), for tests and diagnostics.
    pub fn header_text(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }

    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request through the component's host (`wasi:http`) and
    /// waits for the response head; the body is read from the returned
    /// [`Response`] as it arrives.
    pub fn send(self) -> Result<Response, HttpError> {
        send_over_wasi(self)
    }
}

fn send_over_wasi(request: Request) -> Result<Response, HttpError> {
    let url = Url::parse(&request.url)?;
    let headers = Fields::from_list(&request.headers)
        .map_err(|e| HttpError::InvalidRequest(format!("header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| HttpError::InvalidRequest(format!("{what} of {}", url.origin()));
    let method = match request.method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
        Method::Put => WasiMethod::Put,
        Method::Delete => WasiMethod::Delete,
    };
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    let scheme = if url.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&url.authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&url.path_and_query))
        .map_err(|()| invalid("path"))?;
    let outgoing_body = outgoing.body().map_err(|()| invalid("body"))?;

    let future = outgoing_handler::handle(outgoing, None).map_err(from_error_code)?;
    let written = write_body(outgoing_body, &request.body);

    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_error_code(code)),
        Some(Err(())) | None => {
            return Err(HttpError::Protocol("response future lost".into()));
        }
    };
    // Only now report a body-write failure: a denial shows on the future.
    written?;
    let status = response.status();
    let headers = response.headers().entries();
    let body = response
        .consume()
        .map_err(|()| HttpError::Protocol("response body unavailable".into()))?;
    let stream = body
        .stream()
        .map_err(|()| HttpError::Protocol("response body stream unavailable".into()))?;
    Ok(Response::new(
        status,
        headers,
        Box::new(WasiBody {
            stream: Some(stream),
            _body: Some(body),
            _response: response,
        }),
    ))
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

/// A response body, read as it arrives: over `wasi:http` in the component,
/// over a socket in native tests.
pub trait Body {
    /// The next piece, `None` at the end; a broken connection is an error.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError>;
}

/// A response whose body streams in.
pub struct Response {
    pub status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Box<dyn Body>,
}

impl Response {
    /// A response from its head and its body (what a [`Platform`]'s `send`
    /// builds).
    ///
    /// [`Platform`]: crate::platform::Platform
    pub fn new(status: u16, headers: Vec<(String, Vec<u8>)>, body: Box<dyn Body>) -> Self {
        Response {
            status,
            headers,
            body,
        }
    }

    /// The first value of a header, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// Every value of a header, in order (`Set-Cookie` repeats).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// Every header, in order, with raw values.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The next piece of the body as it arrives, `None` at its end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.body.next_chunk()
    }

    /// The whole remaining body, failing past `limit` bytes; the head stays
    /// readable afterwards.
    pub fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
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

    /// The whole remaining body as text (lossy), failing past `limit` bytes.
    pub fn read_text(&mut self, limit: usize) -> Result<String, HttpError> {
        self.read_to_end(limit)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The whole remaining body, up to `limit` bytes.
    pub fn bytes(mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        self.read_to_end(limit)
    }

    /// The whole remaining body as text (lossy), up to `limit` bytes.
    pub fn text(mut self, limit: usize) -> Result<String, HttpError> {
        self.read_text(limit)
    }
}

impl Body for Response {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.body.next_chunk()
    }
}

/// Field order matters: the stream must be dropped before its body, and the
/// body before its response.
struct WasiBody {
    stream: Option<InputStream>,
    _body: Option<IncomingBody>,
    _response: IncomingResponse,
}

impl Body for WasiBody {
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

fn from_error_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied("http-request-denied".into()),
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Timeout(format!("{code:?}")),
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => HttpError::Connect(format!("{code:?}")),
        other => HttpError::Protocol(format!("{other:?}")),
    }
}

/// The parts of an `http(s)://authority/path?query` URL a request needs.
pub(crate) struct Url {
    pub(crate) https: bool,
    pub(crate) authority: String,
    pub(crate) path_and_query: String,
}

impl Url {
    pub(crate) fn parse(url: &str) -> Result<Self, HttpError> {
        let invalid = || HttpError::InvalidRequest(format!("not an http(s) URL: {url:?}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid()),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid());
        }
        let path_and_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            https,
            authority: authority.to_string(),
            path_and_query,
        })
    }

    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }
}

/// Percent-encodes a URL path segment or query value.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_request_parts() {
        let url = Url::parse("http://127.0.0.1:8080/v1beta/models?key=x").unwrap();
        assert!(!url.https);
        assert_eq!(url.authority, "127.0.0.1:8080");
        assert_eq!(url.path_and_query, "/v1beta/models?key=x");
        assert_eq!(
            Url::parse("https://example.com").unwrap().path_and_query,
            "/"
        );
        assert!(Url::parse("ftp://example.com/").is_err());
        assert!(Url::parse("https://user@example.com/").is_err());
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("a b/c?é"), "a%20b%2Fc%3F%C3%A9");
    }
}
