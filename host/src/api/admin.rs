//! The operator's API, behind `ADMIN_KEY`: what is live and how the last
//! reload went. Without `ADMIN_KEY` it is off.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::reload::ReloadStatus;

pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.admin.is_open() {
        return ApiError::forbidden("The admin API is off: set ADMIN_KEY to use it.")
            .into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(key) if state.admin.accepts(key) => next.run(request).await,
        _ => ApiError::unauthenticated("The admin API needs `Authorization: Bearer <ADMIN_KEY>`.")
            .into_response(),
    }
}

pub async fn status(State(state): State<AppState>) -> Json<ReloadStatus> {
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(status)
}
