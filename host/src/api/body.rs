//! Request bodies arrive in full within a deadline: a client that trickles
//! its body holds a connection and a buffer, so it gets a 408 instead.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// How long a body may take to arrive, by default.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest body and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

pub async fn read_within(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
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
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limits.max_bytes)).await {
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
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}
