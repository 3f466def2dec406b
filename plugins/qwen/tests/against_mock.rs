//! The plugin's protocol code against the mock upstream, natively: the same
//! flows the component runs, over a real socket (hyper) instead of
//! `wasi:http`. What the host adds (rotation, OpenAI framing) is tested
//! end to end elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mock_qwen::{CnAccount, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF, MockOptions, MockUpstream};
use plugin_qwen::account::Account;
use plugin_qwen::chat::{self, Answer};
use plugin_qwen::platform::{Body, HttpRequest, HttpResponse, Method, Platform};
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::{
    ChatRequest, ContentPart, Event, FinishReason, Message, ProviderError, Role, Sampling,
};

/// A blocking platform over hyper, driving a tokio runtime the mock runs on.
struct Native {
    runtime: Arc<Runtime>,
    ids: AtomicU64,
}

impl Native {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Native {
            runtime: Arc::new(runtime),
            ids: AtomicU64::new(0),
        }
    }

    fn mock(&self, options: MockOptions) -> MockUpstream {
        self.runtime.block_on(mock_qwen::spawn(options))
    }
}

impl Platform for Native {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
        let uri: hyper::Uri = request.url.parse().unwrap();
        let authority = uri.authority().unwrap().to_string();
        let response = self.runtime.block_on(async {
            let stream = tokio::net::TcpStream::connect(&authority)
                .await
                .map_err(|e| ProviderError::upstream(0, e.to_string()))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| ProviderError::upstream(0, e.to_string()))?;
            tokio::spawn(connection);
            let mut builder = hyper::Request::builder()
                .method(match request.method {
                    Method::Get => hyper::Method::GET,
                    Method::Post => hyper::Method::POST,
                })
                .uri(uri.path_and_query().unwrap().as_str())
                .header("host", &authority);
            for (name, value) in &request.headers {
                builder = builder.header(
                    name.as_str(),
                    hyper::header::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let outgoing = builder
                .body(Full::new(Bytes::from(request.body.clone())))
                .unwrap();
            sender
                .send_request(outgoing)
                .await
                .map_err(|e| ProviderError::upstream(0, e.to_string()))
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(HttpResponse {
            status: response.status().as_u16(),
            content_type: header("content-type"),
            retry_after: header("retry-after"),
            body: Box::new(NativeBody {
                runtime: self.runtime.clone(),
                body: response.into_body(),
            }),
        })
    }

    fn random_hex32(&self) -> String {
        format!("{:032x}", self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
}

struct NativeBody {
    runtime: Arc<Runtime>,
    body: Incoming,
}

impl Body for NativeBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        loop {
            let frame = self.runtime.block_on(self.body.frame());
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(ProviderError::upstream(0, error.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data.to_vec()));
                    }
                }
            }
        }
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

fn qwen_ai_account(mock: &MockUpstream, token: &str) -> Account {
    let (token, base) = (token.to_string(), mock.base_url.clone());
    Account::from_host(
        move |name| (name == "token").then(|| token.clone()),
        move |name| (name == "base-url").then(|| base.clone()),
    )
    .unwrap()
}

fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![Message {
            role: Role::User,
            content: vec![ContentPart::Text(text.into())],
            name: None,
            tool_calls: vec![],
            tool_call_id: None,
        }],
        sampling: Sampling {
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
        },
        stop: vec![],
        tools: vec![],
        tool_choice: None,
        stream: false,
        extra: None,
    }
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

fn drain(platform: &Native, account: &Account, mut answer: Answer) -> Collected {
    let mut collected = Collected::default();
    loop {
        match answer.next_event(platform, account) {
            Ok(Some(Event::Text(text))) => {
                collected.text.push_str(&text);
                collected.text_events += 1;
            }
            Ok(Some(Event::Reasoning(text))) => collected.reasoning.push_str(&text),
            Ok(Some(Event::Usage(usage))) => {
                collected.usage = Some((usage.prompt_tokens, usage.completion_tokens))
            }
            Ok(Some(Event::Finish(reason))) => collected.finish = Some(reason),
            Ok(Some(_)) => {}
            Ok(None) => return collected,
            Err(error) => {
                collected.error = Some(error);
                return collected;
            }
        }
    }
}

fn chat(
    platform: &Native,
    account: &Account,
    request: &ChatRequest,
) -> Result<Collected, ProviderError> {
    chat::start(platform, account, request).map(|answer| drain(platform, account, answer))
}

const ANSWER: &str = "Hello, I am Qwen. How can I help you today?";

// ---- tongyi ----

#[test]
fn tongyi_snapshots_stream_as_deltas_and_the_session_is_deleted() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let got = chat(&platform, &account, &request("qwen-max", "Hello")).unwrap();
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
    let platform = Native::new();
    let mock = platform.mock(MockOptions {
        crlf: true,
        ..MockOptions::default()
    });
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let got = chat(
        &platform,
        &account,
        &request("qwen-plus", "Hi #scenario=heartbeat"),
    )
    .unwrap();
    assert_eq!(got.text, ANSWER);
    assert!(matches!(got.finish, Some(FinishReason::Stop)));
}

#[test]
fn tongyi_character_split_across_writes_and_cut_snapshot() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let got = chat(
        &platform,
        &account,
        &request("qwen-max", "你好 #scenario=utf8_split"),
    )
    .unwrap();
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.text, mock_qwen::cn::CHINESE_ANSWER);
    assert!(!got.text.contains('\u{FFFD}'));
}

#[test]
fn tongyi_restarted_snapshot_is_emitted_whole() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let got = chat(&platform, &account, &request("qwen-max", "#scenario=reset")).unwrap();
    let before_restart = &mock_qwen::cn::snapshots(ANSWER, 4)[1];
    assert_eq!(
        got.text,
        format!("{before_restart}{}{ANSWER}", mock_qwen::cn::RESET_PREFIX)
    );
    assert!(matches!(got.finish, Some(FinishReason::Stop)));
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
        match chat(&platform, &account, &request("qwen-max", "Hello")) {
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
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let got = chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=filtered"),
    )
    .unwrap();
    assert_eq!(got.text, ANSWER);
    assert!(
        matches!(got.finish, Some(FinishReason::ContentFilter)),
        "{:?}",
        got.finish
    );

    let refused = chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=refused"),
    );
    assert!(
        matches!(refused, Err(ProviderError::ContentFiltered(_))),
        "{refused:?}"
    );
}

#[test]
fn tongyi_failures_are_typed() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);

    let got = chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=backend_error"),
    )
    .unwrap();
    assert!(!got.text.is_empty());
    assert!(got.finish.is_none());
    assert!(
        matches!(&got.error, Some(ProviderError::Upstream(f)) if f.message.contains("SERVICE_ERROR")),
        "{:?}",
        got.error
    );

    let got = chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=disconnect"),
    )
    .unwrap();
    assert!(!got.text.is_empty());
    assert!(got.finish.is_none());
    assert!(
        matches!(got.error, Some(ProviderError::Upstream(_))),
        "{:?}",
        got.error
    );

    let error = chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=http500"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Upstream(f) if f.status == 500 && f.message.contains("InternalError")),
        "{error:?}"
    );

    match chat(
        &platform,
        &account,
        &request("qwen-max", "#scenario=ratelimit"),
    ) {
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
            let got = chat(
                &platform,
                account,
                &request("qwen-max", &format!("round {round}")),
            )
            .unwrap();
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
    let platform = Native::new();
    let mock = platform.mock(MockOptions {
        hold: true,
        ..MockOptions::default()
    });
    let account = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let mut answer = chat::start(&platform, &account, &request("qwen-max", "Hello")).unwrap();
    // The first snapshot is out while the mock holds the rest.
    let first = answer.next_event(&platform, &account).unwrap();
    assert!(matches!(first, Some(Event::Text(_))), "{first:?}");

    let released_at = std::thread::scope(|scope| {
        let releaser = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            let at = Instant::now();
            mock.release();
            at
        });
        let second = answer.next_event(&platform, &account).unwrap();
        let got_at = Instant::now();
        assert!(matches!(second, Some(Event::Text(_))), "{second:?}");
        let released_at = releaser.join().unwrap();
        assert!(
            got_at >= released_at,
            "the second piece came before the release"
        );
        released_at
    });
    let rest = drain(&platform, &account, answer);
    assert!(matches!(rest.finish, Some(FinishReason::Stop)));
    assert!(released_at.elapsed() < Duration::from_secs(5));
}

// ---- chat.qwen.ai ----

#[test]
fn chat_qwen_ai_increments_stream_with_usage() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    let got = chat(&platform, &account, &request("qwen3-max", "Hello")).unwrap();
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
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));

    let got = chat(&platform, &account, &request("qwen3-max-thinking", "Hello")).unwrap();
    assert_eq!(
        got.reasoning,
        "The user says hello.\nA short, friendly answer fits."
    );
    assert_eq!(got.text, ANSWER);
    assert!(matches!(got.finish, Some(FinishReason::Stop)));

    let got = chat(
        &platform,
        &account,
        &request("qwen3-max", "#scenario=think"),
    )
    .unwrap();
    assert_eq!(got.reasoning, "The user greets me; I should answer kindly.");
    assert_eq!(got.text, ANSWER);
}

#[test]
fn chat_qwen_ai_expired_token_is_unauthorized() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());

    // Expired by its own `exp`: refused before any request.
    let account = qwen_ai_account(&mock, &mock.expired_token("intl-1"));
    match chat(&platform, &account, &request("qwen3-max", "Hello")) {
        Err(ProviderError::Unauthorized(message)) => {
            assert!(message.contains("expired"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.requests().is_empty());

    // Refused by the server.
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    match chat(
        &platform,
        &account,
        &request("qwen3-max", "Hello #scenario=expired"),
    ) {
        Err(ProviderError::Unauthorized(message)) => {
            assert!(message.contains("session has expired"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chat_qwen_ai_failures_are_typed() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    let start = |scenario: &str| {
        chat(
            &platform,
            &account,
            &request("qwen3-max", &format!("hi #scenario={scenario}")),
        )
    };

    match start("ratelimit") {
        Err(ProviderError::RateLimited(info)) => {
            assert_eq!(info.retry_after_ms, Some(2 * 3_600_000))
        }
        other => panic!("{other:?}"),
    }
    match start("ratelimit_http") {
        Err(ProviderError::RateLimited(info)) => {
            assert_eq!(info.retry_after_ms, Some(2 * 3_600_000))
        }
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
fn chat_qwen_ai_models_come_from_the_catalogue() {
    let platform = Native::new();
    let mock = platform.mock(MockOptions::default());
    let account = qwen_ai_account(&mock, &mock.token("intl-1"));
    let ids: Vec<String> = chat::list_models(&platform, &account)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["qwen3-max", "qwen3-max-thinking", "qwen3-max-search"]);

    let tongyi = tongyi_account(&mock, DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF);
    let ids: Vec<String> = chat::list_models(&platform, &tongyi)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(ids.contains(&"qwen-max".to_string()));
}
