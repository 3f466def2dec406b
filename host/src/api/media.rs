//! `GET /media/<id>.<ext>`: a stored generated image. No key: the 128-bit
//! random name is the permission (see [`crate::media::store`]).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

pub async fn serve(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let found = state.media.store.as_ref().and_then(|store| {
        let (data, mime) = store.read(&name)?;
        Some((data, mime, store.retention().as_secs()))
    });
    match found {
        Some((data, mime, max_age)) => {
            let mut response = data.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            if let Ok(cache) =
                HeaderValue::from_str(&format!("private, max-age={max_age}, immutable"))
            {
                headers.insert(header::CACHE_CONTROL, cache);
            }
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        None => ApiError::not_found("No such image: it never existed or is past its retention.")
            .into_response(),
    }
}
