//! Upstream failures → typed provider errors.
//!
//! Both sites report errors in several shapes, sometimes inside a `200` stream:
//! - tongyi: `{"success":false,"errorCode":"NOT_LOGIN","errorMsg":"…"}`, or an
//!   event carrying `errorCode`;
//! - chat.qwen.ai: `{"success":false,"data":{"code":"RateLimited","num":<hours>,"details":"…"}}`,
//!   `{"error":{"code":"…","message":"…"}}`, `{"detail":"…"}` (Open WebUI style);
//! - chat.qwen.ai since 2026-09: HTTP `200` with the real status in
//!   `x-actual-status-code` and `{"success":false,"data":{"code":"Unauthorized",…}}`
//!   (or a bare `{"code":"unauthorized"}`);
//! - DashScope's moderation code `data_inspection_failed` (in band on
//!   chat.qwen.ai): a content filter, not an upstream failure;
//! - a WAF / human-verification page (HTML, or Alibaba's TMD JSON
//!   `{"ret":["FAIL_SYS_USER_VALIDATE","RGV587_ERROR…"]}`) from Aliyun's edge.

use serde_json::Value;
use wasmgate_plugin_sdk::ProviderError;
use wasmgate_plugin_sdk::answer::broken;
use wasmgate_plugin_sdk::http::Response;
use wasmgate_plugin_sdk::retry_after::retry_after_ms;

use crate::account::Flow;

/// Longest upstream message quoted in an error.
const MAX_MESSAGE: usize = 300;

/// Largest error body read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// How long to rest an account after a stream that ended with no answer at
/// all, which the chat.qwen.ai proxies treat as a silent rate limit.
pub const SILENT_RATE_LIMIT_MS: u64 = 60_000;

/// An error object's parts, in whichever shape it came.
#[derive(Debug, Default, PartialEq, Eq)]
struct ErrorParts {
    code: String,
    message: String,
    /// `data.num`: hours to wait, on chat.qwen.ai's rate limit.
    wait_hours: Option<u64>,
}

/// The error an object describes, or `None` when it is not an error.
pub fn from_error_object(flow: Flow, status: u16, json: &Value) -> Option<ProviderError> {
    let parts = error_parts(json)?;
    Some(classify(flow, status, &parts, None))
}

/// The real status of an answer: chat.qwen.ai answers refusals with `200`
/// on the wire and the real status in `x-actual-status-code`.
pub fn effective_status(response: &Response) -> u16 {
    response
        .header("x-actual-status-code")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(response.status)
}

/// The response if it is a success that streams, else the error it
/// describes (a `Retry-After` date counted from `now_secs`).
pub fn expect_stream(
    flow: Flow,
    response: Response,
    now_secs: u64,
) -> Result<Response, ProviderError> {
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    // A stream may come under another content type; JSON and HTML never are.
    let not_a_stream = content_type.contains("json") || content_type.contains("html");
    if (200..300).contains(&effective_status(&response)) && !not_a_stream {
        return Ok(response);
    }
    let (status, retry_after_ms, body) = read_answer(response, now_secs)?;
    Err(from_http(flow, status, retry_after_ms, &body))
}

/// The JSON body of a success answer, or the error the answer describes.
pub fn expect_json(flow: Flow, response: Response, now_secs: u64) -> Result<Value, ProviderError> {
    let (status, retry_after_ms, body) = read_answer(response, now_secs)?;
    if (200..300).contains(&status)
        && !is_human_verification(&body)
        && let Ok(json) = serde_json::from_str::<Value>(&body)
    {
        return match from_error_object(flow, status, &json) {
            Some(error) => Err(error),
            None => Ok(json),
        };
    }
    Err(from_http(flow, status, retry_after_ms, &body))
}

/// An answer read whole: its real status, `Retry-After` in milliseconds, and
/// the body's first [`ERROR_BODY_LIMIT`] bytes as text (a WAF page may be
/// larger: its start is enough to recognise it).
fn read_answer(
    mut response: Response,
    now_secs: u64,
) -> Result<(u16, Option<u64>, String), ProviderError> {
    let status = effective_status(&response);
    let retry_after_ms = response
        .header("retry-after")
        .and_then(|value| retry_after_ms(value, now_secs));
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT
        && let Some(chunk) = response.next_chunk().map_err(broken)?
    {
        let room = ERROR_BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok((
        status,
        retry_after_ms,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// The error an HTTP answer describes: a failure status, or a success that
/// is not what was asked for (an error object, a WAF page, something else).
pub fn from_http(
    flow: Flow,
    status: u16,
    retry_after_ms: Option<u64>,
    body: &str,
) -> ProviderError {
    if is_human_verification(body) {
        return human_verification(flow);
    }
    let parts = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|json| error_parts(&json));
    let Some(parts) = parts else {
        let parts = ErrorParts {
            message: plain_text(body),
            ..ErrorParts::default()
        };
        if (200..300).contains(&status) {
            // A success that is neither the expected answer nor an error.
            return ProviderError::upstream(
                502,
                format!("{}: unexpected answer{}", flow.label(), quote(&parts)),
            );
        }
        return classify(flow, status, &parts, retry_after_ms);
    };
    classify(flow, status, &parts, retry_after_ms)
}

fn error_parts(json: &Value) -> Option<ErrorParts> {
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    // tongyi: `errorCode` (empty or null on healthy events).
    let code = text(json.get("errorCode"));
    if !code.is_empty() {
        return Some(ErrorParts {
            code,
            message: text(json.get("errorMsg")),
            wait_hours: None,
        });
    }
    // chat.qwen.ai: `{"success":false,"data":{"code","num","details"}}`,
    // or the code at the top (`{"code":"unauthorized"}`).
    let top_code = text(json.get("code"));
    let refused = json.get("success") == Some(&Value::Bool(false))
        || (!top_code.is_empty()
            && json.get("choices").is_none()
            && json.get("success") != Some(&Value::Bool(true)));
    if refused {
        let data = json.get("data");
        let data_code = text(data.and_then(|d| d.get("code")));
        return Some(ErrorParts {
            code: if data_code.is_empty() {
                top_code
            } else {
                data_code
            },
            message: [
                text(data.and_then(|d| d.get("details"))),
                text(json.get("errorMsg")),
                text(json.get("message")),
                text(json.get("details")),
                text(json.get("msg")),
            ]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or_default(),
            wait_hours: data.and_then(|d| d.get("num")).and_then(Value::as_u64),
        });
    }
    // `error`, or `data.error` (seen in the Go proxy's handling).
    let error = json
        .get("error")
        .or_else(|| json.get("data").and_then(|d| d.get("error")));
    match error {
        Some(Value::Object(error)) => {
            return Some(ErrorParts {
                code: text(error.get("code")),
                message: text(error.get("message")),
                wait_hours: None,
            });
        }
        Some(Value::String(message)) => {
            return Some(ErrorParts {
                message: message.clone(),
                ..ErrorParts::default()
            });
        }
        _ => {}
    }
    if let Some(Value::String(detail)) = json.get("detail") {
        return Some(ErrorParts {
            message: detail.clone(),
            ..ErrorParts::default()
        });
    }
    None
}

fn classify(
    flow: Flow,
    status: u16,
    parts: &ErrorParts,
    retry_after_ms: Option<u64>,
) -> ProviderError {
    let site = flow.label();
    let code = parts.code.to_ascii_lowercase();
    let message = parts.message.to_ascii_lowercase();
    let quoted = quote(parts);
    let either = |needle: &str| code.contains(needle) || message.contains(needle);

    // Moderation refused the prompt or the answer: the caller's content is
    // the problem, not the account.
    if either("data_inspection_failed")
        || either("datainspectionfailed")
        || message.contains("inappropriate content")
    {
        return ProviderError::ContentFiltered(format!(
            "{site}: the content filter refused the request{quoted}"
        ));
    }
    if code == "not_login"
        || code == "unauthorized"
        || either("login")
        || message.contains("expired")
        || message.contains("token is invalid")
        || status == 401
    {
        return ProviderError::Unauthorized(match flow {
            Flow::Tongyi => format!(
                "tongyi: not logged in{quoted}: the cookie has expired or is invalid; copy a fresh cookie and x-xsrf-token from the browser"
            ),
            Flow::ChatQwenAi => format!(
                "chat.qwen.ai refused the credentials{quoted}: they have expired or are invalid; set `session-token` (the browser's `token` cookie, refreshed automatically) or copy a fresh `token`"
            ),
        });
    }
    if code == "ratelimited" || either("rate limit") || either("ratelimit") || status == 429 {
        let retry = retry_after_ms.or(parts.wait_hours.map(|h| h.saturating_mul(3_600_000)));
        return ProviderError::rate_limited(format!("{site}: rate limited{quoted}"), retry);
    }
    if message.contains("quota") {
        return ProviderError::quota_exhausted(
            format!("{site}: quota exhausted{quoted}"),
            retry_after_ms,
        );
    }
    if (code == "not_found" || status == 404) && message.contains("model") {
        return ProviderError::ModelNotFound(format!("{site}: unknown model{quoted}"));
    }
    if status == 403 {
        return ProviderError::Forbidden(format!("{site}: forbidden{quoted}"));
    }
    if message.contains("overload") || message.contains("temporarily unavailable") {
        return ProviderError::upstream(
            if status >= 500 { status } else { 503 },
            format!("{site}: overloaded{quoted}"),
        );
    }
    if code == "bad_request" && message.contains("internal error") {
        return ProviderError::upstream(502, format!("{site}: internal error{quoted}"));
    }
    ProviderError::upstream(status, format!("{site}: upstream error{quoted}"))
}

/// ` (CODE: message)`, or nothing when the upstream said nothing.
fn quote(parts: &ErrorParts) -> String {
    let message = truncate(parts.message.trim());
    match (parts.code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({})", truncate(&parts.code)),
        (true, false) => format!(" ({message})"),
        (false, false) => format!(" ({}: {message})", truncate(&parts.code)),
    }
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A body that is not JSON: keep a short, single-line excerpt, skipping HTML.
fn plain_text(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.starts_with('<') {
        return String::new();
    }
    truncate(&trimmed.replace(['\r', '\n'], " "))
}

/// Markers of Aliyun's WAF / slider captcha pages and TMD challenges.
const HUMAN_VERIFICATION_MARKERS: &[&str] = &[
    "rgv587",
    "fail_sys_user_validate",
    "_____tmd_____",
    "aliyun_waf",
    "captcha",
    "punish",
    "x5sec",
    "baxia",
    "awsc",
    "人机验证",
    "安全验证",
];

pub fn is_human_verification(body: &str) -> bool {
    let lower = body.to_lowercase();
    HUMAN_VERIFICATION_MARKERS
        .iter()
        .any(|marker| lower.contains(marker))
}

/// How a human-verification error's message starts (flows add advice).
pub const HUMAN_VERIFICATION: &str = "the site asked for human verification (WAF/captcha)";

/// The edge wants a browser to solve a puzzle. Another account (or later)
/// may pass, so the account rests like on a rate limit.
fn human_verification(flow: Flow) -> ProviderError {
    ProviderError::rate_limited(
        format!(
            "{}: {HUMAN_VERIFICATION}; the account needs a browser session or a pause",
            flow.label()
        ),
        None,
    )
}

/// Whether an error is the edge's human-verification challenge.
pub fn is_human_verification_error(error: &ProviderError) -> bool {
    matches!(error, ProviderError::RateLimited(info) if info.message.contains(HUMAN_VERIFICATION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn retry(error: &ProviderError) -> Option<u64> {
        match error {
            ProviderError::RateLimited(info) | ProviderError::QuotaExhausted(info) => {
                info.retry_after_ms
            }
            _ => None,
        }
    }

    #[test]
    fn not_login_is_unauthorized_with_advice() {
        let error = from_error_object(
            Flow::Tongyi,
            0,
            &json!({"errorCode":"NOT_LOGIN","errorMsg":"not login","contents":[]}),
        )
        .unwrap();
        match error {
            ProviderError::Unauthorized(message) => {
                assert!(message.contains("NOT_LOGIN"), "{message}");
                assert!(message.contains("fresh cookie"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn healthy_events_are_not_errors() {
        for event in [
            json!({"errorCode":"","msgStatus":"generating","contents":[]}),
            json!({"errorCode":null,"canShare":true}),
            json!({"choices":[{"delta":{"content":"hi"}}]}),
            json!({"success":true,"data":{"id":"chat-1"}}),
        ] {
            assert!(
                from_error_object(Flow::Tongyi, 0, &event).is_none(),
                "{event}"
            );
        }
    }

    #[test]
    fn chat_qwen_ai_rate_limit_frame_carries_hours_to_wait() {
        let error = from_error_object(
            Flow::ChatQwenAi,
            0,
            &json!({"success":false,"data":{"code":"RateLimited","num":2,"details":"quota exceeded"}}),
        )
        .unwrap();
        assert!(matches!(error, ProviderError::RateLimited(_)), "{error:?}");
        assert_eq!(retry(&error), Some(2 * 3_600_000));
    }

    /// A response with these headers and body.
    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        let headers = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        let body: std::collections::VecDeque<_> = [Ok(body.as_bytes().to_vec())].into();
        Response::new(status, headers, Box::new(body))
    }

    #[test]
    fn http_429_uses_retry_after_over_the_body() {
        let body = r#"{"success":false,"data":{"code":"RateLimited","num":2,"details":"x"}}"#;
        let answer = response(429, &[("retry-after", "7")], body);
        let error = expect_json(Flow::ChatQwenAi, answer, 0).unwrap_err();
        assert_eq!(retry(&error), Some(7000));
        // The HTTP-date form counts from now.
        let answer = response(
            429,
            &[("retry-after", "Thu, 01 Jan 1970 00:01:00 GMT")],
            body,
        );
        let error = expect_stream(Flow::ChatQwenAi, answer, 20).err().unwrap();
        assert_eq!(retry(&error), Some(40_000));
        let error = from_http(Flow::Tongyi, 429, None, "slow down");
        assert!(matches!(error, ProviderError::RateLimited(_)));
    }

    #[test]
    fn the_actual_status_header_overrides_a_200() {
        let answer = response(
            200,
            &[
                ("x-actual-status-code", "401"),
                ("content-type", "application/json"),
            ],
            r#"{"success":false,"data":{"code":"Unauthorized"}}"#,
        );
        assert_eq!(effective_status(&answer), 401);
        let error = expect_stream(Flow::ChatQwenAi, answer, 0).err().unwrap();
        assert!(matches!(error, ProviderError::Unauthorized(_)), "{error:?}");
    }

    #[test]
    fn model_quota_is_quota_exhausted() {
        let error = from_error_object(
            Flow::ChatQwenAi,
            0,
            &json!({"error":{"message":"Allocated quota exceeded, please increase your quota limit token-limit"}}),
        )
        .unwrap();
        assert!(
            matches!(error, ProviderError::QuotaExhausted(_)),
            "{error:?}"
        );
    }

    #[test]
    fn expired_session_detail_is_unauthorized() {
        let body = r#"{"detail":"Your session has expired or the token is invalid. Please sign in again."}"#;
        let error = from_http(Flow::ChatQwenAi, 401, None, body);
        match error {
            ProviderError::Unauthorized(message) => {
                assert!(message.contains("expired"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn waf_pages_rest_the_account() {
        let page =
            "<html><script src=\"//g.alicdn.com/AWSC/AWSC/awsc.js\"></script>aliyun_waf_aa</html>";
        let error = from_http(Flow::ChatQwenAi, 200, None, page);
        match &error {
            ProviderError::RateLimited(info) => {
                assert!(info.message.contains("human verification"))
            }
            other => panic!("{other:?}"),
        }
        // The HTML itself is never quoted.
        let error = from_http(Flow::Tongyi, 502, None, "<html>bad gateway</html>");
        match error {
            ProviderError::Upstream(failure) => {
                assert_eq!(failure.status, 502);
                assert!(!failure.message.contains('<'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_keep_their_status_and_overload_is_503() {
        let error = from_http(
            Flow::Tongyi,
            500,
            None,
            r#"{"success":false,"errorCode":"InternalError","errorMsg":"mock"}"#,
        );
        match error {
            ProviderError::Upstream(failure) => {
                assert_eq!(failure.status, 500);
                assert!(
                    failure.message.contains("InternalError: mock"),
                    "{}",
                    failure.message
                );
            }
            other => panic!("{other:?}"),
        }
        let error = from_http(
            Flow::ChatQwenAi,
            503,
            None,
            r#"{"detail":"Service temporarily unavailable"}"#,
        );
        assert!(
            matches!(error, ProviderError::Upstream(ref f) if f.status == 503),
            "{error:?}"
        );
        let error = from_error_object(
            Flow::ChatQwenAi,
            0,
            &json!({"success":false,"data":{"code":"Bad_Request","details":"internal error"}}),
        )
        .unwrap();
        assert!(
            matches!(error, ProviderError::Upstream(ref f) if f.status == 502),
            "{error:?}"
        );
    }

    #[test]
    fn a_success_that_is_neither_answer_nor_error_is_a_bad_gateway() {
        let error = from_http(Flow::Tongyi, 200, None, r#"{"success":true,"data":[]}"#);
        assert!(
            matches!(error, ProviderError::Upstream(ref f) if f.status == 502),
            "{error:?}"
        );
        let error = from_http(
            Flow::Tongyi,
            200,
            None,
            r#"{"success":false,"errorCode":"NOT_LOGIN"}"#,
        );
        assert!(matches!(error, ProviderError::Unauthorized(_)), "{error:?}");
    }

    #[test]
    fn forbidden_stays_forbidden() {
        let error = from_http(
            Flow::ChatQwenAi,
            403,
            None,
            r#"{"detail":"account disabled"}"#,
        );
        assert!(matches!(error, ProviderError::Forbidden(_)), "{error:?}");
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        let error = from_http(Flow::Tongyi, 500, None, &long);
        match error {
            ProviderError::Upstream(failure) => assert!(failure.message.len() < 400),
            other => panic!("{other:?}"),
        }
    }
}
