//! Google's error envelope → a typed `ProviderError`.
//!
//! `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}`
//! arrives as a non-2xx body, or as a `data:` event in the middle of a stream.
//! The case decides what the host does (rotate the account, park it, or
//! answer the caller), so the classification follows
//! `docs/protocols/gemini-api.md`, "Error envelope", closely: an invalid key
//! is a 400 here, not a 401.

use serde::Deserialize;
use serde_json::Value;
use wasmgate_plugin_sdk::ProviderError;

use crate::duration;

/// Longest upstream message copied into an error.
const MAX_MESSAGE: usize = 600;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Envelope {
    error: Option<GoogleError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleError {
    code: Option<Value>,
    message: String,
    status: String,
    details: Vec<Value>,
}

/// The error for a non-2xx answer with this body.
pub fn from_response(http_status: u16, body: &str) -> ProviderError {
    // `streamGenerateContent` wraps its error in a one-element array
    // (`[{"error":…}]`); google-genai's `APIError` unwraps it, and so do we.
    let envelope = serde_json::from_str::<Value>(body)
        .ok()
        .map(|value| match value {
            Value::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        })
        .and_then(|value| Envelope::deserialize(value).ok());
    match envelope {
        Some(Envelope { error: Some(error) }) => classify(http_status, &error),
        // Not Google's JSON (a proxy's HTML page, an empty body…).
        _ => {
            let snippet = one_line(body, 200);
            let message = if snippet.is_empty() {
                format!("HTTP {http_status}")
            } else {
                format!("HTTP {http_status}: {snippet}")
            };
            by_status(http_status, message, None)
        }
    }
}

/// The error for the `error` object of a stream event (`{"error":{…}}`).
pub fn from_stream_error(error: &Value) -> ProviderError {
    match GoogleError::deserialize(error) {
        Ok(error) => {
            let status = error_code(&error).unwrap_or(0);
            classify(status, &error)
        }
        Err(_) => ProviderError::upstream(
            0,
            format!("error in stream: {}", one_line(&error.to_string(), 200)),
        ),
    }
}

/// The HTTP status an error stands for: its `code`, else its canonical status.
fn error_code(error: &GoogleError) -> Option<u16> {
    if let Some(code) = error.code.as_ref().and_then(Value::as_u64) {
        return u16::try_from(code).ok();
    }
    Some(match error.status.as_str() {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

fn classify(http_status: u16, error: &GoogleError) -> ProviderError {
    // A stream event may carry a code while the HTTP status was 200.
    let status = match http_status {
        0 | 200..=299 => error_code(error).unwrap_or(http_status),
        status => status,
    };
    let text = one_line(&error.message, MAX_MESSAGE);
    let message = match (error.status.as_str(), text.is_empty()) {
        ("", true) => format!("HTTP {status}"),
        ("", false) => text,
        (canonical, true) => canonical.to_string(),
        (canonical, false) => format!("{canonical}: {text}"),
    };
    by_status(status, message, Some(error))
}

fn by_status(status: u16, message: String, error: Option<&GoogleError>) -> ProviderError {
    match status {
        400 if error.is_some_and(is_invalid_key) => ProviderError::Unauthorized(message),
        400 | 413 => ProviderError::BadRequest(message),
        401 => ProviderError::Unauthorized(message),
        403 => ProviderError::Forbidden(message),
        404 => ProviderError::ModelNotFound(message),
        429 => rate_limit(message, error),
        status => ProviderError::upstream(status, message),
    }
}

/// A deleted, invalid or expired API key: Google answers 400, not 401.
fn is_invalid_key(error: &GoogleError) -> bool {
    let by_reason = error_infos(error).any(|info| {
        matches!(
            info.get("reason").and_then(Value::as_str),
            Some("API_KEY_INVALID" | "API_KEY_EXPIRED")
        )
    });
    let message = error.message.to_ascii_lowercase();
    by_reason
        || message.contains("api key not valid")
        || message.contains("api key not found")
        || message.contains("api key expired")
}

fn rate_limit(message: String, error: Option<&GoogleError>) -> ProviderError {
    let Some(error) = error else {
        return ProviderError::rate_limited(message, None);
    };
    if is_daily_quota(error) {
        // The RetryInfo of a daily quota counts seconds, yet the key stays
        // exhausted until the daily reset; leave the parking time to the host.
        return ProviderError::quota_exhausted(message, None);
    }
    ProviderError::rate_limited(message, retry_delay_ms(error))
}

fn details_of<'a>(
    error: &'a GoogleError,
    type_suffix: &'a str,
) -> impl Iterator<Item = &'a Value> + 'a {
    error.details.iter().filter(move |detail| {
        detail
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with(type_suffix))
    })
}

fn error_infos(error: &GoogleError) -> impl Iterator<Item = &Value> {
    details_of(error, "google.rpc.ErrorInfo")
}

/// A `QuotaFailure` naming a per-day quota (`…PerDayPerProjectPerModel…`).
fn is_daily_quota(error: &GoogleError) -> bool {
    details_of(error, "google.rpc.QuotaFailure")
        .filter_map(|detail| detail.get("violations").and_then(Value::as_array))
        .flatten()
        .any(|violation| {
            ["quotaId", "quotaMetric"].iter().any(|field| {
                violation
                    .get(*field)
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.contains("PerDay") || id.contains("per_day"))
            })
        })
}

/// `RetryInfo.retryDelay`, else the "Please retry in 47.43s." of the message.
fn retry_delay_ms(error: &GoogleError) -> Option<u64> {
    details_of(error, "google.rpc.RetryInfo")
        .filter_map(|detail| detail.get("retryDelay").and_then(Value::as_str))
        .find_map(duration::parse_millis)
        .or_else(|| retry_in_message(&error.message))
}

fn retry_in_message(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("retry in ")? + "retry in ".len();
    let word = message[start..].split_whitespace().next()?;
    duration::parse_millis(word.trim_end_matches(['.', ',', ';', ')']))
}

/// Text on one line, cut at `limit` characters.
fn one_line(text: &str, limit: usize) -> String {
    let mut out: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(limit + 1)
        .collect();
    if out.chars().count() > limit {
        out = out.chars().take(limit).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests;
