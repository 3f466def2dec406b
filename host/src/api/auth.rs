//! Who may call the gateway: one of the keys in `API_KEY` (comma-separated;
//! the seeds' names `API_MASTER_KEY` and `PASSWORD` are read when it is
//! unset) or the Space's `HF_TOKEN`, as `Authorization: Bearer <key>`, as
//! Anthropic's clients send it, `x-api-key: <key>`, or as Google's do,
//! `x-goog-api-key: <key>` or `?key=<key>`. With no key set, only clients on
//! the loopback interface are served.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// The accepted keys, kept only as SHA-256 digests: comparing digests in
/// constant time leaks neither the keys nor their lengths.
#[derive(Clone, Default)]
pub struct CallerAuth {
    digests: Vec<[u8; 32]>,
}

/// Where callers' keys come from: wasmgate's own variable first, then the
/// names the seed projects used, so their Space secrets keep working.
pub const CALLER_KEY_VARIABLES: &[(&str, &str)] = &[
    ("API_KEY", "wasmgate, Gemi2Api-Server, gemini-business2api"),
    ("API_MASTER_KEY", "Qwen-2api"),
    ("PASSWORD", "hajimi"),
];

/// Keys the seeds shipped as defaults or that anyone would guess first.
const WELL_KNOWN_KEYS: &[&str] = &[
    "123",
    "1234",
    "12345",
    "123456",
    "12345678",
    "123456789",
    "password",
    "admin",
    "sk-123456",
    "sk-1234",
    "changeme",
    "secret",
    "your-api-key",
    "sk-your-key",
];

/// Shortest key accepted: anything shorter is guessed quickly.
const MIN_KEY_LENGTH: usize = 8;

/// Why a configured key is refused. Never carries the key itself.
pub fn weak_key_problem(variable: &str, key: &str) -> Option<String> {
    let known = WELL_KNOWN_KEYS
        .iter()
        .any(|weak| weak.eq_ignore_ascii_case(key));
    if known {
        Some(format!(
            "{variable} holds a well-known default key (such as hajimi's `123`), which anyone can guess; set a long random one, e.g. the output of `openssl rand -hex 24`"
        ))
    } else if key.chars().count() < MIN_KEY_LENGTH {
        Some(format!(
            "{variable} holds a key shorter than {MIN_KEY_LENGTH} characters, which can be guessed; set a long random one, e.g. the output of `openssl rand -hex 24`"
        ))
    } else {
        None
    }
}

/// The callers' keys from the environment, and a sentence saying where they
/// came from; an error when a key is weak.
pub fn caller_auth(env: &dyn Fn(&str) -> Option<String>) -> Result<(CallerAuth, String), String> {
    let from = CALLER_KEY_VARIABLES
        .iter()
        .find_map(|(name, seed)| env(name).map(|value| (*name, *seed, value)));
    let mut described = Vec::new();
    if let Some((name, seed, value)) = &from {
        let keys: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        for key in &keys {
            if let Some(problem) = weak_key_problem(name, key) {
                return Err(problem);
            }
        }
        let what = if *name == "API_KEY" {
            format!("{name} ({} key(s))", keys.len())
        } else {
            format!("{name} ({} key(s), the {seed} name)", keys.len())
        };
        described.push(what);
    }
    let hf_token = env("HF_TOKEN");
    if hf_token.is_some() {
        described.push("HF_TOKEN".to_string());
    }
    let auth = CallerAuth::from_env(
        from.as_ref().map(|(_, _, value)| value.as_str()),
        hf_token.as_deref(),
    );
    Ok((auth, described.join(" and ")))
}

impl CallerAuth {
    /// Exactly one key, taken whole (commas included): `ADMIN_KEY`. A list
    /// would let one leaked member of it open the admin surface unnoticed.
    pub fn single(key: Option<&str>) -> Self {
        CallerAuth {
            digests: key
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| vec![digest(k)])
                .unwrap_or_default(),
        }
    }

    pub fn from_env(api_key: Option<&str>, hf_token: Option<&str>) -> Self {
        let mut digests = Vec::new();
        for key in api_key
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            digests.push(digest(key));
        }
        if let Some(token) = hf_token.map(str::trim).filter(|t| !t.is_empty()) {
            digests.push(digest(token));
        }
        CallerAuth { digests }
    }

    /// Whether any key is configured; without one only loopback is served.
    pub fn is_open(&self) -> bool {
        self.digests.is_empty()
    }

    pub fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        // Check every key, so timing does not tell which one matched.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&presented)
            })
            .into()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub async fn require_caller(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = &state.auth;
    // Who the caller is, for what the gateway keeps per caller.
    let tag = super::tool_memory::CallerTag::of_key(presented_key(&request).as_deref());
    request.extensions_mut().insert(tag);
    if auth.is_open() {
        if peer.ip().is_loopback() {
            if let Some(refusal) = local_only_refusal(&request) {
                return refusal.into_response();
            }
            return next.run(request).await;
        }
        return ApiError::unauthenticated(
            "This gateway has no API_KEY or HF_TOKEN set, so it only serves clients on this machine.",
        )
        .into_response();
    }
    let presented = presented_key(&request);
    match presented.as_deref() {
        Some(key) if auth.accepts(key) => next.run(request).await,
        Some(_) => ApiError::unauthenticated("Incorrect API key provided.").into_response(),
        None => ApiError::unauthenticated(
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>` (or `x-api-key`, `x-goog-api-key`, `?key=`).",
        )
        .into_response(),
    }
}

/// Without keys the gateway trusts whoever is on this machine, and a web
/// page open in a local browser is not: it could reach the gateway through a
/// name it controls that resolves to 127.0.0.1 (DNS rebinding) or with a
/// form posted across sites. Refuse a `Host` that is not a loopback name, an
/// `Origin` that is not a loopback page, and bodies that are not JSON (a
/// cross-site form can only send form or text bodies without a preflight).
fn local_only_refusal(request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    if !is_loopback_authority(host) {
        return Some(ApiError::forbidden(
            "This gateway has no callers' key, so it only answers requests addressed to localhost; set API_KEY to serve other names.",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let local = origin.to_str().ok().is_some_and(|origin| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(is_loopback_authority)
        });
        if !local {
            return Some(ApiError::forbidden(
                "This gateway has no callers' key, so it does not answer web pages from other sites; set API_KEY to allow browser clients.",
            ));
        }
    }
    if request.method() == axum::http::Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Some(ApiError {
                status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ..ApiError::invalid_request(
                    "Send the body as JSON with `Content-Type: application/json`.",
                )
            });
        }
    }
    None
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    host
                } else {
                    authority
                }
            }),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The key a caller sent: `Authorization: Bearer`, else `x-api-key`
/// (Anthropic's SDKs), else `x-goog-api-key` (Google's SDKs and hajimi's
/// clients), else a `key` query parameter.
pub fn presented_key(request: &Request) -> Option<String> {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        });
    let named = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let header_key = bearer
        .or_else(|| named("x-api-key"))
        .or_else(|| named("x-goog-api-key"));
    if let Some(key) = header_key {
        return Some(key.trim().to_string());
    }
    #[derive(serde::Deserialize)]
    struct KeyParameter {
        key: String,
    }
    axum::extract::Query::<KeyParameter>::try_from_uri(request.uri())
        .ok()
        .map(|query| query.0.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_both_variables_are_accepted() {
        let auth = CallerAuth::from_env(Some("k1, k2"), Some("hf_x"));
        assert!(auth.accepts("k1") && auth.accepts("k2") && auth.accepts("hf_x"));
        assert!(!auth.accepts("k3") && !auth.accepts("") && !auth.accepts("k1, k2"));
        assert!(CallerAuth::from_env(None, Some(" ")).is_open());
        let admin = CallerAuth::single(Some("admin-one,admin-two"));
        assert!(admin.accepts("admin-one,admin-two"));
        assert!(!admin.accepts("admin-one") && !admin.accepts("admin-two"));
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn seed_names_are_read_when_api_key_is_unset_and_weak_keys_refused() {
        let (auth, said) = caller_auth(&env(&[("PASSWORD", "hajimi-long-pass")])).unwrap();
        assert!(auth.accepts("hajimi-long-pass"));
        assert!(
            said.contains("PASSWORD") && said.contains("hajimi"),
            "{said}"
        );
        let (auth, said) = caller_auth(&env(&[
            ("API_KEY", "sk-wasmgate-1"),
            ("API_MASTER_KEY", "sk-qwen-master"),
        ]))
        .unwrap();
        assert!(auth.accepts("sk-wasmgate-1") && !auth.accepts("sk-qwen-master"));
        assert!(said.starts_with("API_KEY"), "{said}");
        let err = caller_auth(&env(&[("PASSWORD", "123")])).err().unwrap();
        assert!(
            err.contains("PASSWORD") && err.contains("well-known"),
            "{err}"
        );
        let err = caller_auth(&env(&[("API_MASTER_KEY", "sk-ab")]))
            .err()
            .unwrap();
        assert!(err.contains("shorter"), "{err}");
    }

    #[test]
    fn loopback_authorities_are_told_apart() {
        for local in [
            "localhost",
            "localhost:7860",
            "127.0.0.1:80",
            "127.5.0.1",
            "[::1]:7860",
            "LOCALHOST",
        ] {
            assert!(is_loopback_authority(local), "{local}");
        }
        for foreign in [
            "evil.example",
            "evil.example:7860",
            "127.0.0.1.evil.example",
            "10.0.0.1:80",
            "[::2]",
        ] {
            assert!(!is_loopback_authority(foreign), "{foreign}");
        }
    }

    #[test]
    fn keys_are_read_from_google_style_places() {
        let request = |builder: axum::http::request::Builder| {
            builder.body(axum::body::Body::empty()).unwrap()
        };
        let r = request(Request::builder().uri("/v1/models?alt=sse&key=abc%2Bdef"));
        assert_eq!(presented_key(&r).as_deref(), Some("abc+def"));
        let r = request(
            Request::builder()
                .uri("/v1/models")
                .header("x-goog-api-key", " k1 "),
        );
        assert_eq!(presented_key(&r).as_deref(), Some("k1"));
        let r = request(
            Request::builder()
                .uri("/v1/models?key=q")
                .header("authorization", "Bearer b"),
        );
        assert_eq!(presented_key(&r).as_deref(), Some("b"));
        let r = request(
            Request::builder()
                .uri("/v1/messages")
                .header("x-api-key", "sk-ant"),
        );
        assert_eq!(presented_key(&r).as_deref(), Some("sk-ant"));
        let r = request(Request::builder().uri("/v1/models?monkey=x"));
        assert_eq!(presented_key(&r), None);
    }
}
