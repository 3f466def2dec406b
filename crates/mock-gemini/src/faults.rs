//! Run-time key faults: a test (or [`crate::chaos`]) makes a key fail its
//! generation calls with one of Google's errors, whatever its prefix says.
//!
//! A fault is checked before the prefix: a faulted `good-` key fails, and once
//! the fault is removed the key behaves per its prefix again (a `limited-`
//! key's window is not spent by faulted calls). Only calls that spend quota
//! are faulted (`generateContent`, `streamGenerateContent`, the OpenAI chat
//! route, `batchEmbedContents`); listing models and `countTokens` are not.

use std::time::Duration;

use crate::google_errors::{self, GoogleError};

/// What a faulted key answers instead of generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFault {
    /// 429 `RESOURCE_EXHAUSTED`, per-minute quota id, `RetryInfo.retryDelay`.
    RateLimited { retry_delay: Duration },
    /// 429 `RESOURCE_EXHAUSTED` with the per-day quota id (the `daily-` answer).
    QuotaExhaustedDaily,
    /// 400 `INVALID_ARGUMENT` / `API_KEY_INVALID` (the `bad-` answer).
    InvalidKey,
    /// 403 `PERMISSION_DENIED` (the `banned-` answer).
    PermissionDenied,
    /// 500 `INTERNAL`.
    Internal,
    /// 503 `UNAVAILABLE` ("The model is overloaded").
    Unavailable,
}

impl KeyFault {
    /// The answer Google sends for this fault on a call to `model`.
    pub fn error(&self, model: &str) -> GoogleError {
        match *self {
            KeyFault::RateLimited { retry_delay } => google_errors::quota_exceeded(
                google_errors::PER_MINUTE_QUOTA_ID,
                model,
                retry_delay,
            ),
            KeyFault::QuotaExhaustedDaily => google_errors::daily_quota_exceeded(model),
            KeyFault::InvalidKey => google_errors::api_key_invalid(),
            KeyFault::PermissionDenied => google_errors::permission_denied(),
            KeyFault::Internal => google_errors::internal(),
            KeyFault::Unavailable => google_errors::overloaded(),
        }
    }

    /// The HTTP status of [`error`](Self::error).
    pub fn status(&self) -> u16 {
        match self {
            KeyFault::RateLimited { .. } | KeyFault::QuotaExhaustedDaily => 429,
            KeyFault::InvalidKey => 400,
            KeyFault::PermissionDenied => 403,
            KeyFault::Internal => 500,
            KeyFault::Unavailable => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_matches_the_error() {
        for fault in [
            KeyFault::RateLimited {
                retry_delay: Duration::from_secs(1),
            },
            KeyFault::QuotaExhaustedDaily,
            KeyFault::InvalidKey,
            KeyFault::PermissionDenied,
            KeyFault::Internal,
            KeyFault::Unavailable,
        ] {
            let error = fault.error("m");
            assert_eq!(error.status, fault.status(), "{fault:?}");
            assert_eq!(error.body["error"]["code"], fault.status(), "{fault:?}");
        }
    }
}
