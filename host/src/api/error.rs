//! Errors as clients of the OpenAI API expect them:
//! `{"error":{"message","type","param","code"}}` with the right status, and
//! the same errors in Anthropic's and Google's shapes for their front doors
//! ([`Dialect`], [`reshape`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::clock::unix_millis;
use crate::dispatch::Exhausted;
use crate::pool::{FailureKind, OutAccount, OutReason};
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

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            Some("method_not_allowed"),
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
        // So a front door of another protocol can render it in its shape.
        response.extensions_mut().insert(self);
        response
    }
}

/// Whose error shape a response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`, Anthropic's types.
    Anthropic,
    /// `{"error":{"code","message","status"}}`, Google's canonical status names.
    Google,
}

impl ApiError {
    /// The error's JSON in `dialect`'s shape (also the body of a stream's
    /// error event).
    pub fn to_json_as(&self, dialect: Dialect) -> Vec<u8> {
        let value = match dialect {
            Dialect::OpenAi => return self.to_json(),
            Dialect::Anthropic => serde_json::json!({
                "type": "error",
                "error": { "type": self.anthropic_type(), "message": self.message },
            }),
            Dialect::Google => serde_json::json!({
                "error": {
                    "code": self.status.as_u16(),
                    "message": self.message,
                    "status": self.google_status(),
                },
            }),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// Anthropic's error type for this status (its SDKs pick their error
    /// class by status; the type is what a caller reads).
    fn anthropic_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 405 | 408 | 415 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            _ => "api_error",
        }
    }

    /// Google's canonical status name for this status.
    fn google_status(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 413 | 415 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            408 | 504 => "DEADLINE_EXCEEDED",
            429 => "RESOURCE_EXHAUSTED",
            405 | 501 => "UNIMPLEMENTED",
            502 | 503 => "UNAVAILABLE",
            _ => "INTERNAL",
        }
    }
}

/// Whether a request comes from an Anthropic client: its SDKs send
/// `anthropic-version` on every request.
pub fn is_anthropic_caller(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

/// Middleware for a front door of another protocol: every error answered
/// below it (the key check, body limits, the handler's own) is rendered in
/// `dialect`'s shape, with its status and headers kept. On OpenAI's paths a
/// caller that names Anthropic's API version (Anthropic's SDKs always do)
/// speaks Anthropic: `GET /v1/models` is both protocols' path.
pub async fn reshape(
    axum::extract::State(dialect): axum::extract::State<Dialect>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let dialect = match dialect {
        Dialect::OpenAi if is_anthropic_caller(request.headers()) => Dialect::Anthropic,
        other => other,
    };
    let response = next.run(request).await;
    if dialect == Dialect::OpenAi {
        return response;
    }
    let Some(error) = response.extensions().get::<ApiError>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(error.to_json_as(dialect)))
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::InvalidName => ApiError::invalid_param("model", err.to_string()),
            _ => ApiError::model_not_found(err.to_string()),
        }
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
        CallError::OverBudget(_) => gateway(
            S::BAD_GATEWAY,
            "plugin_error",
            "plugin_over_budget",
            error.to_string(),
        ),
        CallError::Busy(_) => ApiError {
            retry_after: Some(1),
            ..gateway(
                S::SERVICE_UNAVAILABLE,
                "server_error",
                "gateway_busy",
                error.to_string(),
            )
        },
        CallError::MemoryExhausted | CallError::Trap(_) | CallError::Poisoned => gateway(
            S::BAD_GATEWAY,
            "plugin_error",
            "plugin_crashed",
            error.to_string(),
        ),
    }
}

/// The error when no account or fallback could serve the request: the
/// caller's own mistake as the plugin said it; 429 with `Retry-After` = the
/// soonest return when every account is only cooling down or busy; 504 when
/// every try timed out; otherwise 502 with the reasons.
impl From<Exhausted> for ApiError {
    fn from(exhausted: Exhausted) -> Self {
        let Exhausted {
            attempts,
            unavailable,
            no_account,
        } = exhausted;
        if attempts.is_empty() && unavailable.is_empty() && !no_account.is_empty() {
            // Nothing was tried: none of the route's plugins has an account.
            // What to set goes to the operator's log, not to the caller.
            let hints: Vec<String> = no_account
                .iter()
                .map(|(plugin, hint)| format!("{plugin}: {hint}"))
                .collect();
            tracing::warn!(hints = %hints.join("; "), "no plugin for the requested model has an account");
            let plugins: Vec<&str> = no_account.iter().map(|(p, _)| p.as_str()).collect();
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("no_account"),
                format!(
                    "No plugin that serves this model has an account configured ({}); the gateway's log says what to set.",
                    plugins.join(", ")
                ),
            );
        }
        if let Some(last) = attempts.last()
            && FailureKind::of(&last.error) == FailureKind::Caller
        {
            return from_call(&last.plugin, &last.error);
        }
        let now = unix_millis();
        let mut waits: Vec<u64> = Vec::new();
        let (mut all_limits, mut all_timeouts, mut all_quota) = (true, true, true);
        let mut all_unauthorized = true;
        let mut reasons: Vec<Reason> = Vec::new();
        for attempt in &attempts {
            let kind = FailureKind::of(&attempt.error);
            all_limits &= kind.is_limit();
            all_timeouts &= kind == FailureKind::Timeout;
            all_quota &= kind == FailureKind::QuotaExhausted;
            all_unauthorized &= kind == FailureKind::Unauthorized;
            if kind.is_limit() {
                let reported = crate::pool::policy::retry_after_ms(&attempt.error);
                let back = attempt.back_at.map(|at| at.saturating_sub(now));
                waits.extend(reported.or(back));
            }
            reasons.push(Reason {
                plugin: &attempt.plugin,
                account: attempt.account.as_deref(),
                what: attempt.error.to_string(),
            });
        }
        for pool in &unavailable {
            if pool.retries_used {
                // Accounts were left untried: one may serve right away.
                waits.push(1000);
                all_timeouts = false;
                all_unauthorized = false;
            }
            for out in &pool.out {
                all_timeouts = false;
                match out.why {
                    OutReason::CoolingDown(kind) => {
                        all_quota &= kind == FailureKind::QuotaExhausted;
                        all_unauthorized = false;
                        waits.push(out.until.map_or(1000, |at| at.saturating_sub(now)));
                    }
                    OutReason::Busy => {
                        all_quota = false;
                        all_unauthorized = false;
                        waits.push(1000);
                    }
                    _ => {
                        all_limits = false;
                        all_unauthorized &= out
                            .last_error
                            .as_ref()
                            .is_some_and(|e| e.kind == FailureKind::Unauthorized);
                    }
                }
                reasons.push(Reason {
                    plugin: &pool.plugin,
                    account: Some(&out.account),
                    what: out_reason(out, now),
                });
            }
        }
        let plugin = attempts
            .first()
            .map(|a| a.plugin.as_str())
            .or(unavailable.first().map(|u| u.plugin.as_str()))
            .unwrap_or("gateway");
        let single = attempts.len() == 1 && reasons.len() == 1;
        let mut error = if reasons.is_empty() {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("no_route"),
                "nothing could serve this request",
            )
        } else if all_limits {
            let wait_ms = waits.iter().copied().min().unwrap_or(60_000);
            let what = if all_quota {
                "out of quota"
            } else {
                "rate-limited or busy"
            };
            ApiError {
                retry_after: Some(wait_ms.div_ceil(1000).max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    if all_quota {
                        "insufficient_quota"
                    } else {
                        "rate_limit_error"
                    },
                    Some(if all_quota {
                        "insufficient_quota"
                    } else {
                        "rate_limit_exceeded"
                    }),
                    match attempts.last() {
                        Some(last) if single => from_call(&last.plugin, &last.error).message,
                        _ => format!(
                            "{plugin}: every account is {what}; the first is back in {} s",
                            wait_ms.div_ceil(1000).max(1)
                        ),
                    },
                )
            }
        } else if let Some(last) = attempts.last() {
            let mut error = from_call(&last.plugin, &last.error);
            if !(all_timeouts || single && error.status == StatusCode::GATEWAY_TIMEOUT) {
                error.status = StatusCode::BAD_GATEWAY;
            }
            if all_unauthorized {
                error.code = Some("upstream_unauthorized");
            }
            error
        } else {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some(if all_unauthorized {
                    "upstream_unauthorized"
                } else {
                    "no_healthy_account"
                }),
                format!("{plugin}: no account can serve this request now"),
            )
        };
        if !reasons.is_empty() {
            // Account ids are the operator's inventory: the log has them
            // (with the request's id), the caller only how each try ended.
            let detailed: Vec<String> = reasons.iter().map(Reason::detailed).collect();
            tracing::warn!(tried = %detailed.join("; "), "no account could serve the request");
        }
        if !single && !reasons.is_empty() {
            error.message = format!("{} (tried {})", error.message, public_summary(&reasons));
        }
        error
    }
}

/// One account tried or left out, and how that went.
struct Reason<'a> {
    plugin: &'a str,
    account: Option<&'a str>,
    what: String,
}

impl Reason<'_> {
    fn detailed(&self) -> String {
        match self.account {
            Some(account) => format!("{}/{account}: {}", self.plugin, self.what),
            None => format!("{}: {}", self.plugin, self.what),
        }
    }
}

/// The reasons without account ids, alike ones counted: `gemini: upstream
/// answered 503 (2 accounts); vertex: rate-limited for 30 s`.
fn public_summary(reasons: &[Reason]) -> String {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for reason in reasons {
        let line = format!("{}: {}", reason.plugin, reason.what);
        match groups.iter_mut().find(|(seen, _)| *seen == line) {
            Some((_, count)) => *count += 1,
            None => groups.push((line, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(line, count)| match count {
            1 => line,
            n => format!("{line} ({n} accounts)"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an account was not tried, in words.
fn out_reason(out: &OutAccount, now: u64) -> String {
    let left = |until: Option<u64>| {
        until.map_or(String::new(), |at| {
            format!(" for {} s", at.saturating_sub(now).div_ceil(1000).max(1))
        })
    };
    let last = out
        .last_error
        .as_ref()
        .map_or(String::new(), |e| format!(" ({})", e.message));
    match out.why {
        OutReason::CoolingDown(FailureKind::QuotaExhausted) => {
            format!("out of quota{}{last}", left(out.until))
        }
        OutReason::CoolingDown(_) => format!("rate-limited{}{last}", left(out.until)),
        OutReason::Broken => format!("credentials refused, waiting for a probe{last}"),
        OutReason::BreakerOpen => format!(
            "resting after repeated upstream failures{}{last}",
            left(out.until)
        ),
        OutReason::Disabled => "disabled by an operator".into(),
        OutReason::Expired => "expired (expires-at has passed)".into(),
        OutReason::Busy => "at its concurrency limit".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::RetryInfo;

    use crate::dispatch::Attempt;

    fn limited(ms: Option<u64>) -> Attempt {
        Attempt {
            back_at: None,
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
            ..Exhausted::default()
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
