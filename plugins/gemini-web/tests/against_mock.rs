//! The plugin's flows against the mock upstream, natively: the same code the
//! component runs, over the SDK's native test host (a real loopback socket
//! instead of `wasi:http`, an in-memory state store, a clock the test moves).
//! What the gateway adds (account failover, OpenAI framing, HTTP statuses) is
//! tested end to end elsewhere.

use std::collections::HashMap;
use std::rc::Rc;

use mock_gemini_web::{
    DEFAULT_ANSWER, DEFAULT_PSID, DEFAULT_PSIDTS, DEFAULT_THOUGHTS, ExpiredStyle, Glitch, MOCK_PNG,
    MockOptions, MockUpstream, RotateBehaviour, Split,
};
use plugin_gemini_web::account::Account;
use plugin_gemini_web::answer::Answer;
use plugin_gemini_web::chat;
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::native::NativeHost;
use wasmgate_plugin_sdk::platform::Platform;
use wasmgate_plugin_sdk::{
    ChatRequest, ContentPart, Event, FinishReason, Media, Message, ProviderError, Role,
};

struct Setup {
    mock: MockUpstream,
    platform: Rc<NativeHost>,
    /// Runs the mock upstream.
    _runtime: Runtime,
}

fn setup(options: MockOptions) -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mock = runtime.block_on(mock_gemini_web::spawn(options));
    Setup {
        mock,
        platform: Rc::new(NativeHost::default()),
        _runtime: runtime,
    }
}

impl Setup {
    fn account(&self, settings: &[(&str, &str)]) -> Account {
        self.account_with(DEFAULT_PSID, Some(DEFAULT_PSIDTS), settings)
    }

    fn account_with(&self, psid: &str, psidts: Option<&str>, settings: &[(&str, &str)]) -> Account {
        let base = self.mock.base_url.clone();
        let mut all: HashMap<String, String> = HashMap::new();
        all.insert("base-url".into(), base);
        for (name, value) in settings {
            all.insert(name.to_string(), value.to_string());
        }
        let (psid, psidts) = (psid.to_string(), psidts.map(str::to_string));
        Account::from_config(
            "test-account".into(),
            move |name| match name {
                "psid" => Some(psid.clone()),
                "psidts" => psidts.clone(),
                _ => None,
            },
            move |name| all.get(name).cloned(),
        )
        .expect("a valid account")
    }

    fn start(&self, account: Account, request: &ChatRequest) -> Result<Answer, ProviderError> {
        chat::start(self.platform.clone(), account, request)
    }

    fn chat(&self, model: &str, text: &str) -> Result<Collected, ProviderError> {
        let answer = self.start(self.account(&[]), &request(model, text))?;
        Ok(drain(&answer))
    }

    fn stream_requests(&self) -> Vec<mock_gemini_web::RecordedRequest> {
        self.mock.requests_to("/StreamGenerate")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Let held streams end so the runtime shuts down promptly.
        self.mock.release();
    }
}

fn request(model: &str, text: &str) -> ChatRequest {
    request_with(model, vec![Message::text(Role::User, text)])
}

fn request_with(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new(model, messages, true)
}

#[derive(Debug, Default)]
struct Collected {
    text: String,
    reasoning: String,
    text_events: usize,
    images: Vec<Media>,
    finish: Option<FinishReason>,
    error: Option<ProviderError>,
}

fn drain(answer: &Answer) -> Collected {
    let mut collected = Collected::default();
    loop {
        match answer.next_event() {
            Ok(Some(Event::Text(text))) => {
                collected.text.push_str(&text);
                collected.text_events += 1;
            }
            Ok(Some(Event::Reasoning(text))) => collected.reasoning.push_str(&text),
            Ok(Some(Event::Image(media))) => collected.images.push(media),
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

fn unauthorized_message(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
    match result {
        Err(ProviderError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

// ---- streaming --------------------------------------------------------------

#[test]
fn streamed_deltas_add_up_to_the_final_text() {
    let setup = setup(MockOptions::default());
    let collected = setup.chat("gemini-3-flash", "Say hello").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    assert!(collected.text_events >= 3, "{collected:?}");
    assert!(collected.reasoning.is_empty());
    assert_eq!(collected.finish, Some(FinishReason::Stop));
    assert!(collected.error.is_none());

    let sent = &setup.stream_requests()[0];
    assert_eq!(sent.prompt().as_deref(), Some("Say hello"));
    assert_eq!(sent.form("at"), Some(setup.mock.access_token()));
    assert_eq!(sent.cookie("__Secure-1PSID").as_deref(), Some(DEFAULT_PSID));
    assert_eq!(
        sent.cookie("__Secure-1PSIDTS").as_deref(),
        Some(DEFAULT_PSIDTS)
    );
    assert!(
        sent.header("x-goog-ext-525001261-jspb")
            .unwrap()
            .contains(mock_gemini_web::MODEL_FAST)
    );
    assert_eq!(sent.query_param("rt").as_deref(), Some("c"));
    assert!(sent.query_param("bl").is_some() && sent.query_param("f.sid").is_some());
}

#[test]
fn frames_split_inside_characters_and_digits_are_parsed() {
    for split in [
        Split::InsideChars,
        Split::EveryBytes(7),
        Split::EveryBytes(3),
    ] {
        let setup = setup(MockOptions {
            split: split.clone(),
            frame_delay: std::time::Duration::from_millis(2),
            ..MockOptions::default()
        });
        let collected = setup.chat("gemini-3-flash", "hi").unwrap();
        assert_eq!(collected.text, DEFAULT_ANSWER, "{split:?}");
        let chunks = setup.platform.chunks();
        let cut_inside_a_character = chunks
            .iter()
            .any(|chunk| std::str::from_utf8(chunk).is_err());
        assert!(
            cut_inside_a_character,
            "{split:?}: no read ended inside a character"
        );
    }
}

#[test]
fn thinking_models_stream_reasoning_then_text() {
    let setup = setup(MockOptions::default());
    let collected = setup.chat("gemini-3-flash-thinking", "Think").unwrap();
    assert_eq!(collected.reasoning, DEFAULT_THOUGHTS);
    assert_eq!(collected.text, DEFAULT_ANSWER);
}

#[test]
fn the_first_event_arrives_while_the_upstream_is_held() {
    let setup = setup(MockOptions {
        hold: true,
        ..MockOptions::default()
    });
    let answer = setup
        .start(setup.account(&[]), &request("gemini-3-flash", "hi"))
        .unwrap();
    // The mock holds after its first snapshot: chat() has returned and the
    // first piece of text is ready.
    match answer.next_event() {
        Ok(Some(Event::Text(text))) => assert!(DEFAULT_ANSWER.starts_with(&text)),
        other => panic!("expected the first text, got {other:?}"),
    }
    setup.mock.release();
    let rest = drain(&answer);
    assert!(DEFAULT_ANSWER.ends_with(&rest.text));
    assert_eq!(rest.finish, Some(FinishReason::Stop));
}

#[test]
fn flicker_and_queueing_do_not_garble_the_text() {
    let setup = setup(MockOptions::default());
    let flicker = setup.chat("gemini-3-pro", "[mock:flicker]").unwrap();
    assert_eq!(
        flicker.text,
        "Use **bold** text\n```rust\nfn main() {}\n```"
    );
    let queued = setup.chat("gemini-3-pro", "[mock:queue]").unwrap();
    assert_eq!(queued.text, DEFAULT_ANSWER);
}

#[test]
fn a_conversation_is_folded_into_one_fresh_prompt() {
    let setup = setup(MockOptions::default());
    let request = request_with(
        "gemini-3-flash",
        vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi"),
            Message::text(Role::Assistant, "Hello!"),
            Message::new(
                Role::User,
                vec![ContentPart::Text("[mock:echo] Again?".into())],
            ),
        ],
    );
    let collected = drain(&setup.start(setup.account(&[]), &request).unwrap());
    let expected = "System: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: [mock:echo] Again?\n\nAssistant: ";
    assert_eq!(collected.text, expected);
    let inner = setup.stream_requests()[0].inner_request().unwrap();
    assert_eq!(inner[2][0], "", "every request opens a new conversation");
}

#[test]
fn a_stream_cut_mid_way_is_an_error_after_the_partial_text() {
    let setup = setup(MockOptions::default());
    let answer = setup
        .start(setup.account(&[]), &request("gemini-3-flash", "[mock:cut]"))
        .unwrap();
    let collected = drain(&answer);
    assert!(!collected.text.is_empty());
    assert!(DEFAULT_ANSWER.starts_with(&collected.text));
    assert!(
        matches!(collected.error, Some(ProviderError::Upstream(_))),
        "{collected:?}"
    );
}

#[test]
fn an_answer_cut_after_the_turn_was_saved_is_read_back() {
    let setup = setup(MockOptions::default());
    let collected = setup
        .chat("gemini-3-flash", "[mock:cut-persisted]")
        .unwrap();
    assert!(collected.error.is_none(), "{collected:?}");
    assert_eq!(collected.text, DEFAULT_ANSWER);
    assert_eq!(collected.finish, Some(FinishReason::Stop));
    // The first read finds it still generating, the second complete.
    let reads = setup
        .mock
        .requests_to("/batchexecute")
        .iter()
        .filter(|r| r.query_param("rpcids").as_deref() == Some("hNvQHb"))
        .count();
    assert_eq!(reads, 2);
}

// ---- in-band and HTTP failures ----------------------------------------------

#[test]
fn in_band_codes_become_typed_errors() {
    let setup = setup(MockOptions::default());
    let error = |prompt: &str| setup.chat("gemini-3-flash", prompt).err();
    type Check = fn(&ProviderError) -> bool;
    let cases: [(&str, Check); 7] = [
        ("[mock:1037]", |e| {
            matches!(e, ProviderError::QuotaExhausted(_))
        }),
        ("[mock:1060]", |e| {
            matches!(e, ProviderError::RateLimited(_))
        }),
        ("[mock:1050]", |e| {
            matches!(e, ProviderError::ModelNotFound(_))
        }),
        // 1003: refused for its content (reported for image requests).
        ("[mock:1003]", |e| {
            matches!(e, ProviderError::ContentFiltered(_))
        }),
        ("[mock:1013]", |e| matches!(e, ProviderError::Upstream(_))),
        ("[mock:4242]", |e| matches!(e, ProviderError::Upstream(_))),
        ("[mock:rejected]", |e| {
            matches!(e, ProviderError::Unauthorized(_))
        }),
    ];
    for (prompt, expected) in cases {
        let error = error(prompt).expect(prompt);
        assert!(expected(&error), "{prompt}: {error:?}");
    }
    // 1052 is what the service answers an outdated request structure with:
    // a protocol failure, not a missing model.
    match error("[mock:1052]") {
        Some(ProviderError::Upstream(failure)) => {
            assert!(failure.message.contains("1052"), "{}", failure.message)
        }
        other => panic!("{other:?}"),
    }
    match error("[mock:http:429]") {
        Some(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(7000)),
        other => panic!("{other:?}"),
    }
    match error("[mock:http:500]") {
        Some(ProviderError::Upstream(failure)) => assert_eq!(failure.status, 500),
        other => panic!("{other:?}"),
    }
    // An error code after a complete answer does not spoil it.
    let after = setup.chat("gemini-3-flash", "[mock:after:1096]").unwrap();
    assert_eq!(after.text, DEFAULT_ANSWER);
    assert!(after.error.is_none());
}

#[test]
fn a_passing_failure_before_the_answer_is_retried_with_a_fresh_page() {
    let setup = setup(MockOptions::default());
    setup
        .chat("gemini-3-flash", "warm up: the page values are cached")
        .unwrap();
    for glitch in [Glitch::Code(1013), Glitch::Silent] {
        setup.mock.clear_requests();
        setup.mock.glitch_next(glitch, 1);
        let collected = setup
            .chat("gemini-3-flash", "hi")
            .unwrap_or_else(|e| panic!("{glitch:?}: {e:?}"));
        assert_eq!(collected.text, DEFAULT_ANSWER, "{glitch:?}");
        assert_eq!(setup.stream_requests().len(), 2, "{glitch:?}");
        assert_eq!(
            setup.mock.requests_to("/app").len(),
            1,
            "{glitch:?}: re-read"
        );
    }
    // It gives up after two retries.
    setup.mock.clear_requests();
    setup.mock.glitch_next(Glitch::Code(1013), 5);
    assert!(matches!(
        setup.chat("gemini-3-flash", "hi"),
        Err(ProviderError::Upstream(_))
    ));
    assert_eq!(setup.stream_requests().len(), 3);
    // A refusal is not retried.
    setup.mock.glitch_next(Glitch::Silent, 0);
    setup.mock.clear_requests();
    let _ = setup.chat("gemini-3-flash", "[mock:1037]");
    assert_eq!(setup.stream_requests().len(), 1);
}

#[test]
fn a_stale_model_id_is_an_upstream_failure_and_an_unknown_name_model_not_found() {
    let setup = setup(MockOptions::default());
    let account = setup.account(&[("model-overrides", "gemini-3-pro=0123456789abcdef")]);
    let result = setup.start(account, &request("gemini-3-pro", "hi"));
    assert!(
        matches!(result, Err(ProviderError::Upstream(_))),
        "{:?}",
        result.err()
    );
    assert!(matches!(
        setup.chat("gpt-4o", "hi"),
        Err(ProviderError::ModelNotFound(_))
    ));
}

#[test]
fn the_request_has_the_current_shape() {
    let setup = setup(MockOptions::default());
    let collected = setup.chat("gemini-3-pro", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let sent = setup.stream_requests().pop().unwrap();
    let header: serde_json::Value =
        serde_json::from_str(sent.header("x-goog-ext-525001261-jspb").unwrap()).unwrap();
    assert_eq!(header.as_array().unwrap().len(), 17);
    assert_eq!(header[4], mock_gemini_web::MODEL_PRO);
    assert_eq!(header[8], serde_json::json!([4, 5, 6, 8]));
    assert_eq!(header[14], mock_gemini_web::NUMBER_PRO);
    assert_eq!(header[15], 1);
    assert_eq!(sent.header("x-goog-ext-73010990-jspb"), Some("[0,0,0]"));
    let inner = sent.inner_request().unwrap();
    assert_eq!(inner.as_array().unwrap().len(), 81);
    assert_eq!(inner[68], 1);
    assert_eq!(inner[79], mock_gemini_web::NUMBER_PRO);
    assert_eq!(inner[80], 1);
    // The client session id stays the same across requests of the account.
    setup.chat("gemini-3-flash", "again").unwrap();
    let again = setup.stream_requests().pop().unwrap();
    let again: serde_json::Value =
        serde_json::from_str(again.header("x-goog-ext-525001261-jspb").unwrap()).unwrap();
    assert_eq!(again[16], header[16]);
}

#[test]
fn models_are_discovered_at_run_time_and_the_table_is_only_a_fallback() {
    // The service moved Flash to an id no table knows.
    let moved = "00aa11bb22cc33dd";
    let setup = setup(MockOptions {
        listed_models: vec![
            (moved.into(), "Fast".into(), mock_gemini_web::NUMBER_FLASH),
            (
                mock_gemini_web::MODEL_PRO.into(),
                "Pro".into(),
                mock_gemini_web::NUMBER_PRO,
            ),
        ],
        known_models: vec![moved.into(), mock_gemini_web::MODEL_PRO.into()],
        ..MockOptions::default()
    });
    let collected = setup.chat("gemini-3-flash", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let sent = setup.stream_requests().pop().unwrap();
    assert!(
        sent.header("x-goog-ext-525001261-jspb")
            .unwrap()
            .contains(moved)
    );
    // The list is cached: the next request asks no more.
    let status_calls = || {
        setup
            .mock
            .requests_to("/batchexecute")
            .iter()
            .filter(|r| r.query_param("rpcids").as_deref() == Some("otAQ7b"))
            .count()
    };
    assert_eq!(status_calls(), 1);
    setup.chat("gemini-3-flash", "again").unwrap();
    assert_eq!(status_calls(), 1);
}

#[test]
fn the_account_model_list_comes_from_discovery() {
    // The account's list names a model of no known family.
    let mut listed = mock_gemini_web::default_models();
    listed.push(("0a1b2c3d4e5f6071".into(), "Deep Think".into(), 9));
    let setup = setup(MockOptions {
        listed_models: listed,
        known_models: vec!["0a1b2c3d4e5f6071".into()],
        ..MockOptions::default()
    });
    let names: Vec<String> = chat::list(setup.platform.clone(), setup.account(&[]))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "gemini-3-flash",
            "gemini-3-pro",
            "gemini-3-flash-lite",
            "gemini-web-deep-think",
            "unspecified"
        ]
    );
    // That model can be chatted with under its listed name.
    let collected = setup.chat("gemini-web-deep-think", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    // Without a session the table serves.
    let cold = self::setup(MockOptions::default());
    cold.mock.set_app_status(Some(500));
    let names = chat::list(cold.platform.clone(), cold.account(&[]));
    assert!(names.iter().any(|(name, _)| name == "gemini-3-flash-plus"));
}

#[test]
fn flash_lite_is_available() {
    let setup = setup(MockOptions::default());
    setup.chat("gemini-3-flash-lite", "hi").unwrap();
    let sent = setup.stream_requests().pop().unwrap();
    assert!(
        sent.header("x-goog-ext-525001261-jspb")
            .unwrap()
            .contains(mock_gemini_web::MODEL_LITE)
    );
}

#[test]
fn seed_model_names_map_to_the_nearest_model() {
    use mock_gemini_web::{MODEL_FAST, MODEL_LITE, MODEL_PRO};
    let setup = setup(MockOptions::default());
    for (name, id, thinking) in [
        ("gemini-2.5-flash", MODEL_FAST, 1),
        ("gemini-2.0-flash", MODEL_FAST, 1),
        ("gemini-3-flash-preview", MODEL_FAST, 1),
        ("gemini-2.5-pro", MODEL_PRO, 1),
        ("gemini-3-pro-preview", MODEL_PRO, 1),
        ("gemini-3.1-pro", MODEL_PRO, 1),
        ("gemini-3.5-flash", MODEL_FAST, 1),
        ("gemini-3.6-flash-extended", MODEL_FAST, 2),
        ("gemini-3.1-flash-lite", MODEL_LITE, 1),
        ("gemini-3.5-flash-lite-extended", MODEL_LITE, 2),
    ] {
        let collected = setup
            .chat(name, "hi")
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(collected.error.is_none(), "{name}: {collected:?}");
        let sent = setup.stream_requests().pop().unwrap();
        let header: serde_json::Value =
            serde_json::from_str(sent.header("x-goog-ext-525001261-jspb").unwrap()).unwrap();
        assert_eq!(header[4], id, "{name}");
        assert_eq!(header[15], thinking, "{name}");
    }
}

#[test]
fn an_ip_block_on_the_page_is_rate_limited() {
    let setup = setup(MockOptions::default());
    setup.mock.set_app_status(Some(429));
    assert!(matches!(
        setup.chat("gemini-3-flash", "hi"),
        Err(ProviderError::RateLimited(_))
    ));
}

#[test]
fn a_refused_access_token_is_renewed_from_the_page() {
    let setup = setup(MockOptions::default());
    setup.chat("gemini-3-flash", "one").unwrap();
    assert_eq!(setup.mock.requests_to("/app").len(), 1);
    // Cached page values are reused...
    setup.chat("gemini-3-flash", "two").unwrap();
    assert_eq!(setup.mock.requests_to("/app").len(), 1);
    // ...until the upstream refuses the token.
    setup.mock.invalidate_access_token();
    let collected = setup.chat("gemini-3-flash", "three").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    assert_eq!(setup.mock.requests_to("/app").len(), 2);
    let last = setup.stream_requests().pop().unwrap();
    assert_eq!(last.form("at"), Some(setup.mock.access_token()));
}

// ---- cookies: rotation and expiry -------------------------------------------

#[test]
fn rotation_replaces_the_cookie_and_later_requests_use_it() {
    let setup = setup(MockOptions::default());
    setup.chat("gemini-3-flash", "before").unwrap();
    assert_eq!(setup.mock.rotations(), 0, "not due yet");

    setup.platform.advance_secs(601);
    setup.chat("gemini-3-flash", "due").unwrap();
    assert_eq!(setup.mock.rotations(), 1);
    let rotated = setup.mock.current_psidts().unwrap();
    assert_ne!(rotated, DEFAULT_PSIDTS);
    // The old cookie is dead at the mock; the request after the rotation
    // already used the new one.
    assert_eq!(setup.mock.valid_psidts(), std::slice::from_ref(&rotated));
    let rotation = setup.mock.requests_to("/RotateCookies").pop().unwrap();
    assert_eq!(
        rotation.cookie("__Secure-1PSIDTS").as_deref(),
        Some(DEFAULT_PSIDTS)
    );
    assert_eq!(
        std::str::from_utf8(&rotation.body).unwrap(),
        "[000,\"-0000000000000000000\"]"
    );
    let used = setup.stream_requests().pop().unwrap();
    assert_eq!(used.cookie("__Secure-1PSIDTS"), Some(rotated.clone()));

    // A later request (a new plugin instance, same account state) keeps it.
    setup.chat("gemini-3-flash", "later").unwrap();
    assert_eq!(setup.mock.rotations(), 1);
    let used = setup.stream_requests().pop().unwrap();
    assert_eq!(used.cookie("__Secure-1PSIDTS"), Some(rotated.clone()));
    let saved = setup.platform.state_get("cookies").unwrap();
    assert!(saved.contains(&rotated));
    assert!(
        !saved.contains(DEFAULT_PSID),
        "the long-lived cookie stays in the secrets"
    );
}

#[test]
fn a_psid_google_rotated_is_kept() {
    let setup = setup(MockOptions {
        rotate_psid: true,
        ..MockOptions::default()
    });
    setup.chat("gemini-3-flash", "first use").unwrap();
    setup.platform.advance_secs(601);
    setup.chat("gemini-3-flash", "rotates").unwrap();
    let rotated = setup.mock.current_psid();
    assert_ne!(rotated, DEFAULT_PSID);
    // A later request (same secrets, saved state) sends the new one.
    let collected = setup.chat("gemini-3-flash", "later").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let used = setup.stream_requests().pop().unwrap();
    assert_eq!(used.cookie("__Secure-1PSID"), Some(rotated));
}

#[test]
fn the_rotation_interval_is_a_setting() {
    let setup = setup(MockOptions::default());
    let account = || setup.account(&[("rotate-interval-secs", "0")]);
    drain(
        &setup
            .start(account(), &request("gemini-3-flash", "a"))
            .unwrap(),
    );
    drain(
        &setup
            .start(account(), &request("gemini-3-flash", "b"))
            .unwrap(),
    );
    assert_eq!(setup.mock.rotations(), 2);
    let off = setup.account(&[("rotate-interval-secs", "off")]);
    setup.platform.advance_secs(100_000);
    drain(&setup.start(off, &request("gemini-3-flash", "c")).unwrap());
    assert_eq!(setup.mock.rotations(), 2);
}

#[test]
fn a_throttled_rotation_keeps_the_current_cookie() {
    let setup = setup(MockOptions {
        rotate: RotateBehaviour::NoNewCookie,
        ..MockOptions::default()
    });
    setup.chat("gemini-3-flash", "first use").unwrap();
    setup.platform.advance_secs(601);
    let collected = setup.chat("gemini-3-flash", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let used = setup.stream_requests().pop().unwrap();
    assert_eq!(
        used.cookie("__Secure-1PSIDTS").as_deref(),
        Some(DEFAULT_PSIDTS)
    );
    assert!(setup.platform.logs().iter().any(|l| l.contains("no new")));
}

#[test]
fn a_stale_psidts_is_revived_by_rotation() {
    let setup = setup(MockOptions::default());
    setup.mock.revoke_psidts();
    let collected = setup.chat("gemini-3-flash", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    assert_eq!(setup.mock.rotations(), 1);
}

#[test]
fn a_newly_pasted_cookie_wins_over_the_saved_one() {
    let setup = setup(MockOptions::default());
    setup.platform.advance_secs(601);
    setup.chat("gemini-3-flash", "rotate").unwrap();
    let rotated = setup.mock.current_psidts().unwrap();
    // The operator pastes a different cookie (say, after a new login); the
    // mock's session is unchanged, so it is refused, but it must be the one sent.
    let account = setup.account_with(DEFAULT_PSID, Some("pasted-by-operator"), &[]);
    let result = setup.start(account, &request("gemini-3-flash", "x"));
    assert!(matches!(result, Err(ProviderError::Unauthorized(_))));
    let sent = setup.stream_requests().pop().unwrap();
    assert_eq!(
        sent.cookie("__Secure-1PSIDTS").as_deref(),
        Some("pasted-by-operator")
    );
    assert_ne!(rotated, "pasted-by-operator");
    // The new jar is saved: its rotation clock runs from now on.
    setup.mock.clear_requests();
    setup.platform.advance_secs(601);
    let account = setup.account_with(DEFAULT_PSID, Some("pasted-by-operator"), &[]);
    let _ = setup.start(account, &request("gemini-3-flash", "y"));
    let rotation = setup.mock.requests_to("/RotateCookies").pop().unwrap();
    assert_eq!(
        rotation.cookie("__Secure-1PSIDTS").as_deref(),
        Some("pasted-by-operator")
    );
}

#[test]
fn expired_cookies_are_unauthorized_with_what_to_refresh() {
    let setup = setup(MockOptions::default());
    setup.mock.expire();
    let message = unauthorized_message(setup.chat("gemini-3-flash", "hi"));
    assert!(message.contains("test-account"));
    assert!(message.contains("__Secure-1PSIDTS") && message.contains("SECURE_1PSID"));
    assert!(!message.contains(DEFAULT_PSID) && !message.contains(DEFAULT_PSIDTS));
    // The page was tried, and a rotation attempted to revive the session.
    assert!(!setup.mock.requests_to("/RotateCookies").is_empty());
    let logs = setup.platform.logs().join("\n");
    assert!(!logs.contains(DEFAULT_PSID) && !logs.contains(DEFAULT_PSIDTS));
}

#[test]
fn cookies_that_expire_after_the_page_was_read_are_unauthorized() {
    for style in [ExpiredStyle::Http401, ExpiredStyle::InBandRejected] {
        let setup = setup(MockOptions {
            expired_style: style,
            ..MockOptions::default()
        });
        setup.chat("gemini-3-flash", "one").unwrap();
        setup.mock.expire();
        unauthorized_message(setup.chat("gemini-3-flash", "two"));
    }
}

#[test]
fn a_signed_out_redirect_is_unauthorized() {
    let setup = setup(MockOptions {
        expired_redirect: true,
        ..MockOptions::default()
    });
    setup.mock.expire();
    unauthorized_message(setup.chat("gemini-3-flash", "hi"));
}

#[test]
fn a_401_from_rotation_is_logged_while_the_session_still_works() {
    let setup = setup(MockOptions::default());
    setup.chat("gemini-3-flash", "first use").unwrap();
    setup.mock.set_rotate(RotateBehaviour::Unauthorized);
    setup.platform.advance_secs(601);
    let collected = setup.chat("gemini-3-flash", "hi").unwrap();
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let logs = setup.platform.logs().join("\n");
    assert!(logs.contains("401"), "{logs}");
}

#[test]
fn signed_out_cookies_on_a_guest_page_are_unauthorized() {
    // The guest page has every value but the token; the status RPC says 1016.
    let setup = setup(MockOptions::default());
    setup.mock.expire();
    let message = unauthorized_message(setup.chat("gemini-3-flash", "hi"));
    assert!(message.contains("signed out"), "{message}");
    assert!(
        setup.stream_requests().is_empty(),
        "a guest session is not used for answers"
    );
}

#[test]
fn base_url_alone_routes_rotation_and_uploads() {
    let setup = setup(MockOptions::default());
    let only_base = || setup.account(&[("rotate-interval-secs", "0")]);
    let request = request_with(
        "gemini-3-flash",
        vec![Message::new(
            Role::User,
            vec![
                ContentPart::Text("What is this?".into()),
                ContentPart::Image(Media {
                    mime_type: "image/png".into(),
                    data: MOCK_PNG.to_vec(),
                }),
            ],
        )],
    );
    let collected = drain(&setup.start(only_base(), &request).unwrap());
    assert_eq!(collected.text, DEFAULT_ANSWER);
    assert_eq!(setup.mock.rotations(), 1);
    assert_eq!(setup.mock.uploads().len(), 1);
    // The specific settings still win.
    let elsewhere = setup.account(&[
        ("rotate-interval-secs", "0"),
        ("rotate-url", "http://127.0.0.1:9/rotate"),
    ]);
    drain(&setup.start(elsewhere, &request).unwrap());
    assert_eq!(setup.mock.rotations(), 1, "rotation went to rotate-url");
}

#[test]
fn the_activity_heartbeat_precedes_each_generation() {
    let setup = setup(MockOptions::default());
    setup.chat("gemini-3-flash", "one").unwrap();
    setup.chat("gemini-3-flash", "two").unwrap();
    let order: Vec<String> = setup
        .mock
        .requests()
        .iter()
        .filter_map(|r| {
            if r.path.ends_with("/StreamGenerate") {
                Some("generate".to_string())
            } else {
                r.query_param("rpcids")
            }
        })
        .filter(|name| name != "otAQ7b")
        .collect();
    assert_eq!(order, ["ESY5D", "generate", "ESY5D", "generate"]);
    let heartbeat = setup.mock.requests_to("/batchexecute").pop().unwrap();
    assert!(
        heartbeat
            .form("f.req")
            .unwrap()
            .contains("bard_activity_enabled")
    );
}

#[test]
fn an_account_without_psidts_works() {
    let setup = setup(MockOptions {
        psidts: None,
        ..MockOptions::default()
    });
    let account = setup.account_with(DEFAULT_PSID, None, &[]);
    let collected = drain(
        &setup
            .start(account, &request("gemini-3-flash", "hi"))
            .unwrap(),
    );
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let sent = setup.stream_requests().pop().unwrap();
    assert_eq!(sent.cookie("__Secure-1PSIDTS"), None);
}

// ---- images -------------------------------------------------------------------

#[test]
fn a_generated_image_reaches_the_client() {
    let setup = setup(MockOptions::default());
    let collected = setup
        .chat("gemini-3-pro", "Please generate an image of a cat")
        .unwrap();
    assert_eq!(collected.images.len(), 1);
    assert_eq!(collected.images[0].data, MOCK_PNG);
    assert_eq!(collected.images[0].mime_type, "image/png");
    assert!(!collected.text.contains("googleusercontent.com"));
    assert!(collected.text.starts_with("Here is the image"));
    assert_eq!(collected.finish, Some(FinishReason::Stop));
    // Full size through c8o8Fe and the download chain, with the cookies.
    let rpc = setup.mock.requests_to("/batchexecute");
    assert!(
        rpc.iter()
            .any(|r| r.query_param("rpcids").as_deref() == Some("c8o8Fe"))
    );
    let original = setup.mock.requests_to("=d-I").pop().unwrap();
    assert_eq!(original.query_param("alr").as_deref(), Some("yes"));
    assert_eq!(
        original.cookie("__Secure-1PSID").as_deref(),
        Some(DEFAULT_PSID)
    );
    let finals = setup
        .mock
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/mock-final/"))
        .count();
    assert_eq!(finals, 1);
    assert!(setup.mock.requests_to("=s2048-rj").is_empty());
}

#[test]
fn an_edited_image_in_the_sparse_field_reaches_the_client() {
    let setup = setup(MockOptions::default());
    let collected = setup
        .chat("gemini-3-flash", "Make the cat blue [mock:image-edit]")
        .unwrap();
    assert_eq!(collected.images.len(), 1, "{collected:?}");
    assert_eq!(collected.images[0].data, MOCK_PNG);
    assert!(!collected.text.contains("googleusercontent.com"));
}

#[test]
fn an_inline_image_is_uploaded_and_referenced() {
    let setup = setup(MockOptions::default());
    let request = request_with(
        "gemini-3-flash",
        vec![Message::new(
            Role::User,
            vec![
                ContentPart::Text("What is this?".into()),
                ContentPart::Image(Media {
                    mime_type: "image/png".into(),
                    data: MOCK_PNG.to_vec(),
                }),
            ],
        )],
    );
    let collected = drain(&setup.start(setup.account(&[]), &request).unwrap());
    assert_eq!(collected.text, DEFAULT_ANSWER);
    let uploads = setup.mock.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].data, MOCK_PNG);
    assert_eq!(uploads[0].name, "image_1.png");
    let upload = setup.mock.requests_to("/upload").pop().unwrap();
    assert_eq!(
        upload.header("push-id"),
        Some(mock_gemini_web::PAGE_PUSH_ID)
    );
    assert_eq!(
        upload.cookie("__Secure-1PSID"),
        None,
        "no Google cookies to googleapis.com"
    );
    let inner = setup.stream_requests()[0].inner_request().unwrap();
    assert_eq!(inner[0][3][0][0][0], uploads[0].id.as_str());
    assert_eq!(inner[0][3][0][1], "image_1.png");

    let remote = request_with(
        "gemini-3-flash",
        vec![Message::new(
            Role::User,
            vec![ContentPart::ImageUrl("https://x/y.png".into())],
        )],
    );
    assert!(matches!(
        setup.start(setup.account(&[]), &remote),
        Err(ProviderError::BadRequest(_))
    ));
}
