//! The Qwen web plugin end to end: a real client, the real gateway, the
//! plugin built from source, and a mock of both Qwen sites on loopback
//! (tongyi: cookie + x-xsrf-token, cumulative snapshots; chat.qwen.ai: a JWT,
//! phased increments) that follows `docs/protocols/qwen.md`.
//!
//! The mock picks a scenario from `#scenario=<name>` in the prompt, so most
//! tests only change the user's message.

use std::time::Duration;

use futures::StreamExt;
use mock_qwen::{
    CnAccount, DEFAULT_BX_UA, DEFAULT_BX_UMIDTOKEN, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF,
    DEFAULT_SESSION_TOKEN, MockOptions, MockUpstream, cn, intl,
};
use wasmgate_testkit::{
    Gateway, GatewayBuilder, Value, json, parse_sse, reasoning_comes_first, reqwest, streamed_text,
    user_request,
};
use wasmgate_testkit::{
    bounded_stream as stream, failure, finish_reason, streamed_reasoning as reasoning, text_pieces,
};

/// One account of the gateway's `plugins.toml`, with its secrets.
enum Account {
    /// tongyi: the browser's `Cookie` header and its `x-xsrf-token`.
    Tongyi {
        id: &'static str,
        cookie: String,
        xsrf: String,
    },
    /// chat.qwen.ai: a fixed access JWT, with the browser's anti-bot headers.
    ChatQwenAi { id: &'static str, token: String },
    /// chat.qwen.ai: the long-lived session token, refreshed by the plugin;
    /// `browser_material` adds the anti-bot headers.
    ChatQwenAiSession {
        id: &'static str,
        session: String,
        browser_material: bool,
    },
}

impl Account {
    fn id(&self) -> &'static str {
        match self {
            Account::Tongyi { id, .. }
            | Account::ChatQwenAi { id, .. }
            | Account::ChatQwenAiSession { id, .. } => id,
        }
    }

    /// The secret values, which no answer or log line may contain.
    fn secrets(&self) -> Vec<&str> {
        match self {
            Account::Tongyi { cookie, xsrf, .. } => vec![cookie, xsrf],
            Account::ChatQwenAi { token, .. } => vec![token],
            Account::ChatQwenAiSession { session, .. } => vec![session],
        }
    }
}

fn tongyi(id: &'static str, cookie: &str, xsrf: &str) -> Account {
    Account::Tongyi {
        id,
        cookie: cookie.into(),
        xsrf: xsrf.into(),
    }
}

/// The mock's default tongyi account `cn-1`.
fn default_tongyi() -> Account {
    tongyi("cn-1", DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF)
}

/// A chat.qwen.ai account with a token valid for an hour.
fn chat_qwen_ai(mock: &MockUpstream, id: &'static str) -> Account {
    Account::ChatQwenAi {
        id,
        token: mock.token(id),
    }
}

fn answer() -> String {
    MockOptions::default().answer
}

fn gateway(mock: &MockUpstream, accounts: &[Account]) -> Gateway {
    gateway_with(mock, accounts, 30.0)
}

/// A gateway serving the `qwen` plugin with these accounts, each pointed at
/// the mock by its `base-url` and given the plugin's real secret names.
fn gateway_with(
    mock: &MockUpstream,
    accounts: &[Account],
    first_event_timeout_secs: f64,
) -> Gateway {
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["qwen"])
        .env("API_KEY", "sk-qwen-test-key-0123456789")
        .env("ADMIN_KEY", "admin-qwen-test-key-0123456789");
    let mut config = format!(
        r#"
[runtime]
first-event-timeout-secs = {first_event_timeout_secs:?}

[plugins.qwen]
allowed-hosts = ["api.tongyi.com", "chat.qwen.ai"]
"#
    );
    for (n, account) in accounts.iter().enumerate() {
        let secrets = match account {
            Account::Tongyi { cookie, xsrf, .. } => {
                builder = builder
                    .env(&format!("TEST_QWEN_COOKIE_{n}"), cookie)
                    .env(&format!("TEST_QWEN_XSRF_{n}"), xsrf);
                format!(
                    r#"cookie = {{ env = "TEST_QWEN_COOKIE_{n}" }}, xsrf-token = {{ env = "TEST_QWEN_XSRF_{n}" }}"#
                )
            }
            Account::ChatQwenAi { token, .. } => {
                let material;
                (builder, material) =
                    browser_material(builder.env(&format!("TEST_QWEN_TOKEN_{n}"), token), n);
                format!(r#"token = {{ env = "TEST_QWEN_TOKEN_{n}" }}, {material}"#)
            }
            Account::ChatQwenAiSession {
                session,
                browser_material: with_material,
                ..
            } => {
                builder = builder.env(&format!("TEST_QWEN_SESSION_{n}"), session);
                let session = format!(r#"session-token = {{ env = "TEST_QWEN_SESSION_{n}" }}"#);
                if *with_material {
                    let material;
                    (builder, material) = browser_material(builder, n);
                    format!("{session}, {material}")
                } else {
                    session
                }
            }
        };
        config.push_str(&format!(
            r#"
[[plugins.qwen.accounts]]
id = "{}"
secrets = {{ {secrets} }}
settings = {{ base-url = "{}" }}
"#,
            account.id(),
            mock.base_url
        ));
    }
    config.push_str(
        r#"
[models]
"qwen*" = "qwen"
"Qwen*" = "qwen"
"#,
    );
    builder.config(&config).start()
}

/// The `bx-ua` / `bx-umidtoken` secrets of account `n`, as a browser made them.
fn browser_material(builder: GatewayBuilder, n: usize) -> (GatewayBuilder, String) {
    let builder = builder
        .env(&format!("TEST_QWEN_BX_UA_{n}"), DEFAULT_BX_UA)
        .env(&format!("TEST_QWEN_BX_UMID_{n}"), DEFAULT_BX_UMIDTOKEN);
    let secrets = format!(
        r#"bx-ua = {{ env = "TEST_QWEN_BX_UA_{n}" }}, bx-umidtoken = {{ env = "TEST_QWEN_BX_UMID_{n}" }}"#
    );
    (builder, secrets)
}

fn assert_no_secret(text: &str, accounts: &[Account]) {
    for account in accounts {
        for secret in account.secrets() {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
    // Nor a recognisable piece of one.
    assert!(
        !text.contains("mock-ticket"),
        "a cookie leaked into: {text}"
    );
}

#[tokio::test]
async fn stream_false_gets_one_chat_completion_json() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let response = gateway
        .chat(&user_request("qwen-max", "Say hi", false))
        .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "qwen-max");
    let choice = &completion["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        answer(),
        "the snapshots add up to the answer, once"
    );
    assert_eq!(choice["finish_reason"], "stop");

    // The conversation carried the browser's credentials, and the session it
    // created was deleted afterwards.
    let calls = mock.requests_to(cn::CONVERSATION_PATH);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.account.as_deref(), Some("cn-1"));
    assert_eq!(call.header("x-xsrf-token"), Some(DEFAULT_CN_XSRF));
    assert_eq!(call.header("x-platform"), Some("pc_tongyi"));
    let sent = call.json().unwrap();
    assert!(
        sent["contents"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Say hi")
    );
    let deleted = mock.requests_to("/dialog/session/delete");
    assert_eq!(deleted.len(), 1, "the proxied chat leaves no history");
    assert_eq!(deleted[0].json().unwrap()["sessionId"], cn::SESSION_ID);
}

#[tokio::test]
async fn streaming_gets_sse_chunks_ending_in_done() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let response = gateway
        .chat(&user_request("qwen-max", "Say hi", true))
        .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let frames = parse_sse(&response.text().await.unwrap());
    assert_eq!(frames[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        frames[..frames.len() - 1]
            .iter()
            .all(|f| f["object"] == "chat.completion.chunk"),
        "{frames:?}"
    );
    assert_eq!(streamed_text(&frames), answer());
    assert!(
        text_pieces(&frames) >= 2,
        "one delta per snapshot, not one blob: {frames:?}"
    );
    assert_eq!(finish_reason(&frames), Some("stop"));
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn the_first_chunk_reaches_the_client_before_the_upstream_releases_the_rest() {
    let mock = mock_qwen::spawn(MockOptions {
        hold: true,
        ..MockOptions::default()
    })
    .await;
    // tongyi's flow: tests/conformance.rs.
    for (account, model) in [(chat_qwen_ai(&mock, "intl-1"), "qwen3-max")] {
        let flow = account.id();
        mock.hold();
        let gateway = gateway(&mock, &[account]);
        let response = gateway
            .chat(&user_request(model, "streaming matters", true))
            .await;
        assert_eq!(response.status(), 200, "{flow}");
        let mut body = response.bytes_stream();
        let mut received = String::new();
        // Read until the first piece of the answer has reached us...
        while streamed_text(&parse_sse(&received)).is_empty() {
            let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("{flow}: the first chunk arrives while the rest is held")
                })
                .expect("the stream is open")
                .unwrap();
            received.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        // ...while the upstream still holds the rest of it (it pauses a few
        // milliseconds after the first piece before it reaches its hold point).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while mock.held() == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(mock.held(), 1, "{flow}: the upstream has not sent the rest");
        let so_far = streamed_text(&parse_sse(&received));
        assert!(
            so_far.len() < answer().len() && answer().starts_with(&so_far),
            "{flow}: only the first piece so far: {so_far:?}"
        );
        mock.release();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("the rest follows the release")
        {
            received.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        let frames = parse_sse(&received);
        assert_eq!(streamed_text(&frames), answer(), "{flow}");
        assert_eq!(frames.last().unwrap(), "[DONE]", "{flow}");
    }
}

#[tokio::test]
async fn characters_split_across_snapshots_and_reads_arrive_whole() {
    // The `utf8_split` answer is Chinese: one snapshot is cut inside a
    // character (the server shows U+FFFD), and one event reaches the plugin
    // in two reads split inside a character. With CRLF framing too.
    for crlf in [false, true] {
        let mock = mock_qwen::spawn(MockOptions {
            crlf,
            ..MockOptions::default()
        })
        .await;
        let gateway = gateway(&mock, &[default_tongyi()]);
        let prompt = "你好 #scenario=utf8_split";
        let (status, frames) = stream(&gateway, &user_request("qwen-max", prompt, true)).await;
        assert_eq!(status, 200, "crlf {crlf}");
        let streamed = streamed_text(&frames);
        assert_eq!(streamed, cn::CHINESE_ANSWER, "crlf {crlf}: exactly, once");
        assert!(!streamed.contains('\u{FFFD}'), "crlf {crlf}");
        assert!(text_pieces(&frames) >= 3, "crlf {crlf}: {frames:?}");
        assert_eq!(frames.last().unwrap(), "[DONE]");

        let completion = gateway
            .chat_ok(&user_request("qwen-max", prompt, false))
            .await;
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            cn::CHINESE_ANSWER,
            "crlf {crlf}: the streamed text equals the final answer"
        );

        // Heartbeats between snapshots are not text.
        let (_, frames) = stream(
            &gateway,
            &user_request("qwen-max", "hi #scenario=heartbeat", true),
        )
        .await;
        assert_eq!(streamed_text(&frames), answer(), "crlf {crlf}");
    }
}

#[tokio::test]
async fn a_restarted_snapshot_is_sent_whole_after_what_was_already_streamed() {
    // The plugin documents (snapshot.rs): a snapshot that does not extend the
    // text so far means tongyi restarted its answer; streamed text cannot be
    // taken back, so the new text is emitted whole and becomes the new base.
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let before_restart = cn::snapshots(&answer(), 4)[1].clone();
    let expected = format!("{before_restart}{}{}", cn::RESET_PREFIX, answer());

    let (status, frames) =
        stream(&gateway, &user_request("qwen-max", "#scenario=reset", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), expected);
    assert_eq!(finish_reason(&frames), Some("stop"));
    assert_eq!(frames.last().unwrap(), "[DONE]");

    let completion = gateway
        .chat_ok(&user_request("qwen-max", "#scenario=reset", false))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"], expected,
        "the non-streamed answer is the same text"
    );
    assert!(
        gateway
            .logs()
            .contains("tongyi restarted its answer 1 time(s)"),
        "the restart is logged:\n{}",
        gateway.logs()
    );
}

#[tokio::test]
async fn chat_qwen_ai_thinking_summaries_become_reasoning_content() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1")]);
    let mut body = user_request("qwen3-max-thinking", "Hello", true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, frames) = stream(&gateway, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        reasoning(&frames),
        "The user says hello.\nA short, friendly answer fits.",
        "the cumulative summaries are diffed"
    );
    assert_eq!(streamed_text(&frames), answer());
    // The thinking phase comes first; its own `finished` does not end the answer.
    assert!(reasoning_comes_first(&frames), "{frames:?}");
    assert_eq!(finish_reason(&frames), Some("stop"));
    let usage = &frames[frames.len() - 2]["usage"];
    assert!(usage["total_tokens"].as_u64().unwrap() > 0, "{usage}");

    // The plugin asked for phases and thinking.
    let sent = mock.requests_to(mock_qwen::intl::COMPLETIONS_PATH)[0]
        .json()
        .unwrap();
    let features = &sent["messages"][0]["feature_config"];
    assert_eq!(features["output_schema"], "phase");
    assert_eq!(features["thinking_enabled"], true);
    assert_eq!(sent["model"], "qwen3-max");

    let completion = gateway
        .chat_ok(&user_request("qwen3-max-thinking", "Hello", false))
        .await;
    let message = &completion["choices"][0]["message"];
    assert_eq!(
        message["reasoning_content"],
        "The user says hello.\nA short, friendly answer fits."
    );
    assert_eq!(message["content"], answer());
}

#[tokio::test]
async fn chat_qwen_ai_think_phase_becomes_reasoning_and_answer_phase_content() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1")]);
    let (status, frames) = stream(
        &gateway,
        &user_request("qwen3-max", "Hello #scenario=think", true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        reasoning(&frames),
        "The user greets me; I should answer kindly."
    );
    assert_eq!(streamed_text(&frames), answer());
    assert!(
        !streamed_text(&frames).contains("greets"),
        "thinking never leaks into content"
    );
    assert_eq!(frames.last().unwrap(), "[DONE]");

    // Without thinking, there is no reasoning at all.
    let completion = gateway
        .chat_ok(&user_request("qwen3-max", "Hello", false))
        .await;
    let message = &completion["choices"][0]["message"];
    assert_eq!(message["content"], answer());
    assert!(message.get("reasoning_content").is_none_or(Value::is_null));
}

#[tokio::test]
async fn two_tongyi_accounts_share_the_load() {
    let mock = mock_qwen::spawn(MockOptions {
        cn_accounts: vec![
            CnAccount::new("cn-a", "tongyi_sso_ticket=ticket-a; t=aaaa", "xsrf-a"),
            CnAccount::new("cn-b", "tongyi_sso_ticket=ticket-b; t=bbbb", "xsrf-b"),
        ],
        ..MockOptions::default()
    })
    .await;
    let gateway = gateway(
        &mock,
        &[
            tongyi("cn-a", "tongyi_sso_ticket=ticket-a; t=aaaa", "xsrf-a"),
            tongyi("cn-b", "tongyi_sso_ticket=ticket-b; t=bbbb", "xsrf-b"),
        ],
    );
    for n in 0..4 {
        let completion = gateway
            .chat_ok(&user_request("qwen-plus", &format!("request {n}"), false))
            .await;
        assert_eq!(completion["choices"][0]["message"]["content"], answer());
    }
    let accounts = mock.chat_accounts();
    let served = |id: &str| accounts.iter().filter(|a| a.as_deref() == Some(id)).count();
    assert_eq!(
        accounts.len(),
        4,
        "one upstream call per request: {accounts:?}"
    );
    assert_eq!(
        (served("cn-a"), served("cn-b")),
        (2, 2),
        "round-robin over both accounts: {accounts:?}"
    );
    // Each call carried its own account's token with its own cookie.
    for call in mock.requests_to(cn::CONVERSATION_PATH) {
        let expected = match call.account.as_deref() {
            Some("cn-a") => "xsrf-a",
            _ => "xsrf-b",
        };
        assert_eq!(call.header("x-xsrf-token"), Some(expected));
    }
}

#[tokio::test]
async fn an_expired_cookie_is_a_502_saying_what_to_refresh() {
    let cookie_a = "tongyi_sso_ticket=mock-ticket-old-a; t=0a0a";
    let cookie_b = "tongyi_sso_ticket=mock-ticket-old-b; t=0b0b";
    let mock = mock_qwen::spawn(MockOptions {
        cn_accounts: vec![
            CnAccount::new("old-a", cookie_a, "xsrf-old-a").expired(),
            CnAccount::new("old-b", cookie_b, "xsrf-old-b").expired(),
        ],
        ..MockOptions::default()
    })
    .await;
    let accounts = [
        tongyi("old-a", cookie_a, "xsrf-old-a"),
        tongyi("old-b", cookie_b, "xsrf-old-b"),
    ];
    let gateway = gateway(&mock, &accounts);
    for stream in [false, true] {
        let (status, _, body) = failure(&gateway, &user_request("qwen-max", "x", stream)).await;
        assert_eq!(status, 502, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "upstream_unauthorized");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("fresh cookie and x-xsrf-token"),
            "tells the user what to refresh: {message}"
        );
        // The host names the accounts it tried, or counts them.
        assert!(
            (message.contains("old-a") && message.contains("old-b"))
                || message.contains("2 accounts"),
            "after every account was tried: {message}"
        );
        assert_no_secret(&body.to_string(), &accounts);
        // Both accounts are broken now; an operator who refreshed nothing
        // resets them to show the same on the other kind of request.
        gateway.reset_accounts().await;
    }
    let tried = mock.chat_accounts();
    assert_eq!(tried.len(), 4, "{tried:?}");
    assert!(tried.contains(&Some("old-a".into())) && tried.contains(&Some("old-b".into())));
    assert_no_secret(&gateway.logs(), &accounts);
}

#[tokio::test]
async fn an_expired_token_is_a_502_saying_what_to_refresh() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;

    // A JWT whose `exp` has passed is refused before any request is spent.
    let expired = [Account::ChatQwenAi {
        id: "intl-old",
        token: mock.expired_token("intl-old"),
    }];
    let gateway = gateway(&mock, &expired);
    let (status, _, body) = failure(&gateway, &user_request("qwen3-max", "x", true)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("expired") && message.contains("copy a fresh `token`"),
        "{message}"
    );
    assert_no_secret(&body.to_string(), &expired);
    assert!(mock.requests().is_empty(), "nothing was sent upstream");
    assert_no_secret(&gateway.logs(), &expired);

    // A token the server no longer accepts (401 "Your session has expired").
    let live = [chat_qwen_ai(&mock, "intl-1")];
    let gateway = self::gateway(&mock, &live);
    let (status, _, body) = failure(
        &gateway,
        &user_request("qwen3-max", "Hello #scenario=expired", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("copy a fresh `token`"), "{message}");
    assert_no_secret(&body.to_string(), &live);
}

#[tokio::test]
async fn an_expired_account_hands_over_to_a_live_one() {
    let stale = "tongyi_sso_ticket=mock-ticket-stale; t=5555";
    let mock = mock_qwen::spawn(MockOptions {
        cn_accounts: vec![
            CnAccount::new("stale", stale, "xsrf-stale").expired(),
            CnAccount::new("cn-1", DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF),
        ],
        ..MockOptions::default()
    })
    .await;
    let gateway = gateway(
        &mock,
        &[tongyi("stale", stale, "xsrf-stale"), default_tongyi()],
    );
    let (status, frames) = stream(&gateway, &user_request("qwen-max", "hi", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), answer());
    assert_eq!(
        mock.chat_accounts(),
        [Some("stale".to_string()), Some("cn-1".to_string())],
        "the first request tries the stale account first, before anything is sent"
    );
}

#[tokio::test]
async fn a_filtered_answer_ends_with_finish_reason_content_filter() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let (status, frames) = stream(
        &gateway,
        &user_request("qwen-max", "#scenario=filtered", true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), answer(), "what was said stays said");
    assert_eq!(finish_reason(&frames), Some("content_filter"));
    assert_eq!(frames.last().unwrap(), "[DONE]");

    let completion = gateway
        .chat_ok(&user_request("qwen-max", "#scenario=filtered", false))
        .await;
    assert_eq!(completion["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(completion["choices"][0]["message"]["content"], answer());
}

#[tokio::test]
async fn a_refused_prompt_is_400_content_filter_and_no_other_account_is_tried() {
    let mock = mock_qwen::spawn(MockOptions {
        cn_accounts: vec![
            CnAccount::new("cn-1", DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF),
            CnAccount::new("cn-2", "tongyi_sso_ticket=ticket-2; t=2222", "xsrf-2"),
        ],
        ..MockOptions::default()
    })
    .await;
    let gateway = gateway(
        &mock,
        &[
            default_tongyi(),
            tongyi("cn-2", "tongyi_sso_ticket=ticket-2; t=2222", "xsrf-2"),
        ],
    );
    for stream in [false, true] {
        let (status, _, body) = failure(
            &gateway,
            &user_request("qwen-max", "#scenario=refused", stream),
        )
        .await;
        assert_eq!(status, 400, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "content_filter");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("content filter"),
            "{body}"
        );
    }
    assert_eq!(
        mock.chat_accounts().len(),
        2,
        "the prompt is the problem, not the account: one call per request"
    );
}

#[tokio::test]
async fn every_account_rate_limited_is_429_with_retry_after() {
    let mock = mock_qwen::spawn(MockOptions {
        cn_accounts: vec![
            CnAccount::new("cn-1", DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF),
            CnAccount::new("cn-2", "tongyi_sso_ticket=ticket-2; t=2222", "xsrf-2"),
        ],
        ..MockOptions::default()
    })
    .await;
    let gateway = gateway(
        &mock,
        &[
            default_tongyi(),
            tongyi("cn-2", "tongyi_sso_ticket=ticket-2; t=2222", "xsrf-2"),
        ],
    );
    let (status, retry_after, body) = failure(
        &gateway,
        &user_request("qwen-max", "#scenario=ratelimit", true),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after, Some(30), "tongyi's Retry-After: 30");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let tried = mock.chat_accounts();
    assert_eq!(
        tried,
        [Some("cn-1".to_string()), Some("cn-2".to_string())],
        "both accounts were tried"
    );
}

#[tokio::test]
async fn chat_qwen_ai_limits_inside_a_200_stream_are_429_too() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1")]);
    // (scenario, Retry-After): `num: 2` hours in the rate-limit object (the
    // HTTP 429's own `Retry-After: 30` wins over it); a WAF page rests the
    // account without a hint (the pool's rate-limit cooldown, 600 s); an
    // empty stream for the plugin's own 60 s.
    for (scenario, retry) in [
        ("ratelimit", 7_200),
        ("ratelimit_http", 30),
        ("waf", 600),
        ("empty", 60),
    ] {
        let (status, retry_after, body) = failure(
            &gateway,
            &user_request("qwen3-max", &format!("hi #scenario={scenario}"), true),
        )
        .await;
        assert_eq!(status, 429, "{scenario}: {body}");
        assert_eq!(retry_after, Some(retry), "{scenario}");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{scenario}");
        gateway.reset_accounts().await;
    }
    let (status, _, body) = failure(
        &gateway,
        &user_request("qwen3-max", "hi #scenario=waf", false),
    )
    .await;
    assert_eq!(status, 429);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("human verification"), "{message}");
    assert!(!message.contains('<'), "no HTML quoted: {message}");
}

#[tokio::test]
async fn a_limited_account_hands_over_to_the_next_before_anything_is_sent() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    // `ratelimit_http` is a chat.qwen.ai scenario; tongyi answers normally.
    let gateway = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1"), default_tongyi()]);
    let (status, frames) = stream(
        &gateway,
        &user_request("qwen-max", "hi #scenario=ratelimit_http", true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), answer());
    assert_eq!(
        mock.chat_accounts(),
        [Some("intl-1".to_string()), Some("cn-1".to_string())]
    );
    // The chat.qwen.ai account got the model under today's name (the live
    // catalogue's newest max).
    let sent = mock.requests_to(mock_qwen::intl::COMPLETIONS_PATH)[0]
        .json()
        .unwrap();
    assert_eq!(sent["model"], "qwen3.8-max");
}

#[tokio::test]
async fn exhausted_quota_is_429_insufficient_quota() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1")]);
    let (status, retry_after, body) = failure(
        &gateway,
        &user_request("qwen3-max", "hi #scenario=quota", false),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert!(retry_after.is_some(), "every account is limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Allocated quota exceeded"),
        "{body}"
    );
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_frame_not_a_hang() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let tongyi = gateway(&mock, &[default_tongyi()]);
    let intl = gateway(&mock, &[chat_qwen_ai(&mock, "intl-1")]);
    for (gateway, model, scenario) in [
        (&tongyi, "qwen-max", "disconnect"),
        (&tongyi, "qwen-max", "backend_error"),
        (&intl, "qwen3-max", "disconnect"),
    ] {
        let prompt = format!("partial #scenario={scenario}");
        let (status, frames) = stream(gateway, &user_request(model, &prompt, true)).await;
        assert_eq!(status, 200, "{scenario}");
        let text = streamed_text(&frames);
        assert!(
            !text.is_empty() && answer().starts_with(&text) && text != answer(),
            "{model} {scenario}: the first pieces arrived: {text:?}"
        );
        let last = frames.last().unwrap();
        assert!(
            last["error"]["message"].as_str().is_some(),
            "{model} {scenario}: ends with an error frame: {last}"
        );
        assert!(!frames.iter().any(|f| f == "[DONE]"), "{scenario}");
        assert_eq!(finish_reason(&frames), None, "{scenario}: no clean finish");

        // Not streamed, the same failure is an error status, not a short answer.
        let (status, _, body) = failure(gateway, &user_request(model, &prompt, false)).await;
        assert_eq!(status, 502, "{model} {scenario}: {body}");
    }
}

#[tokio::test]
async fn upstream_failures_are_502_and_a_silent_upstream_504() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let tongyi = gateway(&mock, &[default_tongyi()]);
    let (status, _, body) = failure(
        &tongyi,
        &user_request("qwen-max", "#scenario=http500", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("InternalError"),
        "{body}"
    );

    let intl = gateway_with(&mock, &[chat_qwen_ai(&mock, "intl-1")], 3.0);
    for scenario in ["server_error", "overload"] {
        let (status, _, body) = failure(
            &intl,
            &user_request("qwen3-max", &format!("#scenario={scenario}"), true),
        )
        .await;
        assert_eq!(status, 502, "{scenario}: {body}");
        assert_eq!(body["error"]["code"], "upstream_error");
    }
    // `slow`: the stream opens, then nothing for 10 s.
    let (status, _, body) =
        failure(&intl, &user_request("qwen3-max", "#scenario=slow", true)).await;
    assert_eq!(status, 504, "{body}");
    // Three upstream failures in a row: the account's breaker is open.
    let (status, _, body) = failure(&intl, &user_request("qwen3-max", "hi", false)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "no_healthy_account");
    // And the gateway is fine once it is reset.
    intl.reset_accounts().await;
    let completion = intl
        .chat_ok(&user_request("qwen3-max", "still here", false))
        .await;
    assert_eq!(completion["choices"][0]["message"]["content"], answer());
}

#[tokio::test]
async fn a_request_the_plugin_cannot_serve_is_400_without_calling_upstream() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]);
    let (status, _, body) = failure(
        &gateway,
        &json!({"model": "qwen-max", "tools": tools, "tool_choice": "required",
            "messages": [{"role": "user", "content": "Weather?"}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot call tools"),
        "{body}"
    );
    assert!(mock.chat_accounts().is_empty());
}

#[tokio::test]
async fn the_plugin_models_are_listed() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let ids = gateway.model_ids().await;
    assert!(
        ids.iter().any(|i| i == "qwen-max") && ids.iter().any(|i| i == "qwen3.8-max"),
        "{ids:?}"
    );
}

/// `GET /admin/api/accounts`: the qwen account `id`'s view.
async fn account_view(gateway: &Gateway, id: &str) -> Value {
    let pools: Value = gateway
        .admin(reqwest::Method::GET, "/admin/api/accounts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    pools["qwen"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no account {id} in {pools}"))
}

#[tokio::test]
async fn a_moderation_refusal_is_400_content_filter_and_the_account_stays_healthy() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let accounts = [chat_qwen_ai(&mock, "intl-1")];
    let gateway = gateway(&mock, &accounts);
    for stream in [false, true] {
        let (status, _, body) = failure(
            &gateway,
            &user_request("qwen3-max", "#scenario=inspection", stream),
        )
        .await;
        assert_eq!(status, 400, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "content_filter", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("data_inspection_failed"),
            "{body}"
        );
    }
    // The only account answers the next request: nothing was held against it.
    let completion = gateway
        .chat_ok(&user_request("qwen3-max", "Hello", false))
        .await;
    assert_eq!(completion["choices"][0]["message"]["content"], answer());
    let view = account_view(&gateway, "intl-1").await;
    assert_eq!(view["state"], "healthy", "{view}");
    assert_eq!(view["failures"], 0, "{view}");
    assert_eq!(view["consecutive_failures"], 0, "{view}");

    // Moderation stopping the answer midway ends it as filtered.
    let completion = gateway
        .chat_ok(&user_request(
            "qwen3-max",
            "#scenario=output_inspection",
            false,
        ))
        .await;
    assert_eq!(completion["choices"][0]["finish_reason"], "content_filter");
    assert_no_secret(&gateway.logs(), &accounts);
}

#[tokio::test]
async fn a_session_token_is_refreshed_through_the_accounts_base_url_and_reused() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let accounts = [Account::ChatQwenAiSession {
        id: "intl-1",
        session: DEFAULT_SESSION_TOKEN.into(),
        browser_material: true,
    }];
    let gateway = gateway(&mock, &accounts);
    for n in 0..2 {
        let completion = gateway
            .chat_ok(&user_request("qwen-max", &format!("request {n}"), false))
            .await;
        assert_eq!(completion["choices"][0]["message"]["content"], answer());
    }
    let (status, frames) = stream(&gateway, &user_request("qwen-max", "streamed", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), answer());
    assert_eq!(
        mock.requests_to(intl::REFRESH_PATH).len(),
        1,
        "the access token lives in the account's state between requests"
    );
    let calls = mock.requests_to(intl::COMPLETIONS_PATH);
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_eq!(call.account.as_deref(), Some("intl-1"));
        // `qwen-max` is today's max of the live catalogue.
        assert_eq!(call.json().unwrap()["model"], "qwen3.8-max");
    }
    assert_no_secret(&gateway.logs(), &accounts);
}

#[tokio::test]
async fn chat_qwen_ai_without_browser_material_says_what_to_set() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let accounts = [Account::ChatQwenAiSession {
        id: "intl-bare",
        session: DEFAULT_SESSION_TOKEN.into(),
        browser_material: false,
    }];
    let gateway = gateway(&mock, &accounts);
    let (status, _, body) = failure(&gateway, &user_request("qwen3-max", "Hello", false)).await;
    assert_ne!(status, 200, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for needed in ["`bx-ua`", "`bx-umidtoken`", "`cookie`", "Without a browser"] {
        assert!(message.contains(needed), "{needed} in {message}");
    }
    assert_no_secret(&body.to_string(), &accounts);
}

#[tokio::test]
async fn tongyi_deep_thinking_streams_reasoning_content() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    let (status, frames) =
        stream(&gateway, &user_request("qwen-max-thinking", "Hello", true)).await;
    assert_eq!(status, 200);
    assert_eq!(reasoning(&frames), cn::THOUGHT);
    assert_eq!(streamed_text(&frames), answer());
    let sent = mock.requests_to(cn::CONVERSATION_PATH)[0].json().unwrap();
    assert_eq!(sent["params"]["deepThink"], true);
}

#[tokio::test]
async fn tongyi_incremental_items_and_an_unfinished_clean_end_give_the_whole_answer() {
    let mock = mock_qwen::spawn(MockOptions::default()).await;
    let gateway = gateway(&mock, &[default_tongyi()]);
    for scenario in ["incremental", "no_finished"] {
        let completion = gateway
            .chat_ok(&user_request(
                "qwen-max",
                &format!("#scenario={scenario}"),
                false,
            ))
            .await;
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            answer(),
            "{scenario}"
        );
        assert_eq!(
            completion["choices"][0]["finish_reason"], "stop",
            "{scenario}"
        );
    }
}
