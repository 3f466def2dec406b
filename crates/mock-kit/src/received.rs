//! What every mock keeps of a request it received: the request line, the
//! headers and the body. A mock with more to say (whose account it was, the
//! status it answered) wraps it and derefs to it.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri};

use crate::headers::{find_header, header_pairs};

#[derive(Debug, Clone, Default)]
pub struct HttpRecord {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRecord {
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        HttpRecord {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers: header_pairs(headers),
            body: body.to_vec(),
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Reads a request whole (the body up to `limit` bytes) for the record, and
/// gives back the request to pass on to the handlers, with its headers for
/// whatever else the mock reads of them.
pub async fn read_whole(request: Request, limit: usize) -> (HttpRecord, Request) {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.unwrap_or_default();
    let record = HttpRecord::new(&parts.method, &parts.uri, &parts.headers, &bytes);
    (record, Request::from_parts(parts, Body::from(bytes)))
}
