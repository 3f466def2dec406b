//! Errors as clients of the OpenAI API expect them:
//! `{"error":{"message","type","param","code"}}` with the right status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::dispatch::{Attempt, Exhausted};
use crate::registry::ResolveError;
use crate::runtime::CallError;
use crate::runtime::bindings::ProviderError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code,
            param: None,
            retry_after: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("invalid_request"),
            message,
        )
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.to_string()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("invalid_value"),
                message,
            )
        }
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("invalid_json"),
            message,
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("The request body is larger than this gateway accepts ({limit} bytes)."),
        )
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            message,
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("forbidden"),
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            message,
        )
    }

    pub fn model_not_found(message: impl Into<String>) -> Self {
        ApiError {
            param: Some("model".into()),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("model_not_found"),
                message,
            )
        }
    }

    /// The body of an SSE error event, for failures after the stream began.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope { error: self.body() }).unwrap_or_default()
    }

    fn body(&self) -> Body<'_> {
        Body {
            message: &self.message,
            kind: self.kind,
            param: self.param.as_deref(),
            code: self.code,
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(Envelope { error: self.body() })).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> Self {
        ApiError::model_not_found(err.to_string())
    }
}

/// The error for one failed call into a plugin.
pub fn from_call(plugin: &str, error: &CallError) -> ApiError {
    use StatusCode as S;
    let gateway = |status, kind, code, what: String| {
        ApiError::new(status, kind, Some(code), format!("{plugin}: {what}"))
    };
    match error {
        CallError::Provider(provider) => match provider {
            ProviderError::Unauthorized(m) => gateway(
                S::UNAUTHORIZED,
                "authentication_error",
                "upstream_unauthorized",
                format!("the upstream refused the account's credentials: {m}"),
            ),
            ProviderError::Forbidden(m) => gateway(
                S::FORBIDDEN,
                "permission_error",
                "upstream_forbidden",
                format!("the upstream forbids this account: {m}"),
            ),
            ProviderError::RateLimited(info) => ApiError {
                retry_after: info.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1)),
                ..gateway(
                    S::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    info.message.clone(),
                )
            },
            ProviderError::QuotaExhausted(info) => ApiError {
                retry_after: info.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1)),
                ..gateway(
                    S::TOO_MANY_REQUESTS,
                    "insufficient_quota",
                    "insufficient_quota",
                    info.message.clone(),
                )
            },
            ProviderError::BadRequest(m) => gateway(
                S::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
                m.clone(),
            ),
            ProviderError::ModelNotFound(m) => ApiError {
                param: Some("model".into()),
                ..gateway(
                    S::NOT_FOUND,
                    "invalid_request_error",
                    "model_not_found",
                    m.clone(),
                )
            },
            ProviderError::ContentFiltered(m) => gateway(
                S::BAD_REQUEST,
                "invalid_request_error",
                "content_filter",
                format!("the upstream refused the prompt: {m}"),
            ),
            ProviderError::Upstream(u) => gateway(
                S::BAD_GATEWAY,
                "upstream_error",
                "upstream_error",
                if u.status == 0 {
                    u.message.clone()
                } else {
                    format!("upstream answered {}: {}", u.status, u.message)
                },
            ),
            ProviderError::Timeout(m) => gateway(
                S::GATEWAY_TIMEOUT,
                "timeout_error",
                "upstream_timeout",
                m.clone(),
            ),
            ProviderError::Internal(m) => {
                gateway(S::BAD_GATEWAY, "plugin_error", "plugin_error", m.clone())
            }
        },
        CallError::Deadline(_) | CallError::CpuExhausted(_) => gateway(
            S::GATEWAY_TIMEOUT,
            "timeout_error",
            "plugin_timeout",
            error.to_string(),
        ),
        CallError::NoAccount(_) => gateway(
            S::BAD_GATEWAY,
            "upstream_error",
            "no_account",
            error.to_string(),
        ),
        CallError::MemoryExhausted | CallError::Trap(_) | CallError::Poisoned => gateway(
            S::BAD_GATEWAY,
            "plugin_error",
            "plugin_crashed",
            error.to_string(),
        ),
    }
}

/// The error when no account or fallback could serve the request.
impl From<Exhausted> for ApiError {
    fn from(exhausted: Exhausted) -> Self {
        let attempts = &exhausted.attempts;
        let Some(last) = attempts.last() else {
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("no_route"),
                "nothing could serve this request",
            );
        };
        let limited = |a: &Attempt| {
            matches!(
                a.error,
                CallError::Provider(
                    ProviderError::RateLimited(_) | ProviderError::QuotaExhausted(_)
                )
            )
        };
        let mut error = from_call(&last.plugin, &last.error);
        if attempts.iter().all(limited) {
            // Everything is cooling down: say when the first account frees up.
            let soonest = attempts
                .iter()
                .filter_map(|a| match &a.error {
                    CallError::Provider(
                        ProviderError::RateLimited(i) | ProviderError::QuotaExhausted(i),
                    ) => i.retry_after_ms,
                    _ => None,
                })
                .min();
            error.retry_after = Some(soonest.map_or(60, |ms| ms.div_ceil(1000).max(1)));
        }
        if attempts.len() > 1 {
            let tried: Vec<String> = attempts
                .iter()
                .map(|a| match &a.account {
                    Some(account) => format!("{}/{}: {}", a.plugin, account, a.error),
                    None => format!("{}: {}", a.plugin, a.error),
                })
                .collect();
            error.message = format!("{} (tried {})", error.message, tried.join("; "));
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::RetryInfo;

    fn limited(ms: Option<u64>) -> Attempt {
        Attempt {
            plugin: "gemini".into(),
            account: Some("a".into()),
            error: CallError::Provider(ProviderError::RateLimited(RetryInfo {
                message: "slow down".into(),
                retry_after_ms: ms,
            })),
        }
    }

    #[test]
    fn all_rate_limited_is_429_with_the_soonest_retry() {
        let error = ApiError::from(Exhausted {
            attempts: vec![limited(Some(47_430)), limited(Some(2_500)), limited(None)],
        });
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(error.retry_after, Some(3));
    }

    #[test]
    fn a_crash_is_502_and_a_deadline_504() {
        assert_eq!(
            from_call("p", &CallError::Trap("unreachable".into())).status,
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            from_call("p", &CallError::MemoryExhausted).status,
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            from_call("p", &CallError::Deadline(std::time::Duration::from_secs(1))).status,
            StatusCode::GATEWAY_TIMEOUT
        );
    }
}
