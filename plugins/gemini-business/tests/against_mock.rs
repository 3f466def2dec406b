//! The plugin's whole flow, run natively against the mock upstream (not
//! through the gateway): JWT caching and refresh, streamed parsing at every
//! byte boundary, images, ACCOUNTS_CONFIG, expiry, typed refusals.

use std::time::Duration;

use mock_gemini_business::{
    GENERATED_PNG, MockAccount, MockOptions, MockUpstream, TRICKY_PARTS, spawn,
};
use plugin_gemini_business::chat;
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::http::Request;
use wasmgate_plugin_sdk::native::NativeHost;
use wasmgate_plugin_sdk::{
    ChatRequest, ContentPart, Event, FinishReason, Media, Message, Platform, ProviderError, Role,
};

struct Setup {
    /// Runs the mock upstream.
    _runtime: Runtime,
    mock: MockUpstream,
}

fn setup(options: MockOptions) -> Setup {
    let runtime = Runtime::new().expect("tokio runtime");
    let mock = runtime.block_on(spawn(options));
    Setup {
        _runtime: runtime,
        mock,
    }
}

impl Setup {
    /// One gateway account pointed at the mock by `base-url` alone (it
    /// routes the sign-in too), with no secrets yet. Its state lives as long
    /// as the host, as the gateway keeps state per account.
    fn host(&self) -> NativeHost {
        NativeHost::default().with_setting("base-url", &self.mock.base_url)
    }

    /// An account with the per-variable secrets of mock account `index`.
    fn account_host(&self, index: usize) -> NativeHost {
        let account = self.mock.account(index);
        let host = self
            .host()
            .with_secret("secure-c-ses", &account.secure_c_ses)
            .with_secret("csesidx", &account.csesidx)
            .with_secret("config-id", &account.config_id);
        if let Some(oses) = &account.host_c_oses {
            host.set_secret("host-c-oses", oses);
        }
        host
    }

    fn chat(&self, host: &NativeHost, model: &str, prompt: &str) -> Result<Outcome, ProviderError> {
        run(host, &request(model, prompt))
    }

    /// A chat that must finish normally.
    fn answered(&self, host: &NativeHost, model: &str, prompt: &str) -> Outcome {
        let outcome = self.chat(host, model, prompt).unwrap();
        assert!(
            finished(&outcome),
            "{model} {prompt:?}: {:?}",
            outcome.error
        );
        outcome
    }

    /// Asks the image model; the answer must finish with the mock's
    /// generated PNG in it.
    fn draw(&self, host: &NativeHost, prompt: &str) {
        assert!(
            self.answered(host, "gemini-imagen", prompt)
                .has_generated_image()
        );
    }
}

fn user_message(parts: Vec<ContentPart>) -> Message {
    Message::new(Role::User, parts)
}

fn request(model: &str, prompt: &str) -> ChatRequest {
    request_with(model, vec![Message::text(Role::User, prompt)])
}

fn request_with(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new(model, messages, true)
}

/// What a chat produced, in the order it came, and the error that ended it,
/// if any.
#[derive(Default)]
struct Outcome {
    text: String,
    reasoning: String,
    images: Vec<Media>,
    /// The last event.
    last: Option<Event>,
    error: Option<ProviderError>,
}

impl Outcome {
    fn add(&mut self, event: Event) {
        match &event {
            Event::Text(text) => self.text.push_str(text),
            Event::Reasoning(text) => self.reasoning.push_str(text),
            Event::Image(media) => self.images.push(media.clone()),
            _ => {}
        }
        self.last = Some(event);
    }

    /// Whether the mock's generated PNG reached the client.
    fn has_generated_image(&self) -> bool {
        self.images.iter().any(|m| m.data == GENERATED_PNG)
    }
}

/// Runs a chat to its end, batch by batch as the host pulls; `Err` when
/// `chat` itself refused.
fn run(host: &NativeHost, request: &ChatRequest) -> Result<Outcome, ProviderError> {
    let answer = chat::start(host, request)?;
    let mut outcome = Outcome::default();
    loop {
        match answer.next_batch() {
            Ok(batch) if batch.is_empty() => return Ok(outcome),
            Ok(batch) => batch.into_iter().for_each(|event| outcome.add(event)),
            Err(err) => {
                outcome.error = Some(err);
                return Ok(outcome);
            }
        }
    }
}

fn finished(outcome: &Outcome) -> bool {
    outcome.error.is_none() && matches!(outcome.last, Some(Event::Finish(FinishReason::Stop)))
}

/// The mock's text arrived whole, then the stream broke (an upstream failure
/// without an HTTP status).
fn assert_broke_after_the_text(outcome: &Outcome) {
    assert_eq!(outcome.text, "Hello, world!");
    assert!(
        matches!(outcome.error, Some(ProviderError::Upstream(ref f)) if f.status == 0),
        "{:?}",
        outcome.error
    );
}

fn retry_after_ms(err: &ProviderError) -> Option<u64> {
    match err {
        ProviderError::RateLimited(info) => info.retry_after_ms,
        other => panic!("expected rate-limited, got {other:?}"),
    }
}

#[test]
fn a_plain_answer_streams_text_and_reasoning() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let outcome = s.answered(&host, "gemini-2.5-pro", "Hi");
    assert_eq!(outcome.text, "Hello, world!");
    assert_eq!(outcome.reasoning, "Working out a greeting…");
    let ask = &s.mock.requests_to("widgetStreamAssist")[0];
    let body = ask.json().unwrap();
    assert_eq!(
        body["streamAssistRequest"]["assistGenerationConfig"]["modelId"],
        "gemini-2.5-pro"
    );
    assert_eq!(body["configId"], s.mock.account(0).config_id.as_str());
    let session = body["streamAssistRequest"]["session"].as_str().unwrap();
    assert_eq!(s.mock.session_queries(session), vec!["Hi".to_string()]);
}

#[test]
fn the_jwt_is_cached_then_refreshed_when_old_or_refused() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);

    s.answered(&host, "gemini-auto", "one");
    s.answered(&host, "gemini-auto", "two");
    assert_eq!(
        s.mock.signing_keys_issued(),
        1,
        "the second request reuses the JWT"
    );
    let asks = s.mock.requests_to("widgetStreamAssist");
    assert_eq!(asks[0].jwt, asks[1].jwt);

    // 280 s later the cached token is too old to reuse.
    // (The mock checks tokens against the real clock, so the stored token is
    // aged rather than the host's clock moved.)
    let mut cached: serde_json::Value =
        serde_json::from_str(&host.state_get("jwt").unwrap()).unwrap();
    cached["issued_at"] = (cached["issued_at"].as_u64().unwrap() - 280).into();
    host.state_set("jwt", &cached.to_string(), None);
    s.answered(&host, "gemini-auto", "three");
    assert_eq!(s.mock.signing_keys_issued(), 2);

    // A refused token (keys revoked upstream) is replaced at once.
    s.mock.revoke_signing_keys();
    s.answered(&host, "gemini-auto", "four");
    assert_eq!(s.mock.signing_keys_issued(), 3);
    let sessions = s.mock.requests_to("widgetCreateSession");
    let [.., refused, accepted] = &sessions[..] else {
        panic!()
    };
    assert_eq!((refused.status, accepted.status), (401, 200));
    assert_ne!(refused.key_id, accepted.key_id);

    // Also when the refusal comes on the ask itself.
    s.answered(&host, "gemini-auto", "five [mock:401-once]");
    assert_eq!(s.mock.signing_keys_issued(), 4);
    let statuses: Vec<u16> = s
        .mock
        .requests_to("widgetStreamAssist")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 200, 401, 200]);
}

#[test]
fn an_answer_delivered_byte_by_byte_is_parsed_exactly() {
    let s = setup(MockOptions {
        chunk_size: Some(1),
        delay: Duration::ZERO,
        ..MockOptions::default()
    });
    let host = s.account_host(0);
    let outcome = s.answered(&host, "gemini-2.5-flash", "[mock:tricky]");
    assert_eq!(outcome.text, TRICKY_PARTS.concat());
    assert_eq!(outcome.reasoning, "Working out a greeting…");
}

#[test]
fn answers_cut_at_every_size_are_parsed_exactly() {
    for size in [2, 3, 5, 7, 13] {
        let s = setup(MockOptions {
            chunk_size: Some(size),
            delay: Duration::ZERO,
            ..MockOptions::default()
        });
        let outcome = s
            .chat(&s.account_host(0), "gemini-auto", "[mock:tricky]")
            .unwrap();
        assert_eq!(outcome.text, TRICKY_PARTS.concat(), "pieces of {size}");
    }
}

#[test]
fn a_generated_image_reaches_the_client() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let outcome = s.answered(&host, "gemini-imagen", "draw an image of a cat");
    assert_eq!(outcome.text, "Here is your image.");
    let images = &outcome.images;
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].mime_type, "image/png");
    assert_eq!(images[0].data, GENERATED_PNG);
    let ask = s.mock.requests_to("widgetStreamAssist")[0].json().unwrap();
    assert_eq!(
        ask["streamAssistRequest"]["toolsSpec"],
        serde_json::json!({"imageGenerationSpec": {}})
    );
    // Downloaded from the full session path the metadata call gave.
    let download = &s.mock.requests_to(":downloadFile")[0];
    assert!(
        download
            .path
            .starts_with("/v1alpha/projects/000000000000/locations/global/")
    );
}

#[test]
fn image_downloads_survive_a_failed_listing_and_a_refused_token() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    s.draw(
        &host,
        "draw it [mock:metadata-500] [mock:download-401-once]",
    );
    let downloads = s.mock.requests_to(":downloadFile");
    assert_eq!(downloads.len(), 2);
    assert_eq!((downloads[0].status, downloads[1].status), (401, 200));
    // Without metadata, the short session name of the answer is used.
    assert!(downloads[1].path.starts_with("/v1alpha/collections/"));
}

#[test]
fn a_redirected_download_is_followed_without_the_jwt() {
    let s = setup(MockOptions::default());
    s.draw(&s.account_host(0), "draw [mock:download-redirect]");
    let fetched: Vec<_> = s
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/__mock/files/"))
        .collect();
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].header("host").unwrap().starts_with("localhost:"));
    assert_eq!(fetched[0].header("authorization"), None);
}

#[test]
fn accounts_config_with_three_accounts_spreads_requests_over_them() {
    let s = setup(MockOptions {
        accounts: (1..=3).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    });
    let config = s.mock.accounts_config();
    // As the host would run them: three gateway accounts fed the same
    // variable, each with its own index and its own state.
    for index in 0..3 {
        let host = s
            .host()
            .with_secret("accounts-config", &config)
            .with_setting("index", &index.to_string());
        s.answered(&host, "gemini-auto", "hi");
    }
    let used: Vec<Option<String>> = s
        .mock
        .requests_to("widgetStreamAssist")
        .iter()
        .map(|r| r.account.clone())
        .collect();
    let expected: Vec<Option<String>> = (0..3)
        .map(|i| Some(s.mock.account(i).csesidx.clone()))
        .collect();
    assert_eq!(used, expected);

    // A fourth declared account has no element: refused, without a call.
    let before = s.mock.requests().len();
    let host = s
        .host()
        .with_secret("accounts-config", &config)
        .with_setting("index", "3");
    match s.chat(&host, "gemini-auto", "hi") {
        Err(ProviderError::Unauthorized(message)) => {
            assert_eq!(
                message,
                "no account at index 3 in ACCOUNTS_CONFIG (it holds 3)"
            )
        }
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(s.mock.requests().len(), before);
}

#[test]
fn an_expired_account_is_skipped_without_a_call() {
    let s = setup(MockOptions::default());
    let host = s
        .account_host(0)
        .with_secret("expires-at", "2020-01-01 08:00:00");
    match s.chat(&host, "gemini-auto", "hi") {
        Err(ProviderError::Unauthorized(message)) => {
            assert_eq!(message, "account expired at 2020-01-01 08:00:00")
        }
        other => panic!("{:?}", other.err()),
    }
    assert!(s.mock.requests().is_empty());
    // The same account with a future expiry works.
    let host = s
        .account_host(0)
        .with_secret("expires-at", "2999-01-01 00:00:00");
    s.answered(&host, "gemini-auto", "hi");
}

#[test]
fn refusals_become_typed_errors() {
    let mut expired = MockAccount::numbered(2);
    expired.cookies_expired = true;
    let mut restricted = MockAccount::numbered(3);
    restricted.restricted = true;
    let s = setup(MockOptions {
        accounts: vec![MockAccount::numbered(1), expired, restricted],
        ..MockOptions::default()
    });
    let host = s.account_host(0);

    match s.chat(&s.account_host(1), "gemini-auto", "hi") {
        Err(ProviderError::Unauthorized(m)) => assert!(m.contains("EXPIRED_SIGN_IN"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    assert!(matches!(
        s.chat(&s.account_host(2), "gemini-auto", "hi"),
        Err(ProviderError::Forbidden(_))
    ));
    assert!(matches!(
        s.chat(&host, "gemini-auto", "[mock:403]"),
        Err(ProviderError::Forbidden(_))
    ));

    // The upstream names no retry time: none is reported (the host's
    // [pool] cooldown applies), for text and images alike.
    let text = s.chat(&host, "gemini-auto", "[mock:429]").err().unwrap();
    assert_eq!(retry_after_ms(&text), None);
    let image = s
        .chat(&host, "gemini-imagen", "draw [mock:429]")
        .err()
        .unwrap();
    assert_eq!(retry_after_ms(&image), None);
    // An error element inside a 200 stream still surfaces from chat().
    let in_stream = s
        .chat(&host, "gemini-auto", "[mock:429-stream]")
        .err()
        .unwrap();
    assert_eq!(retry_after_ms(&in_stream), None);

    assert!(matches!(
        s.chat(&host, "gemini-auto", "[mock:utoken]"),
        Err(ProviderError::Unauthorized(_))
    ));
    assert!(matches!(
        s.chat(&host, "gemini-auto", "[mock:skip]"),
        Err(ProviderError::ContentFiltered(m))
            if m.contains("CUSTOMER_POLICY_VIOLATION") && m.contains("model armor: mock violation")
    ));
    let thoughts_only = s
        .chat(&host, "gemini-auto", "[mock:thoughts-only]")
        .unwrap();
    assert!(matches!(thoughts_only.error, Some(ProviderError::Upstream(ref f)) if f.status == 502));

    let before = s.mock.requests().len();
    assert!(matches!(
        s.chat(&host, "gemini-veo", "hi"),
        Err(ProviderError::ModelNotFound(_))
    ));
    assert_eq!(s.mock.requests().len(), before);
}

#[test]
fn a_scenario_set_over_http_applies_to_the_next_ask_only() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let url = format!("{}/__mock/scenario", s.mock.base_url);
    let response = host
        .send(Request::post(url).json(r#"{"scenario": "429"}"#))
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(matches!(
        s.chat(&host, "gemini-auto", "hi"),
        Err(ProviderError::RateLimited(_))
    ));
    s.answered(&host, "gemini-auto", "hi");
}

#[test]
fn a_retry_after_header_wins_over_the_cooldown() {
    let s = setup(MockOptions {
        retry_after_seconds: Some(30),
        ..MockOptions::default()
    });
    let err = s
        .chat(&s.account_host(0), "gemini-auto", "[mock:429]")
        .err()
        .unwrap();
    assert_eq!(retry_after_ms(&err), Some(30_000));
}

#[test]
fn a_cut_stream_ends_in_an_error_after_its_text() {
    let s = setup(MockOptions::default());
    let outcome = s
        .chat(&s.account_host(0), "gemini-auto", "[mock:cut]")
        .unwrap();
    assert_broke_after_the_text(&outcome);
}

#[test]
fn the_answer_streams_before_the_upstream_finishes() {
    let s = setup(MockOptions {
        hold_after_first_piece: true,
        ..MockOptions::default()
    });
    let host = s.account_host(0);
    let answer = chat::start(&host, &request("gemini-auto", "hi")).unwrap();
    // The mock is holding after its first element: that element is here.
    assert!(matches!(
        answer.next_batch().unwrap().as_slice(),
        [Event::Reasoning(_)]
    ));
    s.mock.release();
    let mut text = String::new();
    loop {
        let batch = answer.next_batch().unwrap();
        if batch.is_empty() {
            break;
        }
        for event in batch {
            if let Event::Text(t) = event {
                text.push_str(&t);
            }
        }
    }
    assert_eq!(text, "Hello, world!");
}

#[test]
fn attachments_are_uploaded_into_the_session() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let image = ContentPart::Image(Media {
        mime_type: "image/png".into(),
        data: GENERATED_PNG.to_vec(),
    });
    let message = user_message(vec![ContentPart::Text("What is this?".into()), image]);
    let outcome = run(&host, &request_with("gemini-auto", vec![message])).unwrap();
    assert!(finished(&outcome));
    let upload = s.mock.requests_to("widgetAddContextFile")[0]
        .json()
        .unwrap();
    assert_eq!(upload["addContextFileRequest"]["mimeType"], "image/png");
    let ask = s.mock.requests_to("widgetStreamAssist")[0].json().unwrap();
    assert_eq!(
        ask["streamAssistRequest"]["fileIds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let exe = ContentPart::File(Media {
        mime_type: "application/x-msdownload".into(),
        data: vec![0x4d, 0x5a],
    });
    let message = user_message(vec![exe]);
    assert!(matches!(
        run(&host, &request_with("gemini-auto", vec![message])),
        Err(ProviderError::BadRequest(m)) if m.contains("Unsupported file type")
    ));
}

/// Every fork sends `x-server-timeout: 1800` and the browser's header set on
/// widget calls.
#[test]
fn widget_calls_carry_the_browsers_header_set() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    s.answered(&host, "gemini-auto", "hi");
    for method in ["widgetCreateSession", "widgetStreamAssist"] {
        let call = &s.mock.requests_to(method)[0];
        for (name, value) in [
            ("x-server-timeout", "1800"),
            ("accept", "*/*"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "cors"),
            ("sec-ch-ua-mobile", "?0"),
            ("origin", "https://business.gemini.google"),
        ] {
            assert_eq!(call.header(name), Some(value), "{method}: {name}");
        }
        assert!(
            call.header("sec-ch-ua")
                .is_some_and(|v| v.contains("Chromium"))
        );
    }
}

/// `gemini-3-pro-preview` is gone upstream: a seed's request for it is
/// answered by its successor, and names match case-insensitively.
#[test]
fn a_removed_model_is_answered_by_its_successor() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    for (asked, sent) in [
        ("gemini-3-pro-preview", "gemini-3.1-pro-preview"),
        ("Gemini-2.0-Flash", "gemini-2.5-flash"),
    ] {
        s.answered(&host, asked, "hi");
        let ask = s.mock.requests_to("widgetStreamAssist").pop().unwrap();
        assert_eq!(
            ask.json().unwrap()["streamAssistRequest"]["assistGenerationConfig"]["modelId"],
            sent
        );
    }
}

/// A clean EOF before `]` after a complete answer is tolerated, as the forks
/// do; one that cuts an element in half is not (part of it may be lost).
#[test]
fn an_unterminated_array_is_tolerated_only_between_elements() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let outcome = s.answered(&host, "gemini-auto", "[mock:unterminated]");
    assert_eq!(outcome.text, "Hello, world!");

    let cut = s
        .chat(&host, "gemini-auto", "[mock:unterminated-mid-element]")
        .unwrap();
    assert_broke_after_the_text(&cut);
}

/// A non-429 error element is logged and read past when an answer follows
/// (as the forks do); alone, it is the failure.
#[test]
fn a_non_429_error_element_fails_only_an_answer_that_never_comes() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    let outcome = s.answered(&host, "gemini-auto", "[mock:error-element]");
    assert_eq!(outcome.text, "Hello, world!");

    match s.chat(&host, "gemini-auto", "[mock:error-element-only]") {
        Ok(outcome) => assert!(
            matches!(outcome.error, Some(ProviderError::Upstream(ref f)) if f.status == 500),
            "{:?}",
            outcome.error
        ),
        Err(err) => assert!(
            matches!(err, ProviderError::Upstream(ref f) if f.status == 500),
            "{err:?}"
        ),
    }
}

/// Downloads are retried with a doubling backoff (the forks: 3 attempts).
#[test]
fn a_failing_download_is_retried_with_backoff() {
    let s = setup(MockOptions::default());
    let host = s.account_host(0);
    s.draw(&host, "draw a cat [mock:download-503-twice]");
    assert_eq!(statuses_of(&s.mock, ":downloadFile"), [503, 503, 200]);
    // The host's clock moved by the two waits only (it never really waits).
    assert_eq!(host.monotonic_ns(), 3_000_000_000);
    let retries: Vec<String> = host
        .logs()
        .into_iter()
        .filter(|line| line.contains("retrying in"))
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries[0].contains("attempt 1 failed, retrying in 1000 ms"));
    assert!(retries[1].contains("attempt 2 failed, retrying in 2000 ms"));
}

fn statuses_of(mock: &MockUpstream, method: &str) -> Vec<u16> {
    mock.requests_to(method).iter().map(|r| r.status).collect()
}
