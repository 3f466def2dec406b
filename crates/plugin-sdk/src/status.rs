//! The usual meaning of an upstream's HTTP status, as a typed error.

use crate::ProviderError;

impl ProviderError {
    /// The typed error most HTTP APIs mean by `status`: 401 unauthorized,
    /// 403 forbidden, 429 rate-limited (for `retry_after_ms` when the
    /// upstream said), 402 quota-exhausted, 404 model-not-found, 400/413/422
    /// bad-request, 408/504 timeout, anything else an upstream failure. A
    /// plugin checks its upstream's own codes (content filters, quotas)
    /// first and falls back on this.
    pub fn from_status(status: u16, message: String, retry_after_ms: Option<u64>) -> Self {
        match status {
            401 => ProviderError::Unauthorized(message),
            403 => ProviderError::Forbidden(message),
            429 => ProviderError::rate_limited(message, retry_after_ms),
            402 => ProviderError::quota_exhausted(message, retry_after_ms),
            404 => ProviderError::ModelNotFound(message),
            400 | 413 | 422 => ProviderError::BadRequest(message),
            408 | 504 => ProviderError::Timeout(message),
            _ => ProviderError::upstream(status, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ProviderError;

    fn case(status: u16) -> &'static str {
        ProviderError::from_status(status, "m".into(), Some(5)).kind()
    }

    #[test]
    fn statuses_map_to_cases() {
        let cases = [
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "model-not-found"),
            (400, "bad-request"),
            (422, "bad-request"),
            (504, "timeout"),
            (402, "quota-exhausted"),
            (500, "upstream"),
        ];
        for (status, expected) in cases {
            assert_eq!(case(status), expected, "{status}");
        }
        match ProviderError::from_status(429, "slow".into(), Some(7000)) {
            ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(7000)),
            other => panic!("{other:?}"),
        }
        match ProviderError::from_status(503, "down".into(), None) {
            ProviderError::Upstream(failure) => assert_eq!(failure.status, 503),
            other => panic!("{other:?}"),
        }
    }
}
