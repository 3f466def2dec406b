//! CORS for the OpenAI API, so browser clients (LobeChat's client mode,
//! NextChat) can call the gateway from their page. Preflights are answered
//! before authentication (browsers send them without the key); the admin
//! surface never goes through here.
//!
//! No response ever allows credentials: a page gets nothing a caller's key
//! would not give it anyway, which is why `*` is a safe default once the
//! gateway has keys. Without keys (loopback-only mode) no origin is allowed
//! unless the operator lists it, so a web page cannot drive a developer's
//! local gateway.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Which page origins may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// None: no CORS headers are sent.
    #[default]
    None,
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    /// From a list as operators write it: `*`, or origins like
    /// `https://chat.example.com` (a trailing `/` is ignored).
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut list = Vec::new();
        for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                return Ok(AllowedOrigins::Any);
            }
            let origin = item.trim_end_matches('/');
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = host
                .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ', '*']));
            if !valid {
                return Err(format!(
                    "{item:?} is not an origin like https://chat.example.com (or *)"
                ));
            }
            list.push(origin.to_ascii_lowercase());
        }
        Ok(if list.is_empty() {
            AllowedOrigins::None
        } else {
            AllowedOrigins::List(list)
        })
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::None => false,
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// Headers a browser may read from answers.
const EXPOSED_HEADERS: &str = "x-wasmgate-plugin, retry-after, x-request-id";
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

pub async fn cors(State(allowed): State<AllowedOrigins>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !allowed.allows(&origin) {
        if preflight {
            return ApiError::forbidden(format!(
                "Requests from the page origin {origin} are not allowed; the operator can list it in [server] cors-origins or CORS_ORIGINS."
            ))
            .into_response();
        }
        return next.run(request).await;
    }
    if preflight {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let requested = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned();
        let headers = response.headers_mut();
        allow(headers, &allowed, &origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        if let Some(requested) = requested {
            // Whatever the client's SDK sends (authorization, x-stainless-*, …).
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
        }
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    allow(headers, &allowed, &origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    response
}

fn allow(headers: &mut HeaderMap, allowed: &AllowedOrigins, origin: &str) {
    if *allowed == AllowedOrigins::Any {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_as_operators_write_them() {
        assert_eq!(AllowedOrigins::parse(["*"]), Ok(AllowedOrigins::Any));
        assert_eq!(AllowedOrigins::parse([" ", ""]), Ok(AllowedOrigins::None));
        let list =
            AllowedOrigins::parse(["https://Chat.example.com/", "http://localhost:3210"]).unwrap();
        assert!(list.allows("https://chat.example.com"));
        assert!(list.allows("http://localhost:3210"));
        assert!(!list.allows("https://evil.example"));
        assert!(AllowedOrigins::parse(["chat.example.com"]).is_err());
        assert!(AllowedOrigins::parse(["https://x.example/path"]).is_err());
    }
}
