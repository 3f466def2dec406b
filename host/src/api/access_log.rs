//! One log line per request: what was asked, who served it, how it ended.
//! It names the model, plugin and account, never a key, a secret or a prompt.
//! With `LOG_FORMAT=json` the line is a JSON object.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// What the chat handler knows about a request, for its log line.
#[derive(Clone, Debug)]
pub struct Served {
    pub model: String,
    /// `name@version`.
    pub plugin: String,
    pub account: String,
    pub stream: bool,
}

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
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
