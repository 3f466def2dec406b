//! The Gemini web app plugin end to end: a real client, the real gateway,
//! the `gemini-web` plugin built from source, and a mock of
//! gemini.google.com (page, StreamGenerate, RotateCookies, upload, image
//! downloads) on loopback that follows `docs/protocols/gemini-web.md`.
//!
//! The mock picks a scenario from tokens in the prompt (`[mock:1037]`,
//! `[mock:cut]`, "generate an image", …), so most tests only change the
//! user's message.

use std::time::Duration;

use base64::Engine as _;
use mock_gemini_web::{
    DEFAULT_ANSWER, DEFAULT_PSID, DEFAULT_PSIDTS, DEFAULT_THOUGHTS, Glitch, MOCK_PNG, MockOptions,
    MockUpstream, PAGE_PUSH_ID, Split,
};
use wasmgate_testkit::{
    Gateway, Value, json, parse_sse, reasoning_comes_first, streamed_text, user_request,
};
use wasmgate_testkit::{
    bounded_stream as stream, failure, finish_reason, streamed_reasoning as reasoning, text_pieces,
};

/// One account of the gateway's `plugins.toml`: its id and cookies.
struct Account {
    id: &'static str,
    psid: String,
    /// `None`: the `psidts` variable is not set at all.
    psidts: Option<String>,
}

/// The account holding the mock's session.
fn web() -> Account {
    Account {
        id: "web",
        psid: DEFAULT_PSID.into(),
        psidts: Some(DEFAULT_PSIDTS.into()),
    }
}

/// An account whose cookies the mock does not know (signed out).
fn stranger(id: &'static str) -> Account {
    Account {
        id,
        psid: format!("mock-psid-stranger-{id}"),
        psidts: Some(format!("mock-psidts-stranger-{id}")),
    }
}

async fn mock() -> MockUpstream {
    mock_gemini_web::spawn(MockOptions::default()).await
}

fn gateway(mock: &MockUpstream, accounts: &[Account]) -> Gateway {
    gateway_with(mock, accounts, "")
}

/// A gateway serving the `gemini-web` plugin with these accounts, each with
/// only `base-url` pointed at the mock (it covers rotation and uploads too),
/// plus `settings` (TOML inline table entries, e.g. `rotate-interval-secs = "0"`).
fn gateway_with(mock: &MockUpstream, accounts: &[Account], settings: &str) -> Gateway {
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini-web"])
        .env("API_KEY", "sk-gemini-web-test-key-0123456789")
        .env("ADMIN_KEY", "admin-gemini-web-test-key-0123456789");
    let mut config = String::from(
        r#"
[runtime]
first-event-timeout-secs = 20

[plugins.gemini-web]
allowed-hosts = ["gemini.google.com", "accounts.google.com", "content-push.googleapis.com", "*.googleusercontent.com"]
"#,
    );
    let extra = if settings.is_empty() {
        String::new()
    } else {
        format!(", {settings}")
    };
    for (n, account) in accounts.iter().enumerate() {
        let (psid_var, psidts_var) = if n == 0 {
            ("TEST_PSID".to_string(), "TEST_PSIDTS".to_string())
        } else {
            (format!("TEST_PSID_{n}"), format!("TEST_PSIDTS_{n}"))
        };
        builder = builder.env(&psid_var, &account.psid);
        if let Some(psidts) = &account.psidts {
            builder = builder.env(&psidts_var, psidts);
        }
        let base = &mock.base_url;
        config.push_str(&format!(
            r#"
[[plugins.gemini-web.accounts]]
id = "{}"
secrets = {{ psid = {{ env = "{psid_var}" }}, psidts = {{ env = "{psidts_var}" }} }}
settings = {{ base-url = "{base}"{extra} }}
"#,
            account.id
        ));
    }
    config.push_str(
        r#"
[models]
"gemini-*" = "gemini-web"
"#,
    );
    builder.config(&config).start()
}

/// No cookie value (configured, rotated, or the mock's access token) in `text`.
fn assert_no_secret(text: &str, mock: &MockUpstream, accounts: &[Account]) {
    let mut secrets = vec![mock.access_token()];
    secrets.extend(mock.valid_psidts());
    for account in accounts {
        secrets.push(account.psid.clone());
        secrets.extend(account.psidts.clone());
    }
    for secret in secrets {
        assert!(
            !text.contains(&secret),
            "a secret ({secret:?}) leaked into:\n{text}"
        );
    }
    // Nor a recognisable piece of one.
    assert!(!text.contains("mock-psid"), "a cookie leaked into:\n{text}");
}

fn stream_generate_calls(mock: &MockUpstream) -> Vec<mock_gemini_web::RecordedRequest> {
    mock.requests_to("/StreamGenerate")
}

// ---- streaming ----------------------------------------------------------------

#[tokio::test]
async fn streamed_deltas_add_up_to_the_final_text_exactly() {
    // The answer has CJK, astral characters, an emoji, and characters the
    // upstream HTML-escapes; the mock cuts its frames inside the length
    // digits and inside multi-byte characters, or every few bytes.
    for split in [Split::InsideChars, Split::EveryBytes(3)] {
        let mock = mock_gemini_web::spawn(MockOptions {
            split: split.clone(),
            ..MockOptions::default()
        })
        .await;
        let gateway = gateway(&mock, &[web()]);
        let response = gateway
            .chat(&user_request("gemini-3-flash", "Say hello", true))
            .await;
        assert_eq!(response.status(), 200, "{split:?}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        let frames = parse_sse(&response.text().await.unwrap());
        assert_eq!(frames[0]["choices"][0]["delta"]["role"], "assistant");
        let streamed = streamed_text(&frames);
        assert_eq!(streamed, DEFAULT_ANSWER, "{split:?}: exactly, once");
        assert!(!streamed.contains('\u{FFFD}') && !streamed.contains("&amp;"));
        assert!(
            text_pieces(&frames) >= 3,
            "{split:?}: one delta per snapshot, not one blob: {frames:?}"
        );
        assert_eq!(reasoning(&frames), "", "a fast model has no thoughts");
        assert_eq!(finish_reason(&frames), Some("stop"));
        assert_eq!(frames.last().unwrap(), "[DONE]");

        let completion = gateway
            .chat_ok(&user_request("gemini-3-flash", "Say hello", false))
            .await;
        assert_eq!(completion["object"], "chat.completion");
        let choice = &completion["choices"][0];
        assert_eq!(
            choice["message"]["content"], DEFAULT_ANSWER,
            "{split:?}: the non-streamed answer is the same text"
        );
        assert_eq!(choice["finish_reason"], "stop");
    }
}

#[tokio::test]
async fn the_request_reaches_the_upstream_as_the_web_app_sends_it() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let body = json!({"model": "gemini-3-pro", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "[mock:echo] 你好 👋"}
    ]});
    let completion = gateway.chat_ok(&body).await;
    let folded = "System: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: [mock:echo] 你好 👋\n\nAssistant: ";
    assert_eq!(
        completion["choices"][0]["message"]["content"], folded,
        "the conversation is folded into one prompt, echoed back"
    );
    let calls = stream_generate_calls(&mock);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.prompt().as_deref(), Some(folded));
    assert_eq!(call.form("at"), Some(mock.access_token()));
    assert_eq!(call.cookie("__Secure-1PSID").as_deref(), Some(DEFAULT_PSID));
    assert_eq!(
        call.cookie("__Secure-1PSIDTS").as_deref(),
        Some(DEFAULT_PSIDTS)
    );
    // The shape browsers send since mid-2026 (the older one gets code 1052).
    let header: Value =
        serde_json::from_str(call.header("x-goog-ext-525001261-jspb").unwrap()).unwrap();
    assert_eq!(header.as_array().unwrap().len(), 17);
    assert_eq!(header[4], mock_gemini_web::MODEL_PRO);
    assert_eq!(header[14], mock_gemini_web::NUMBER_PRO);
    assert_eq!(call.header("x-goog-ext-73010990-jspb"), Some("[0,0,0]"));
    let inner = call.inner_request().unwrap();
    assert_eq!(inner.as_array().unwrap().len(), 81);
    assert_eq!((&inner[68], &inner[79]), (&json!(1), &json!(3)));
    // The page was read once; a second request reuses its values.
    gateway
        .chat_ok(&user_request("gemini-3-pro", "again", false))
        .await;
    assert_eq!(mock.requests_to("/app").len(), 1);
    assert_eq!(stream_generate_calls(&mock).len(), 2);
}

#[tokio::test]
async fn thoughts_arrive_as_reasoning_content() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let (status, frames) = stream(
        &gateway,
        &user_request("gemini-3-flash-thinking", "Think first", true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reasoning(&frames), DEFAULT_THOUGHTS);
    assert_eq!(streamed_text(&frames), DEFAULT_ANSWER);
    assert!(reasoning_comes_first(&frames), "thoughts first: {frames:?}");
    assert_eq!(frames.last().unwrap(), "[DONE]");

    let completion = gateway
        .chat_ok(&user_request(
            "gemini-3-flash-thinking",
            "Think first",
            false,
        ))
        .await;
    let message = &completion["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], DEFAULT_THOUGHTS);
    assert_eq!(message["content"], DEFAULT_ANSWER);
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_frame_not_a_hang() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let (status, frames) = stream(
        &gateway,
        &user_request("gemini-3-flash", "[mock:cut]", true),
    )
    .await;
    assert_eq!(status, 200);
    let text = streamed_text(&frames);
    assert!(
        !text.is_empty() && DEFAULT_ANSWER.starts_with(&text) && text != DEFAULT_ANSWER,
        "the first pieces arrived: {text:?}"
    );
    let last = frames.last().unwrap();
    assert!(
        last["error"]["message"].as_str().is_some(),
        "ends with an error frame: {last}"
    );
    assert!(!frames.iter().any(|f| f == "[DONE]"));
    assert_eq!(finish_reason(&frames), None, "no clean finish");

    // Not streamed, the same failure is an error status, not a short answer.
    let (status, _, body) = failure(
        &gateway,
        &user_request("gemini-3-flash", "[mock:cut]", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    // And the gateway is fine afterwards.
    let completion = gateway
        .chat_ok(&user_request("gemini-3-flash", "still here", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );
}

#[tokio::test]
async fn an_answer_cut_after_it_was_saved_is_read_back_and_finished() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let (status, frames) = stream(
        &gateway,
        &user_request("gemini-3-flash", "[mock:cut-persisted]", true),
    )
    .await;
    assert_eq!(status, 200);
    // The mock's first read finds it still generating; the second (after the
    // plugin's pause) complete.
    assert_eq!(streamed_text(&frames), DEFAULT_ANSWER);
    assert_eq!(finish_reason(&frames), Some("stop"));
}

#[tokio::test]
async fn a_passing_failure_before_any_output_is_retried() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    mock.glitch_next(Glitch::Code(1013), 1);
    let completion = gateway
        .chat_ok(&user_request("gemini-3-flash", "hi", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );
    assert_eq!(stream_generate_calls(&mock).len(), 2);
}

// ---- cookies ------------------------------------------------------------------

#[tokio::test]
async fn rotation_replaces_the_cookie_and_later_requests_use_the_new_one() {
    let mock = mock().await;
    let accounts = [web()];
    // Interval 0: every request rotates first.
    let gateway = gateway_with(&mock, &accounts, r#"rotate-interval-secs = "0""#);

    let mut previous = DEFAULT_PSIDTS.to_string();
    for n in 1..=3 {
        let completion = gateway
            .chat_ok(&user_request("gemini-3-flash", "hi", false))
            .await;
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            DEFAULT_ANSWER
        );
        assert_eq!(mock.rotations(), n, "request {n} rotated");
        let current = mock.current_psidts().unwrap();
        assert_ne!(current, previous, "request {n}: a new cookie");
        // The old cookie is dead at the mock (no grace period)...
        assert_eq!(mock.valid_psidts(), std::slice::from_ref(&current));
        // ...the rotation presented the one the last request left in the
        // state store (not the configured, dead one)...
        let rotation = mock.requests_to("/RotateCookies").pop().unwrap();
        assert_eq!(
            rotation.cookie("__Secure-1PSIDTS").as_deref(),
            Some(previous.as_str()),
            "request {n}"
        );
        // ...and the answer was asked for with the new one.
        let used = stream_generate_calls(&mock).pop().unwrap();
        assert_eq!(
            used.cookie("__Secure-1PSIDTS").as_deref(),
            Some(current.as_str()),
            "request {n}"
        );
        assert_eq!(used.cookie("__Secure-1PSID").as_deref(), Some(DEFAULT_PSID));
        previous = current;
    }
    assert!(
        !mock.valid_psidts().contains(&DEFAULT_PSIDTS.to_string()),
        "the configured cookie is dead, yet requests keep working"
    );
    let (status, frames) = stream(&gateway, &user_request("gemini-3-flash", "hi", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), DEFAULT_ANSWER);
    assert_eq!(mock.rotations(), 4);
    let logs = gateway.logs();
    assert_eq!(
        logs.matches("rotated __Secure-1PSIDTS").count(),
        4,
        "each rotation is logged, without its value:\n{logs}"
    );
    assert_no_secret(&logs, &mock, &accounts);
}

#[tokio::test]
async fn a_rotated_cookie_serves_later_requests_without_rotating_again() {
    let mock = mock().await;
    let accounts = [web()];
    // An interval long enough that "right after" below stays inside it on a
    // loaded machine (with 1 s, a slow CI run rotated twice).
    let gateway = gateway_with(&mock, &accounts, r#"rotate-interval-secs = "4""#);
    // The first use starts the account's rotation clock.
    gateway
        .chat_ok(&user_request("gemini-3-flash", "first", false))
        .await;
    assert_eq!(mock.rotations(), 0, "not due yet");
    tokio::time::sleep(Duration::from_millis(4100)).await;
    gateway
        .chat_ok(&user_request("gemini-3-flash", "due", false))
        .await;
    assert_eq!(mock.rotations(), 1);
    let rotated = mock.current_psidts().unwrap();
    assert_eq!(mock.valid_psidts(), std::slice::from_ref(&rotated));
    // Right after, nothing is due: the saved cookie is used as it is.
    let completion = gateway
        .chat_ok(&user_request("gemini-3-flash", "later", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );
    assert_eq!(mock.rotations(), 1);
    let used = stream_generate_calls(&mock).pop().unwrap();
    assert_eq!(used.cookie("__Secure-1PSIDTS"), Some(rotated));
    assert_no_secret(&gateway.logs(), &mock, &accounts);
}

#[tokio::test]
async fn an_expired_cookie_is_a_502_saying_which_secrets_to_refresh() {
    let mock = mock().await;
    mock.expire();
    let accounts = [web(), stranger("web-2")];
    let gateway = gateway(&mock, &accounts);
    for stream in [false, true] {
        let (status, _, body) =
            failure(&gateway, &user_request("gemini-3-flash", "hi", stream)).await;
        assert_eq!(status, 502, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "upstream_unauthorized");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("SECURE_1PSID") && message.contains("SECURE_1PSIDTS"),
            "says which secrets to refresh: {message}"
        );
        assert!(
            message.contains("'web'") && message.contains("'web-2'"),
            "after every account was tried: {message}"
        );
        assert_no_secret(&body.to_string(), &mock, &accounts);
    }
    assert!(
        !mock.requests_to("/RotateCookies").is_empty(),
        "a rotation tried to revive the session"
    );
    assert!(
        stream_generate_calls(&mock).is_empty(),
        "no answer was asked for"
    );
    let logs = gateway.logs();
    assert!(
        logs.contains("cookie rotation answered HTTP 401") && logs.contains("attempt failed"),
        "the failures are logged:\n{logs}"
    );
    assert_no_secret(&logs, &mock, &accounts);
}

#[tokio::test]
async fn cookies_that_expire_between_requests_are_a_502_too() {
    let mock = mock().await;
    let accounts = [web()];
    let gateway = gateway(&mock, &accounts);
    gateway
        .chat_ok(&user_request("gemini-3-flash", "one", false))
        .await;
    // The page values are cached; StreamGenerate itself refuses now.
    mock.expire();
    let (status, _, body) = failure(&gateway, &user_request("gemini-3-flash", "two", true)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("SECURE_1PSIDTS"), "{message}");
    assert_no_secret(&body.to_string(), &mock, &accounts);
    assert_no_secret(&gateway.logs(), &mock, &accounts);
}

#[tokio::test]
async fn a_signed_out_account_hands_over_to_a_live_one() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[stranger("old"), web()]);
    let (status, frames) = stream(&gateway, &user_request("gemini-3-flash", "hi", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), DEFAULT_ANSWER);
    let pages: Vec<Option<String>> = mock
        .requests_to("/app")
        .iter()
        .map(|r| r.cookie("__Secure-1PSID"))
        .collect();
    assert_eq!(
        pages.first().cloned().flatten().as_deref(),
        Some("mock-psid-stranger-old"),
        "the first account was tried first: {pages:?}"
    );
    let used = stream_generate_calls(&mock);
    assert_eq!(used.len(), 1, "only the live account asked for an answer");
    assert_eq!(
        used[0].cookie("__Secure-1PSID").as_deref(),
        Some(DEFAULT_PSID)
    );
}

#[tokio::test]
async fn an_account_with_only_psid_works() {
    // The session has no __Secure-1PSIDTS, and `TEST_PSIDTS` is not set: the
    // host leaves the optional secret out instead of refusing the account.
    let mock = mock_gemini_web::spawn(MockOptions {
        psidts: None,
        ..MockOptions::default()
    })
    .await;
    let accounts = [Account {
        psidts: None,
        ..web()
    }];
    let gateway = gateway(&mock, &accounts);
    let (status, frames) = stream(&gateway, &user_request("gemini-3-flash", "hi", true)).await;
    assert_eq!(status, 200, "{frames:?}\n{}", gateway.logs());
    assert_eq!(streamed_text(&frames), DEFAULT_ANSWER);
    let used = stream_generate_calls(&mock).pop().unwrap();
    assert_eq!(used.cookie("__Secure-1PSID").as_deref(), Some(DEFAULT_PSID));
    assert_eq!(used.cookie("__Secure-1PSIDTS"), None);
    assert_no_secret(&gateway.logs(), &mock, &accounts);
}

// ---- in-band errors and statuses ----------------------------------------------

#[tokio::test]
async fn in_band_error_codes_become_http_statuses() {
    let mock = mock().await;
    let accounts = [web()];
    let gateway = gateway(&mock, &accounts);
    // (prompt token, status, error code, Retry-After)
    let cases = [
        // The usage limit: every account is limited, so a Retry-After: the
        // upstream gives no hint, so the pool's quota and rate-limit cooldowns.
        ("1037", 429, "insufficient_quota", Some(3600)),
        ("1060", 429, "rate_limit_exceeded", Some(600)),
        ("http:429", 429, "rate_limit_exceeded", Some(7)),
        ("1050", 404, "model_not_found", None),
        // An outdated request structure: the plugin's fault, not the model's.
        ("1052", 502, "upstream_error", None),
        ("1003", 400, "content_filter", None),
        ("1013", 502, "upstream_error", None),
        ("http:500", 502, "upstream_error", None),
    ];
    for (token, status, code, retry) in cases {
        for stream in [false, true] {
            let prompt = format!("hi [mock:{token}]");
            let (got, retry_after, body) =
                failure(&gateway, &user_request("gemini-3-flash", &prompt, stream)).await;
            assert_eq!(got, status, "{token} stream {stream}: {body}");
            assert_eq!(
                body["error"]["code"], code,
                "{token} stream {stream}: {body}"
            );
            assert_eq!(retry_after, retry, "{token} stream {stream}");
            assert_no_secret(&body.to_string(), &mock, &accounts);
            // Each case on a fresh account, not one the last case took out.
            gateway.reset_accounts().await;
        }
    }
    let (_, _, body) = failure(
        &gateway,
        &user_request("gemini-3-flash", "[mock:1037]", false),
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("usage limit"), "{message}");
    gateway.reset_accounts().await;
    let (_, _, body) = failure(
        &gateway,
        &user_request("gemini-3-flash", "[mock:1050]", false),
    )
    .await;
    assert_eq!(body["error"]["param"], "model");
    // An error code after a complete answer does not spoil it.
    let completion = gateway
        .chat_ok(&user_request("gemini-3-flash", "[mock:after:1096]", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );
}

#[tokio::test]
async fn a_limited_account_hands_over_to_the_next_and_all_limited_is_429() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web(), web_twin()]);
    // Both accounts share the mock's session, so both hit the usage limit.
    let (status, retry_after, body) = failure(
        &gateway,
        &user_request("gemini-3-flash", "[mock:1037]", true),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert_eq!(retry_after, Some(3600), "the pool's quota cooldown");
    assert_eq!(
        stream_generate_calls(&mock).len(),
        2,
        "both accounts were tried"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'web'") && message.contains("'twin'"),
        "{message}"
    );
}

/// A second account with the same (valid) cookies as [`web`].
fn web_twin() -> Account {
    Account {
        id: "twin",
        ..web()
    }
}

#[tokio::test]
async fn a_content_refusal_is_400_and_costs_the_account_nothing() {
    let mock = mock().await;
    let accounts = [web()];
    let gateway = gateway(&mock, &accounts);
    let (status, _, body) = failure(
        &gateway,
        &user_request("gemini-3-flash", "draw it [mock:1003]", false),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "content_filter");
    // The only account is not benched: the next request is answered.
    let completion = gateway
        .chat_ok(&user_request("gemini-3-flash", "hi", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );
}

#[tokio::test]
async fn seed_model_names_are_answered_by_the_nearest_model() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    for (name, id) in [
        ("gemini-2.5-flash", mock_gemini_web::MODEL_FAST),
        ("gemini-2.5-pro", mock_gemini_web::MODEL_PRO),
        ("gemini-3-pro-preview", mock_gemini_web::MODEL_PRO),
        ("gemini-3-flash-preview", mock_gemini_web::MODEL_FAST),
        ("gemini-2.0-flash", mock_gemini_web::MODEL_FAST),
        ("gemini-3.1-flash-lite", mock_gemini_web::MODEL_LITE),
    ] {
        let completion = gateway.chat_ok(&user_request(name, "hi", false)).await;
        assert_eq!(
            completion["choices"][0]["message"]["content"], DEFAULT_ANSWER,
            "{name}"
        );
        let call = stream_generate_calls(&mock).pop().unwrap();
        assert!(
            call.header("x-goog-ext-525001261-jspb")
                .unwrap()
                .contains(id),
            "{name}"
        );
    }
}

#[tokio::test]
async fn unknown_models_are_404_and_stale_ids_502() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    // Routed to the plugin by `gemini-*`, but no model it knows.
    let (status, _, body) = failure(&gateway, &user_request("gemini-ultra", "hi", false)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(stream_generate_calls(&mock).is_empty());

    // A model id the upstream no longer knows: in-band code 1052, which is
    // also what an outdated request structure gets.
    let stale = gateway_with(
        &mock,
        &[web()],
        r#"model-overrides = "gemini-3-pro=0123456789abcdef""#,
    );
    let (status, _, body) = failure(&stale, &user_request("gemini-3-pro", "hi", true)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1052") && message.contains("model-overrides"),
        "{message}"
    );
}

#[tokio::test]
async fn an_ip_block_on_the_page_is_429() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    mock.set_app_status(Some(429));
    let (status, retry_after, body) =
        failure(&gateway, &user_request("gemini-3-flash", "hi", false)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        retry_after,
        Some(600),
        "no hint: the pool's rate-limit cooldown"
    );
    mock.set_app_status(None);
    // The account rests until then, unless an operator resets it.
    let (status, _, _) = failure(&gateway, &user_request("gemini-3-flash", "hi", false)).await;
    assert_eq!(status, 429);
    gateway.reset_accounts().await;
    gateway
        .chat_ok(&user_request("gemini-3-flash", "hi", false))
        .await;
}

// ---- images -------------------------------------------------------------------

#[tokio::test]
async fn a_generated_image_reaches_the_client_as_a_markdown_data_url() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let image = format!(
        "![image](data:image/png;base64,{})",
        base64::engine::general_purpose::STANDARD.encode(MOCK_PNG)
    );
    let completion = gateway
        .chat_ok(&user_request(
            "gemini-3-pro",
            "Please generate an image of a cat",
            false,
        ))
        .await;
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert!(content.starts_with("Here is the image"), "{content}");
    assert!(content.contains(&image), "{content}");
    assert!(
        !content.contains("googleusercontent.com") && !content.contains("/mock-img/"),
        "no placeholder or upstream URL: {content}"
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    // Downloaded full size (c8o8Fe and its download chain), with the
    // account's cookies.
    let original = mock
        .requests_to("=d-I")
        .pop()
        .expect("the original's download");
    assert_eq!(
        original.cookie("__Secure-1PSID").as_deref(),
        Some(DEFAULT_PSID)
    );
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path.starts_with("/mock-final/")),
        "the chain ends at the final URL"
    );

    let (status, frames) = stream(
        &gateway,
        &user_request("gemini-3-pro", "Please generate an image of a cat", true),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        frames
            .iter()
            .any(|f| f["choices"][0]["delta"]["content"] == image.as_str()),
        "the image is one content delta: {frames:?}"
    );
    assert!(streamed_text(&frames).starts_with("Here is the image"));
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn an_inline_image_from_the_client_is_uploaded_and_referenced() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let png = base64::engine::general_purpose::STANDARD.encode(MOCK_PNG);
    let body = json!({"model": "gemini-3-flash", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
    ]}]});
    let completion = gateway.chat_ok(&body).await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        DEFAULT_ANSWER
    );

    let uploads = mock.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].data, MOCK_PNG, "the bytes arrived intact");
    assert_eq!(uploads[0].name, "image_1.png");
    let upload = mock.requests_to("/upload").pop().unwrap();
    assert_eq!(upload.header("push-id"), Some(PAGE_PUSH_ID));
    assert_eq!(
        upload.cookie("__Secure-1PSID"),
        None,
        "no Google cookies to the upload host"
    );
    let call = stream_generate_calls(&mock).pop().unwrap();
    let inner = call.inner_request().unwrap();
    assert_eq!(inner[0][3][0][0][0], uploads[0].id.as_str());
    assert_eq!(inner[0][3][0][1], "image_1.png");
    assert!(call.prompt().unwrap().contains("What is in this picture?"));

    // A remote image URL is the client's mistake, not the upstream's.
    let remote = json!({"model": "gemini-3-flash", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    ]}]});
    let (status, _, body) = failure(&gateway, &remote).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(mock.uploads().len(), 1);
}

/// `/v1/models` shows the manifest's (fallback) table: the host does not
/// ask the plugin's `models()`, where the account's discovered list is.
#[tokio::test]
async fn the_plugin_models_are_listed() {
    let mock = mock().await;
    let gateway = gateway(&mock, &[web()]);
    let ids = gateway.model_ids().await;
    for id in ["gemini-3-pro", "gemini-3-flash", "gemini-3-flash-lite"] {
        assert!(ids.iter().any(|i| i == id), "{id} not in {ids:?}");
    }
    // The early-2026 thinking ids are gone (thinking is a level now).
    assert!(!ids.iter().any(|id| id.contains("thinking")), "{ids:?}");
}
