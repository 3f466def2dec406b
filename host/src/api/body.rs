//! Request bodies arrive in full within a deadline: a client that trickles
//! its body holds a connection and a buffer, so it gets a 408 instead. And
//! the bytes of all bodies being read and worked on at once are bounded:
//! past that budget a request gets a 503 with `Retry-After`, not memory.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;

/// How long a body may take to arrive, by default.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Default budget of body bytes held at once, across all requests.
pub const BODY_BYTES_IN_FLIGHT: usize = 256 << 20;

/// The largest body, how long it may take, and the shared budget.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
    /// One permit per byte of the bodies held now.
    in_flight: Arc<Semaphore>,
}

impl BodyLimits {
    pub fn new(max_bytes: usize, timeout: Duration, bytes_in_flight: usize) -> Self {
        BodyLimits {
            max_bytes,
            timeout,
            in_flight: Arc::new(Semaphore::new(bytes_in_flight.min(Semaphore::MAX_PERMITS))),
        }
    }
}

pub async fn read_within(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let bodiless = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if bodiless {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limits.max_bytes) {
        return ApiError::too_large(limits.max_bytes).into_response();
    }
    // Held until the answer's head is out, by when the body is converted.
    let reserve = declared.unwrap_or(limits.max_bytes).max(1);
    let held = u32::try_from(reserve)
        .ok()
        .and_then(|n| limits.in_flight.clone().try_acquire_many_owned(n).ok());
    let Some(_held) = held else {
        // Read what the client sends and throw it away before answering:
        // closing on unread bytes would reset the connection, and the client
        // would see an error instead of the 503 (memory is not held).
        let _ = tokio::time::timeout(limits.timeout, discard(request.into_body())).await;
        return ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(1),
            ..ApiError::invalid_request(
                "The gateway holds as many request bodies as it allows; retry in a moment.",
            )
        }
        .into_response();
    };
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, limits.max_bytes);
    match tokio::time::timeout(limits.timeout, read).await {
        Err(_) => ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            ..ApiError::invalid_request(format!(
                "The request body did not arrive within {} s.",
                limits.timeout.as_secs_f64()
            ))
        }
        .into_response(),
        Ok(Err(_)) => ApiError::too_large(limits.max_bytes).into_response(),
        Ok(Ok(bytes)) => {
            let request = Request::from_parts(parts, Body::from(bytes));
            next.run(request).await
        }
    }
}

/// Reads a body to its end, keeping nothing.
async fn discard(body: Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    while let Some(Ok(_)) = body.frame().await {}
}
