//! The plugin's chat flow against the mock Vertex, natively: the component's
//! code over the SDK's native test host, whose clock the test moves, so the
//! token cache's lifetimes are checked without waiting. What the gateway adds
//! (failover, framing, statuses) is tested end to end in host/tests/vertex.rs.

use std::time::Duration;

use mock_vertex::{MockOptions, MockUpstream};
use plugin_vertex::settings::{BASE_URL_SETTING, CREDENTIALS_SECRET, EXPRESS_KEY_SECRET};
use plugin_vertex::start_chat;
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::native::NativeHost;
use wasmgate_plugin_sdk::{ChatRequest, Event, FinishReason, Message, Role};

/// The mock, the runtime serving it, and one account's host pointed at it.
struct Account {
    host: NativeHost,
    mock: MockUpstream,
    _runtime: Runtime,
}

fn account(options: MockOptions, secret: impl FnOnce(&MockUpstream) -> (&str, String)) -> Account {
    let runtime = Runtime::new().expect("a tokio runtime");
    let mock = runtime.block_on(mock_vertex::spawn(options));
    let (name, value) = secret(&mock);
    let host = NativeHost::default()
        .with_secret(name, &value)
        .with_setting(BASE_URL_SETTING, &mock.base_url);
    Account {
        host,
        mock,
        _runtime: runtime,
    }
}

fn service_account(token_lifetime: Duration) -> Account {
    let options = MockOptions {
        token_lifetime,
        ..MockOptions::default()
    };
    account(options, |mock| {
        (CREDENTIALS_SECRET, mock.credentials_json())
    })
}

impl Account {
    /// One streamed chat, read to its end: it must finish.
    fn chat(&self) {
        let request = ChatRequest::new(
            "gemini-2.5-flash",
            vec![Message::text(Role::User, "Hi")],
            true,
        );
        let answer = start_chat(&self.host, request).expect("Vertex accepted the request");
        let mut finish = None;
        while let Some(event) = answer.next_event().expect("the answer completes") {
            if let Event::Finish(reason) = event {
                finish = Some(reason);
            }
        }
        assert!(matches!(finish, Some(FinishReason::Stop)), "{finish:?}");
    }
}

#[test]
fn a_token_serves_every_chat_until_it_is_due_by_the_hosts_clock() {
    // A 400 s token is replaced after 3/4 of its life, 300 s. The mock checks
    // each assertion's time against its own clock (±300 s), so the host's
    // clock starts 150 s behind and ends 150 s ahead.
    let account = service_account(Duration::from_secs(400));
    account
        .host
        .set_now_ms((mock_vertex::unix_now() - 150) * 1000);
    account.chat();
    account.host.advance_secs(299);
    account.chat();
    assert_eq!(account.mock.token_requests().len(), 1);
    let cached = account.host.state();
    assert_eq!(cached.len(), 1, "one cached token: {cached:?}");
    let key = cached.keys().next().unwrap();
    assert_eq!(
        account.host.state_ttl(key),
        Some(300),
        "kept until it is due"
    );

    account.host.advance_secs(1);
    account.chat();
    assert_eq!(account.mock.token_requests().len(), 2);
    let bearers = account.mock.bearer_tokens();
    assert_eq!(bearers[0], bearers[1]);
    assert_ne!(bearers[1], bearers[2], "the due token was replaced");
}

#[test]
fn a_token_vertex_refuses_is_replaced_once() {
    let account = service_account(Duration::from_secs(3599));
    account.chat();
    account.mock.expire_tokens();
    account.chat();
    assert_eq!(account.mock.token_requests().len(), 2);
    let bearers = account.mock.bearer_tokens();
    assert_eq!(bearers.len(), 3, "refused once, then accepted: {bearers:?}");
    assert_eq!(bearers[0], bearers[1]);
    assert_ne!(bearers[1], bearers[2]);
}

#[test]
fn an_express_key_needs_no_token() {
    const KEY: &str = "AQ.native-test-key";
    let options = MockOptions {
        express_key: KEY.into(),
        ..MockOptions::default()
    };
    let account = account(options, |_| (EXPRESS_KEY_SECRET, KEY.into()));
    account.chat();
    assert!(account.mock.token_requests().is_empty());
    assert!(account.host.state().is_empty());
    let sent = account.mock.generation_requests();
    assert_eq!(sent[0].header("x-goog-api-key"), Some(KEY));
}
