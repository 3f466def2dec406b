//! The plugin's own flows against mock-openai, natively, on the SDK's native
//! test host: the key and extra headers an account gives reach the upstream,
//! the model list comes from the upstream unless configured, refusals come
//! back typed. What the gateway adds is tested in host/tests.

use mock_openai::{MockOptions, MockUpstream};
use plugin_openai_compatible::{models, start};
use tokio::runtime::Runtime;
use wasmgate_plugin_sdk::native::NativeHost;
use wasmgate_plugin_sdk::{ChatRequest, Event, Message, ProviderError, Role};

/// The mock, the runtime serving it, and an account pointed at it.
fn account(key: &str) -> (NativeHost, MockUpstream, Runtime) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let mock = runtime.block_on(mock_openai::spawn(MockOptions::default()));
    let host = NativeHost::default()
        .with_secret("api-key", key)
        .with_setting("base-url", &format!("{}/v1/", mock.base_url))
        .with_setting("extra-headers", "X-Title: wasmgate");
    (host, mock, runtime)
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new("gpt-4o-mini", vec![Message::text(Role::User, text)], true)
}

#[test]
fn a_chat_carries_the_key_and_headers_and_streams_the_answer() {
    let (host, mock, _runtime) = account("sk-native-1");
    let answer = start(&host, &ask("hi")).expect("accepted");
    let mut text = String::new();
    while let Some(event) = answer.next_event().expect("the answer completes") {
        if let Event::Text(piece) = event {
            text.push_str(&piece);
        }
    }
    assert_eq!(text, "echo: hi");
    let call = mock.chats().pop().expect("a chat call");
    assert_eq!(call.key(), Some("sk-native-1"));
    assert_eq!(call.header("x-title"), Some("wasmgate"));
}

#[test]
fn models_come_from_the_upstream_unless_configured() {
    let (host, mock, _runtime) = account("sk-native-1");
    let ids: Vec<String> = models(&host).unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["gpt-4o-mini", "deepseek-chat", "llama-3.1-8b"]);
    let asked = mock.requests().len();
    let host = host.with_setting("models", "a, b");
    let ids: Vec<String> = models(&host).unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(
        mock.requests().len(),
        asked,
        "a configured list asks nobody"
    );
}

#[test]
fn refusals_come_back_typed() {
    let (host, _mock, _runtime) = account("bad-key");
    let refused = start(&host, &ask("hi")).err().expect("refused");
    assert!(
        matches!(refused, ProviderError::Unauthorized(_)),
        "{refused:?}"
    );
    let (host, _mock, _runtime) = account("sk-native-1");
    let limited = start(&host, &ask("hi #scenario=rate-limit"))
        .err()
        .expect("limited");
    match limited {
        ProviderError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(7_000)),
        other => panic!("{other:?}"),
    }
}
