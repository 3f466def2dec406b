//! One log line per request: what was asked, who served it, how it ended.
//! It names the model, plugin and account, never a key, a secret or a prompt.
//! With `LOG_FORMAT=json` the line is a JSON object.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// What the chat handler knows about a request, for its log line.
#[derive(Clone, Debug)]
pub struct Served {
    pub model: String,
    /// `name@version`.
    pub plugin: String,
    pub account: String,
    pub stream: bool,
}

/// A request's id: unique in this process and across restarts (it starts
/// from the start time), sent back as `x-request-id` and carried by every log
/// line of the request, so what a caller reports can be found in the log.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| crate::clock::unix_millis() / 1000);
    format!("{start:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let id = next_request_id();
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let _entered = span.enter();
    let status = response.status().as_u16();
    // For a stream this is the time to its first event: the rest follows.
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let served = response.extensions().get::<Served>();
    tracing::info!(
        target: "access",
        method = %method,
        path,
        status,
        elapsed_ms = (elapsed_ms * 10.0).round() / 10.0,
        model = served.map(|s| s.model.as_str()),
        plugin = served.map(|s| s.plugin.as_str()),
        account = served.map(|s| s.account.as_str()),
        stream = served.map(|s| s.stream),
        "request"
    );
    response
}
