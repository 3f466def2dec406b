//! Signing in to the console: `ADMIN_KEY` typed into a form once, then a
//! session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, 12 hours),
//! because on a private Space the `Authorization` header belongs to Hugging
//! Face's front door. State-changing requests made with the cookie must
//! carry the session's CSRF token in `x-csrf-token` (a cross-site form
//! cannot), and a sign-in from another site's page is refused. Wrong keys,
//! typed or sent as a bearer token, are slowed down and then refused for a
//! while.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::api::error::ApiError;

/// The cookie's name.
pub const COOKIE: &str = "wasmgate_session";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Wrong keys a client may send before it has to wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait imposed on one client.
const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// Wrong keys from everyone, per window, before every attempt waits.
const GLOBAL_FAILURES: u32 = 50;
const GLOBAL_WINDOW: Duration = Duration::from_secs(600);
/// Every wrong key costs this long before the answer.
pub const FAILURE_DELAY: Duration = Duration::from_millis(400);

struct Session {
    csrf: String,
    expires: Instant,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

/// Live sessions and failed attempts, in memory (a restart signs everyone out).
#[derive(Default)]
pub struct Sessions {
    /// SHA-256 of the cookie value → session.
    live: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    global: Mutex<(u32, Option<Instant>)>,
}

/// Who a request comes from, for the rate limit: the connection's address
/// and what the nearest proxy says (the last `X-Forwarded-For` entry).
pub fn client_of(peer: IpAddr, headers: &HeaderMap) -> String {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .unwrap_or("");
    format!("{peer}|{forwarded}")
}

impl Sessions {
    /// Opens a session: (cookie value, CSRF token).
    pub fn open(&self) -> (String, String) {
        let token = random_hex(32);
        let csrf = random_hex(16);
        let mut live = lock(&self.live);
        let now = Instant::now();
        live.retain(|_, s| s.expires > now);
        if live.len() >= 64 {
            // Forget the oldest: a flood of sign-ins cannot grow this map.
            if let Some(oldest) = live
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                live.remove(&oldest);
            }
        }
        live.insert(
            digest(&token),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
            },
        );
        (token, csrf)
    }

    /// The CSRF token of the session this cookie names, if it is live.
    pub fn csrf_of(&self, cookie: &str) -> Option<String> {
        let live = lock(&self.live);
        live.get(&digest(cookie))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    pub fn close(&self, cookie: &str) {
        lock(&self.live).remove(&digest(cookie));
    }

    /// How long this client must wait before trying a key again, if at all.
    pub fn locked_out(&self, client: &str) -> Option<Duration> {
        let now = Instant::now();
        {
            let global = lock(&self.global);
            if global.0 >= GLOBAL_FAILURES
                && let Some(since) = global.1
                && now.duration_since(since) < GLOBAL_WINDOW
            {
                return Some(GLOBAL_WINDOW - now.duration_since(since));
            }
        }
        let failures = lock(&self.failures);
        let entry = failures.get(client)?;
        if entry.count < FREE_FAILURES {
            return None;
        }
        let wait = Duration::from_secs(1 << (entry.count - FREE_FAILURES).min(9)).min(MAX_LOCKOUT);
        let elapsed = now.duration_since(entry.last?);
        (elapsed < wait).then(|| wait - elapsed)
    }

    /// Records a wrong key.
    pub fn failed(&self, client: &str) {
        let now = Instant::now();
        {
            let mut global = lock(&self.global);
            match global.1 {
                Some(since) if now.duration_since(since) < GLOBAL_WINDOW => global.0 += 1,
                _ => *global = (1, Some(now)),
            }
        }
        let mut failures = lock(&self.failures);
        if failures.len() > 10_000 {
            failures.clear();
        }
        let entry = failures.entry(client.to_string()).or_default();
        entry.count += 1;
        entry.last = Some(now);
    }

    pub fn succeeded(&self, client: &str) {
        lock(&self.failures).remove(client);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("the operating system's random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session cookie a request carries, if any.
pub fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the page was served over HTTPS (directly or behind a proxy).
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        || headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("https://"))
}

/// Whether a request comes from another site's page: its `Origin` (or,
/// without one, its `Referer`) names a host other than the one it was sent to.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return false;
    };
    if source == "null" {
        return true;
    }
    let authority = source
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(source)
        .split('/')
        .next()
        .unwrap_or("");
    let hosts = [header::HOST.as_str(), "x-forwarded-host"];
    !hosts.iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|host| host.eq_ignore_ascii_case(authority))
    })
}

fn cookie_header(headers: &HeaderMap, value: &str, max_age: u64) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a valid cookie header")
}

/// The key in a sign-in body: a form (`key=…`) or JSON (`{"key": …}`).
fn key_in(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        return value["key"].as_str().map(|k| k.trim().to_string());
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .and_then(percent_decode)
        .map(|k| k.trim().to_string())
}

pub fn percent_decode(value: &str) -> Option<String> {
    let raw = value.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                bytes.push(b' ');
                i += 1;
            }
            b => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

pub fn too_many(wait: Duration) -> Response {
    let mut error = super::error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many wrong keys: wait before trying again.",
    );
    error.code = Some("rate_limit_exceeded");
    error.retry_after = Some(wait.as_secs().max(1));
    error.into_response()
}

/// `POST /admin/login`: checks the key, opens a session, sets the cookie.
/// A form is answered with a redirect to the console; JSON with JSON.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let console = &state.console;
    if state.admin.is_open() {
        return ApiError::forbidden("The console is off: set ADMIN_KEY to use it.").into_response();
    }
    if cross_site(&headers) {
        return ApiError::forbidden("Sign-in from another site's page is refused.").into_response();
    }
    let client = client_of(peer.ip(), &headers);
    if let Some(wait) = console.sessions.locked_out(&client) {
        return too_many(wait);
    }
    let key = key_in(&headers, &body).unwrap_or_default();
    if key.is_empty() || !state.admin.accepts(&key) {
        console.sessions.failed(&client);
        tracing::warn!(client = %peer.ip(), "console sign-in with a wrong key");
        tokio::time::sleep(FAILURE_DELAY).await;
        if wants_json(&headers) {
            return ApiError::unauthenticated("Wrong admin key.").into_response();
        }
        return Redirect::to("./?error=wrong-key").into_response();
    }
    console.sessions.succeeded(&client);
    let (token, csrf) = console.sessions.open();
    tracing::info!(client = %peer.ip(), "console sign-in");
    let cookie = cookie_header(&headers, &token, SESSION_TTL.as_secs());
    let mut response = if wants_json(&headers) {
        axum::Json(serde_json::json!({"signed_in": true, "csrf": csrf})).into_response()
    } else {
        Redirect::to("./").into_response()
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `POST /admin/logout`: closes the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(cookie) = cookie_of(&headers) {
        let csrf = state.console.sessions.csrf_of(&cookie);
        let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if csrf.is_some() && csrf.as_deref() != presented {
            return ApiError::forbidden("Missing or wrong x-csrf-token.").into_response();
        }
        state.console.sessions.close(&cookie);
    }
    let mut response = axum::Json(serde_json::json!({"signed_in": false})).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&headers, "", 0));
    response
}

/// `GET /admin/api/session`: whether the console is on and this browser is
/// signed in, with the CSRF token its page sends back.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let csrf = cookie_of(&headers).and_then(|c| state.console.sessions.csrf_of(&c));
    axum::Json(serde_json::json!({
        "admin_enabled": !state.admin.is_open(),
        "signed_in": csrf.is_some(),
        "csrf": csrf,
    }))
    .into_response()
}

/// The admin API's gate: `Authorization: Bearer <ADMIN_KEY>`, or a console
/// session (with its CSRF token on anything but a read).
pub async fn require_admin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if state.admin.is_open() {
        return ApiError::forbidden("The admin API is off: set ADMIN_KEY to use it.")
            .into_response();
    }
    let headers = request.headers();
    let sessions = &state.console.sessions;
    if let Some(cookie) = cookie_of(headers)
        && let Some(csrf) = sessions.csrf_of(&cookie)
    {
        let reading = matches!(*request.method(), Method::GET | Method::HEAD);
        let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if !reading && (presented != Some(csrf.as_str()) || cross_site(headers)) {
            return ApiError::forbidden(
                "A change made with the console's session needs its x-csrf-token, from the console's own page.",
            )
            .into_response();
        }
        return next.run(request).await;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let client = client_of(peer.ip(), headers);
    if let Some(key) = bearer {
        if let Some(wait) = sessions.locked_out(&client) {
            return too_many(wait);
        }
        if state.admin.accepts(key) {
            sessions.succeeded(&client);
            return next.run(request).await;
        }
        // On a private Space the bearer is the caller's Hugging Face token:
        // only a key that is neither counts as a wrong guess.
        if !state.auth.accepts(key) {
            sessions.failed(&client);
            tokio::time::sleep(FAILURE_DELAY).await;
        }
    }
    ApiError::unauthenticated(
        "The admin API needs a console session or `Authorization: Bearer <ADMIN_KEY>`.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_locked_out_after_repeated_wrong_keys() {
        let sessions = Sessions::default();
        for _ in 0..FREE_FAILURES {
            assert!(sessions.locked_out("a").is_none());
            sessions.failed("a");
        }
        assert!(sessions.locked_out("a").is_some());
        assert!(sessions.locked_out("b").is_none());
        sessions.succeeded("a");
        assert!(sessions.locked_out("a").is_none());
    }

    #[test]
    fn sessions_open_and_close() {
        let sessions = Sessions::default();
        let (token, csrf) = sessions.open();
        assert_eq!(sessions.csrf_of(&token), Some(csrf));
        assert_eq!(sessions.csrf_of("other"), None);
        sessions.close(&token);
        assert_eq!(sessions.csrf_of(&token), None);
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "gw.example:7860".parse().unwrap());
        assert!(!cross_site(&headers));
        headers.insert(header::ORIGIN, "http://gw.example:7860".parse().unwrap());
        assert!(!cross_site(&headers));
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(cross_site(&headers));
    }

    #[test]
    fn form_keys_are_decoded() {
        let headers = HeaderMap::new();
        assert_eq!(
            key_in(&headers, b"key=a%2Bb+c&x=1").as_deref(),
            Some("a+b c")
        );
    }
}
