//! Who may call the gateway: `Authorization: Bearer <key>` with one of the
//! keys in `API_KEY` (comma-separated) or the Space's `HF_TOKEN`. With neither
//! set, only clients on the loopback interface are served.

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

impl CallerAuth {
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
    request: Request,
    next: Next,
) -> Response {
    let auth = &state.auth;
    if auth.is_open() {
        if peer.ip().is_loopback() {
            return next.run(request).await;
        }
        return ApiError::unauthenticated(
            "This gateway has no API_KEY or HF_TOKEN set, so it only serves clients on this machine.",
        )
        .into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(key) if auth.accepts(key) => next.run(request).await,
        Some(_) => ApiError::unauthenticated("Incorrect API key provided.").into_response(),
        None => ApiError::unauthenticated(
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.",
        )
        .into_response(),
    }
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
    }
}
