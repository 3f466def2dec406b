//! The plugin's protocol code against the mock upstream, natively: the same
//! flows the component runs, over the SDK's native test host (a real
//! loopback socket instead of `wasi:http`, an in-memory state store). What
//! the host adds (rotation, OpenAI framing) is tested end to end elsewhere.

use std::collections::HashMap;
use std::ops::Deref;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mock_qwen::{
    CnAccount, DEFAULT_BX_UA, DEFAULT_BX_UMIDTOKEN, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF,
    DEFAULT_SESSION_TOKEN, MockOptions, MockUpstream, cn, intl,
};
use plugin_qwen::account::Account;
use plugin_qwen::chat::{self, Answer};
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::native::NativeHost;
use wasmgate_plugin_sdk::{
    ChatRequest, Event, FinishReason, Message, Platform, ProviderError, Role,
};

/// The SDK's native host (one account's state), and the runtime the mock
/// upstream runs on.
struct Native {
    host: Rc<NativeHost>,
    runtime: Runtime,
}

impl Native {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Native {
            host: Rc::new(NativeHost::default()),
            runtime,
        }
    }

    fn mock(&self, options: MockOptions) -> MockUpstream {
        self.runtime.block_on(mock_qwen::spawn(options))
    }
}

impl Deref for Native {
    type Target = NativeHost;

    fn deref(&self) -> &NativeHost {
        &self.host
    }
}

fn tongyi_account(mock: &MockUpstream, cookie: &str, xsrf: &str) -> Account {
    let (cookie, xsrf, base) = (cookie.to_string(), xsrf.to_string(), mock.base_url.clone());
    Account::from_host(
        move |name| match name {
            "cookie" => Some(cookie.clone()),
            "xsrf-token" => Some(xsrf.clone()),
            _ => None,
        },
        move |name| (name == "base-url").then(|| base.clone()),
    )
    .unwrap()
}

/// A chat.qwen.ai account with these secrets, pointed at the mock.
fn qwen_ai_with(mock: &MockUpstream, secrets: &[(&str, &str)]) -> Account {
    let secrets: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let base = mock.base_url.clone();
    Account::from_host(
        move |name| secrets.get(name).cloned(),
        move |name| (name == "base-url").then(|| base.clone()),
    )
    .unwrap()
}

/// A fixed access token plus the browser's anti-bot headers.
fn qwen_ai_account(mock: &MockUpstream, token: &str) -> Account {
    qwen_ai_with(
        mock,
        &[
            ("token", token),
            ("bx-ua", DEFAULT_BX_UA),
            ("bx-umidtoken", DEFAULT_BX_UMIDTOKEN),
        ],
    )
}

/// The long-lived session token plus the anti-bot headers.
fn qwen_ai_session_account(mock: &MockUpstream) -> Account {
    qwen_ai_with(
        mock,
        &[
            ("session-token", DEFAULT_SESSION_TOKEN),
            ("bx-ua", DEFAULT_BX_UA),
            ("bx-umidtoken", DEFAULT_BX_UMIDTOKEN),
        ],
    )
}

fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::text(Role::User, text)], false)
}

/// What an answer added up to.
#[derive(Debug, Default)]
struct Collected {
    text: String,
    reasoning: String,
    text_events: usize,
    usage: Option<(u32, u32)>,
    finish: Option<FinishReason>,
    error: Option<ProviderError>,
}

/// The default mock and its default tongyi account.
fn tongyi_default() -> (Native, MockUpstream, Account) {
    tongyi_with(MockOptions::default())
}

/// A mock with these options and its default tongyi account.
fn tongyi_with(options: MockOptions) -> (Native, MockUpstream, Account) {
    let platform = Native::new();
    let mock = platform.mock(options);
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    (platform, mock, account)
}

/// The default mock and a chat.qwen.ai account with a fresh access token.
fn qwen_ai_default() -> (Native, MockUpstream, Account) {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    (platform, mock, account)
}

/// Every batch of the answer, as the host pulls them.
fn drain(answer: &Answer) -> Collected {
    let mut collected = Collected::default();
    loop {
        let batch = match answer.next_batch() {
            Ok(batch) if batch.is_empty() => return collected,
            Ok(batch) => batch,
            Err(error) => {
                collected.error = Some(error);
                return collected;
            }
        };
        for event in batch {
            match event {
                Event::Text(text) => {
                    collected.text.push_str(&text);
                    collected.text_events += 1;
                }
                Event::Reasoning(text) => collected.reasoning.push_str(&text),
                Event::Usage(usage) => {
                    collected.usage = Some((usage.prompt_tokens, usage.completion_tokens))
                }
                Event::Finish(reason) => collected.finish = Some(reason),
                _ => {}
            }
        }
    }
}

/// Asks `model` one question and reads the whole answer.
fn ask(
    platform: &Native,
    account: &Account,
    model: &str,
    text: &str,
) -> Result<Collected, ProviderError> {
    chat::start(platform.host.clone(), account, &request(model, text)).map(|answer| drain(&answer))
}

const ANSWER: &str = "Hello, I am Qwen. How can I help you today?";

// ---- tongyi ----

#[test]
fn tongyi_snapshots_stream_as_deltas_and_the_session_is_deleted() {
    let (platform, mock, account) = tongyi_default();
    let got = ask(&platform, &account, "qwen-max", "Hello").unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.text, ANSWER);
    assert!(got.text_events >= 3, "one delta per snapshot");
    assert!(matches!(got.finish, Some(FinishReason::Stop)));

    let sent = &mock.requests_to(mock_qwen::cn::CONVERSATION_PATH)[0];
    assert_eq!(sent.header("cookie"), Some(DEFAULT_CN_COOKIE));
    assert_eq!(sent.header("x-xsrf-token"), Some(DEFAULT_CN_XSRF));
    assert_eq!(sent.json().unwrap()["contents"][0]["content"], "Hello");
    assert_eq!(sent.account.as_deref(), Some("cn-1"));
    let deleted = mock.requests_to("/dialog/session/delete");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].json().unwrap()["sessionId"],
        mock_qwen::cn::SESSION_ID
    );
}

#[test]
fn tongyi_crlf_framing_and_heartbeats() {
    let (platform, _mock, account) = tongyi_with(MockOptions {
        crlf: true,
        ..MockOptions::default()
    });
    let got = ask(&platform, &account, "qwen-plus", "Hi #scenario=heartbeat").unwrap();
    assert_eq!(got.text, ANSWER);
    assert!(matches!(got.finish, Some(FinishReason::Stop)));
}

#[test]
fn tongyi_character_split_across_writes_and_cut_snapshot() {
    let (platform, _mock, account) = tongyi_default();
    let got = ask(&platform, &account, "qwen-max", "你好 #scenario=utf8_split").unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.text, mock_qwen::cn::CHINESE_ANSWER);
    assert!(!got.text.contains('\u{FFFD}'));
}

#[test]
fn tongyi_restarted_snapshot_is_emitted_whole() {
    let (platform, _mock, account) = tongyi_default();
    let got = ask(&platform, &account, "qwen-max", "#scenario=reset").unwrap();
    let before_restart = &mock_qwen::cn::snapshots(ANSWER, 4)[1];
    assert_eq!(
        got.text,
        format!("{before_restart}{}{ANSWER}", mock_qwen::cn::RESET_PREFIX)
    );
    assert!(matches!(got.finish, Some(FinishReason::Stop)));
    assert_eq!(
        platform.logs(),
        ["Warn: tongyi restarted its answer 1 time(s)"]
    );
}

#[test]
fn tongyi_expired_or_unknown_cookie_is_unauthorized_at_start() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions {
        cn_accounts: vec![CnAccount::new("old", "tongyi_sso_ticket=old", "x-old").expired()],
        ..MockOptions::default()
    });
    for (cookie, xsrf) in [
        ("tongyi_sso_ticket=old", "x-old"),
        ("tongyi_sso_ticket=nobody", "x"),
    ] {
        let account = tongyi_account(&mock, cookie, xsrf);
        match ask(&platform, &account, "qwen-max", "Hello") {
            Err(ProviderError::Unauthorized(message)) => {
                assert!(message.contains("not logged in"), "{message}");
                assert!(!message.contains(cookie));
            }
            Err(other) => panic!("{other:?}"),
            Ok(got) => panic!("answered {got:?}"),
        }
    }
}

#[test]
fn tongyi_filtered_answer_finishes_with_content_filter() {
    let (platform, mock, account) = tongyi_default();
    let got = ask(&platform, &account, "qwen-max", "#scenario=filtered").unwrap();
    assert_eq!(got.text, ANSWER);
    assert!(
        matches!(got.finish, Some(FinishReason::ContentFilter)),
        "{:?}",
        got.finish
    );

    let refused = ask(&platform, &account, "qwen-max", "#scenario=refused");
    assert!(
        matches!(refused, Err(ProviderError::ContentFiltered(_))),
        "{refused:?}"
    );
    // The answered chat's session is deleted; a refusal at the start leaves
    // its session alone.
    assert_eq!(
        mock.requests_to(plugin_qwen::tongyi::SESSION_DELETE_PATH)
            .len(),
        1
    );
}

#[test]
fn tongyi_failures_are_typed() {
    let (platform, _mock, account) = tongyi_default();

    let got = ask(&platform, &account, "qwen-max", "#scenario=backend_error").unwrap();
    assert!(!got.text.is_empty());
    assert!(got.finish.is_none());
    assert!(
        matches!(&got.error, Some(ProviderError::Upstream(f)) if f.message.contains("SERVICE_ERROR")),
        "{:?}",
        got.error
    );

    let got = ask(&platform, &account, "qwen-max", "#scenario=disconnect").unwrap();
    assert!(!got.text.is_empty());
    assert!(got.finish.is_none());
    assert!(
        matches!(got.error, Some(ProviderError::Upstream(_))),
        "{:?}",
        got.error
    );

    let error = ask(&platform, &account, "qwen-max", "#scenario=http500").unwrap_err();
    assert!(
        matches!(&error, ProviderError::Upstream(f) if f.status == 500 && f.message.contains("InternalError")),
        "{error:?}"
    );

    match ask(&platform, &account, "qwen-max", "#scenario=ratelimit") {
        Err(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(30_000)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_accounts_share_the_load() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions {
        cn_accounts: vec![
            CnAccount::new("cn-1", "tongyi_sso_ticket=one", "x-one"),
            CnAccount::new("cn-2", "tongyi_sso_ticket=two", "x-two"),
        ],
        ..MockOptions::default()
    });
    let token = mock.token("intl-1");
    let accounts = [
        tongyi_account(&mock, "tongyi_sso_ticket=one", "x-one"),
        tongyi_account(&mock, "tongyi_sso_ticket=two", "x-two"),
        qwen_ai_account(&mock, &token),
    ];
    // The host picks the account per request; here, round robin.
    for round in 0..2 {
        for account in &accounts {
            let got = ask(&platform, account, "qwen-max", &format!("round {round}")).unwrap();
            assert_eq!(got.text, ANSWER);
        }
    }
    let used: Vec<_> = mock
        .chat_accounts()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(used, ["cn-1", "cn-2", "intl-1", "cn-1", "cn-2", "intl-1"]);
}

#[test]
fn the_answer_streams_before_the_upstream_finishes() {
    let (platform, mock, account) = tongyi_with(MockOptions {
        hold: true,
        ..MockOptions::default()
    });
    let answer = chat::start(
        platform.host.clone(),
        &account,
        &request("qwen-max", "Hello"),
    )
    .unwrap();
    // The first snapshot is out while the mock holds the rest.
    let first = answer.next_event().unwrap();
    assert!(matches!(first, Some(Event::Text(_))), "{first:?}");

    let released_at = std::thread::scope(|scope| {
        let releaser = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            let at = Instant::now();
            mock.release();
            at
        });
        let second = answer.next_event().unwrap();
        let got_at = Instant::now();
        assert!(matches!(second, Some(Event::Text(_))), "{second:?}");
        let released_at = releaser.join().unwrap();
        assert!(
            got_at >= released_at,
            "the second piece came before the release"
        );
        released_at
    });
    let rest = drain(&answer);
    assert!(matches!(rest.finish, Some(FinishReason::Stop)));
    assert!(released_at.elapsed() < Duration::from_secs(5));
}

// ---- chat.qwen.ai ----

#[test]
fn chat_qwen_ai_increments_stream_with_usage() {
    let (platform, mock, account) = qwen_ai_default();
    let got = ask(&platform, &account, "qwen3-max", "Hello").unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.text, ANSWER);
    assert!(got.reasoning.is_empty());
    assert_eq!(got.usage.map(|u| u.1), Some(4));
    assert!(matches!(got.finish, Some(FinishReason::Stop)));

    let new_chat = &mock.requests_to("/api/v2/chats/new")[0];
    assert!(
        new_chat
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ")
    );
    let completion = &mock.requests_to(mock_qwen::intl::COMPLETIONS_PATH)[0];
    assert_eq!(completion.query.as_deref(), Some("chat_id=chat-1"));
    let body = completion.json().unwrap();
    assert_eq!(body["messages"][0]["content"], "Hello");
    assert_eq!(
        body["messages"][0]["feature_config"]["output_schema"],
        "phase"
    );
    assert_eq!(completion.account.as_deref(), Some("intl-1"));
}

#[test]
fn chat_qwen_ai_thinking_becomes_reasoning() {
    let (platform, _mock, account) = qwen_ai_default();

    let got = ask(&platform, &account, "qwen3-max-thinking", "Hello").unwrap();
    assert_eq!(
        got.reasoning,
        "The user says hello.\nA short, friendly answer fits."
    );
    assert_eq!(got.text, ANSWER);
    assert!(matches!(got.finish, Some(FinishReason::Stop)));

    let got = ask(&platform, &account, "qwen3-max", "#scenario=think").unwrap();
    assert_eq!(got.reasoning, "The user greets me; I should answer kindly.");
    assert_eq!(got.text, ANSWER);
}

#[test]
fn chat_qwen_ai_expired_token_is_unauthorized() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());

    // Expired by its own `exp`: refused before any request.
    let account = qwen_ai_account(&mock, &mock.expired_token("intl-1"));
    match ask(&platform, &account, "qwen3-max", "Hello") {
        Err(ProviderError::Unauthorized(message)) => {
            assert!(message.contains("expired"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.requests().is_empty());

    // Refused by the server.
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    match ask(&platform, &account, "qwen3-max", "Hello #scenario=expired") {
        // A 200 on the wire; the refusal is in `x-actual-status-code`.
        Err(ProviderError::Unauthorized(message)) => {
            assert!(message.contains("Unauthorized"), "{message}");
            assert!(message.contains("session-token"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chat_qwen_ai_failures_are_typed() {
    let (platform, _mock, account) = qwen_ai_default();
    let start = |scenario: &str| {
        ask(
            &platform,
            &account,
            "qwen3-max",
            &format!("hi #scenario={scenario}"),
        )
    };

    match start("ratelimit") {
        Err(ProviderError::RateLimited(info)) => {
            assert_eq!(info.retry_after_ms, Some(2 * 3_600_000))
        }
        other => panic!("{other:?}"),
    }
    // `Retry-After` wins over the body's hours.
    match start("ratelimit_http") {
        Err(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(30_000)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        start("quota"),
        Err(ProviderError::QuotaExhausted(_))
    ));
    match start("waf") {
        Err(ProviderError::RateLimited(info)) => {
            assert!(info.message.contains("human verification"))
        }
        other => panic!("{other:?}"),
    }
    match start("empty") {
        Err(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(60_000)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(start("server_error"), Err(ProviderError::Upstream(f)) if f.status == 500));
    assert!(matches!(start("overload"), Err(ProviderError::Upstream(f)) if f.status == 503));

    let got = start("disconnect").unwrap();
    assert!(!got.text.is_empty());
    assert!(got.finish.is_none());
    assert!(
        matches!(got.error, Some(ProviderError::Upstream(_))),
        "{:?}",
        got.error
    );
}

#[test]
fn chat_qwen_ai_models_come_from_the_live_catalogue_and_are_cached() {
    let (platform, mock, account) = qwen_ai_default();
    let list = || -> Vec<String> {
        chat::list_models(&*platform, &account)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    let ids = list();
    assert_eq!(
        ids[..3],
        ["qwen3.8-max", "qwen3.8-max-thinking", "qwen3.8-max-search"]
    );
    assert!(ids.contains(&"qwen3.7-plus".to_string()));
    assert_eq!(list(), ids);
    assert_eq!(
        mock.requests_to(intl::MODELS_PATH).len(),
        1,
        "the second listing came from the state"
    );

    let tongyi = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let ids: Vec<String> = chat::list_models(&*platform, &tongyi)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(ids.contains(&"qwen-max".to_string()));
}

#[test]
fn chat_qwen_ai_without_a_live_list_falls_back_to_the_dated_table() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    // An expired token: the catalogue cannot be read.
    let account = qwen_ai_account(&mock, &mock.expired_token("intl-1"));
    let ids: Vec<String> = chat::list_models(&*platform, &account)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(ids.contains(&"qwen3.8-max".to_string()), "{ids:?}");
}

/// The model the completion call named.
fn sent_model(mock: &MockUpstream) -> String {
    let calls = mock.requests_to(intl::COMPLETIONS_PATH);
    calls.last().unwrap().json().unwrap()["model"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn chat_qwen_ai_seed_names_map_to_the_live_catalogue() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions {
        intl_models: vec![
            "qwen3.9-max".into(),
            "qwen3.7-plus".into(),
            "qwen3.9-flash".into(),
        ],
        ..MockOptions::default()
    });
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    for (requested, upstream) in [
        ("qwen-max", "qwen3.9-max"),
        ("qwen-max-latest", "qwen3.9-max"),
        ("Qwen3-Max-Preview", "qwen3.9-max"),
        ("qwen-plus", "qwen3.7-plus"),
        ("qwen-turbo", "qwen3.9-flash"),
        ("QWEN3.7-PLUS", "qwen3.7-plus"),
    ] {
        let got = ask(&platform, &account, requested, "Hello").unwrap();
        assert_eq!(got.text, ANSWER, "{requested}");
        assert_eq!(sent_model(&mock), upstream, "{requested}");
    }
    // QwQ was a reasoning model: today's plus, thinking.
    let got = ask(&platform, &account, "qwq-32b", "Hello").unwrap();
    assert_eq!(sent_model(&mock), "qwen3.7-plus");
    assert!(!got.reasoning.is_empty());

    match ask(&platform, &account, "qwen2-nonexistent", "Hello") {
        Err(ProviderError::ModelNotFound(message)) => {
            assert!(message.contains("qwen2-nonexistent"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chat_qwen_ai_moderation_is_a_content_filter() {
    let (platform, _mock, account) = qwen_ai_default();
    match ask(&platform, &account, "qwen3-max", "hi #scenario=inspection") {
        Err(ProviderError::ContentFiltered(message)) => {
            assert!(message.contains("data_inspection_failed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let got = ask(
        &platform,
        &account,
        "qwen3-max",
        "hi #scenario=output_inspection",
    )
    .unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert!(!got.text.is_empty());
    assert!(matches!(got.finish, Some(FinishReason::ContentFilter)));
}

#[test]
fn chat_qwen_ai_session_token_is_traded_for_access_tokens_kept_in_state() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_session_account(&mock);
    for _ in 0..2 {
        let got = ask(&platform, &account, "qwen3-max", "Hello").unwrap();
        assert_eq!(got.text, ANSWER);
    }
    let refreshes = mock.requests_to(intl::REFRESH_PATH);
    assert_eq!(refreshes.len(), 1, "the access token was reused");
    let refresh = &refreshes[0];
    assert_eq!(refresh.method, "GET");
    assert!(
        refresh
            .header("cookie")
            .unwrap()
            .contains(&format!("token={DEFAULT_SESSION_TOKEN}"))
    );
    assert!(refresh.header("x-request-origin").is_some());
    // Every chat call carried the access JWT of the account, and the
    // browser's anti-bot headers.
    for call in mock.requests_to(intl::COMPLETIONS_PATH) {
        assert_eq!(call.account.as_deref(), Some("intl-1"));
        assert_eq!(call.header("bx-ua"), Some(DEFAULT_BX_UA));
        assert_eq!(call.header("bx-umidtoken"), Some(DEFAULT_BX_UMIDTOKEN));
    }

    // Once the access token is gone, the rotated session token is used.
    platform.state_delete("access-token");
    ask(&platform, &account, "qwen3-max", "Hello").unwrap();
    let refreshes = mock.requests_to(intl::REFRESH_PATH);
    assert_eq!(refreshes.len(), 2);
    let cookie = refreshes[1].header("cookie").unwrap().to_string();
    assert!(cookie.contains("token=mock-session-"), "{cookie}");
}

#[test]
fn chat_qwen_ai_a_refused_cached_token_is_renewed_once() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_session_account(&mock);
    // A token the upstream no longer takes (no `exp` the plugin could read).
    platform.state_set("access-token", "revoked-token", Some(600));
    let got = ask(&platform, &account, "qwen3-max", "Hello").unwrap();
    assert_eq!(got.text, ANSWER);
    assert_eq!(mock.requests_to(intl::REFRESH_PATH).len(), 1);
    assert_ne!(
        platform.state_get("access-token").as_deref(),
        Some("revoked-token")
    );
}

#[test]
fn chat_qwen_ai_a_refused_session_token_says_what_to_set() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_with(
        &mock,
        &[
            ("session-token", "signed-out-session"),
            ("bx-ua", DEFAULT_BX_UA),
            ("bx-umidtoken", DEFAULT_BX_UMIDTOKEN),
        ],
    );
    match ask(&platform, &account, "qwen3-max", "Hello") {
        Err(ProviderError::Unauthorized(message)) => {
            assert!(message.contains("`session-token`"), "{message}");
            assert!(!message.contains("signed-out-session"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.requests_to(intl::COMPLETIONS_PATH).is_empty());
}

#[test]
fn chat_qwen_ai_without_browser_material_is_a_challenge_naming_what_to_set() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let bare = qwen_ai_with(&mock, &[("session-token", DEFAULT_SESSION_TOKEN)]);
    match ask(&platform, &bare, "qwen3-max", "Hello") {
        Err(ProviderError::Forbidden(message)) => {
            for name in ["`bx-ua`", "`bx-umidtoken`", "`cookie`", "browser"] {
                assert!(message.contains(name), "{name} in {message}");
            }
        }
        other => panic!("{other:?}"),
    }
    // The browser's cookie jar passes too.
    let platform = Native::new();
    let jar = qwen_ai_with(
        &mock,
        &[
            ("session-token", DEFAULT_SESSION_TOKEN),
            ("cookie", "ssxmod_itna=mock-itna; cna=mock"),
        ],
    );
    let got = ask(&platform, &jar, "qwen3-max", "Hello").unwrap();
    assert_eq!(got.text, ANSWER);
}

#[test]
fn tongyi_deep_thinking_is_switched_by_deep_think_and_streams_reasoning() {
    let (platform, mock, account) = tongyi_default();
    let got = ask(&platform, &account, "qwen-max-thinking", "Hello").unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.reasoning, cn::THOUGHT);
    assert_eq!(got.text, ANSWER);
    let body = mock.requests_to(cn::CONVERSATION_PATH)[0].json().unwrap();
    assert_eq!(body["params"]["deepThink"], true);

    let got = ask(&platform, &account, "qwen-max", "Hello").unwrap();
    assert!(got.reasoning.is_empty());
}

#[test]
fn tongyi_incremental_items_and_a_stream_without_finished_give_the_answer_once() {
    let (platform, _mock, account) = tongyi_default();
    for scenario in ["incremental", "no_finished"] {
        let got = ask(
            &platform,
            &account,
            "qwen-max",
            &format!("#scenario={scenario}"),
        )
        .unwrap();
        assert!(got.error.is_none(), "{scenario}: {:?}", got.error);
        assert_eq!(got.text, ANSWER, "{scenario}");
        assert!(matches!(got.finish, Some(FinishReason::Stop)), "{scenario}");
    }
}

#[test]
fn tongyi_works_with_the_cookie_alone() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let base = mock.base_url.clone();
    let account = Account::from_host(
        |name| (name == "cookie").then(|| DEFAULT_CN_COOKIE.to_string()),
        move |name| (name == "base-url").then(|| base.clone()),
    )
    .unwrap();
    let got = ask(&platform, &account, "qwen-max", "Hello").unwrap();
    assert_eq!(got.text, ANSWER);
    let call = &mock.requests_to(cn::CONVERSATION_PATH)[0];
    assert_eq!(call.header("x-xsrf-token"), None);
}
