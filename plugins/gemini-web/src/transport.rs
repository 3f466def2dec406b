//! A whole-body HTTP exchange that keeps every response header.
//!
//! The SDK's client exposes one value per header name, but Google answers
//! the page and the rotation endpoint with several `Set-Cookie` headers, and
//! the new `__Secure-1PSIDTS` may be any of them. This helper sends a small
//! request over `wasi:http` and returns all headers with the body.
//! (SDK wish: `Response::header_values(name)`; then this module can go.)

use wasmgate_plugin_sdk::bindings::wasi::http::outgoing_handler;
use wasmgate_plugin_sdk::bindings::wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasmgate_plugin_sdk::bindings::wasi::io::streams::StreamError;
use wasmgate_plugin_sdk::http::HttpError;

const WRITE_CHUNK: usize = 4096;
const READ_CHUNK: u64 = 64 * 1024;

pub struct Fetched {
    pub status: u16,
    headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Fetched {
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn get(url: &str, headers: &[(&str, String)], limit: usize) -> Result<Fetched, HttpError> {
    exchange(Method::Get, url, headers, &[], limit)
}

pub fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    limit: usize,
) -> Result<Fetched, HttpError> {
    exchange(Method::Post, url, headers, body, limit)
}

fn exchange(
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    limit: usize,
) -> Result<Fetched, HttpError> {
    let (scheme, authority, path) = split_url(url)?;
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&list)
        .map_err(|e| HttpError::InvalidRequest(format!("header: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let invalid = |what: &str| HttpError::InvalidRequest(format!("{what} of {authority}"));
    request
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(&authority))
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let outgoing = request.body().map_err(|()| invalid("body"))?;
    let future = outgoing_handler::handle(request, None).map_err(from_error_code)?;
    let written = write_body(outgoing, body);

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
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Protocol("response body stream unavailable".into()))?;
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(bytes) => {
                    body.extend_from_slice(&bytes);
                    if body.len() > limit {
                        return Err(HttpError::Protocol(format!(
                            "response body larger than {limit} bytes"
                        )));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(HttpError::Protocol(error.to_debug_string()));
                }
            }
        }
    }
    drop(incoming);
    Ok(Fetched {
        status,
        headers,
        body,
    })
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
