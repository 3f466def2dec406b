//! What the front-door tests share: a gateway with the `gemini` plugin on a
//! mock Gemini API, one with `gemini-business` on its mock (for images), and
//! running an SDK script against either.

#![allow(dead_code)] // each test file uses part of it

use mock_gemini::MockUpstream;
use wasmgate_testkit::{Gateway, GatewayBuilder, Value, sdk};

/// The callers' key every front-door test uses.
pub const KEY: &str = "sk-front-door-test-0123456789";

/// A gateway serving every model with the `gemini` plugin on `mock`.
pub fn gemini_gateway(mock: &MockUpstream) -> Gateway {
    gemini_builder(mock).start()
}

/// [`gemini_gateway`], to add options to before it starts.
pub fn gemini_builder(mock: &MockUpstream) -> GatewayBuilder {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
[runtime]
first-event-timeout-secs = 5

[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env = "TEST_GEMINI_KEY" }} }}
settings = {{ base-url = "{}" }}

[models]
"*" = "gemini"
"#,
            mock.base_url
        ))
        .env("TEST_GEMINI_KEY", "good-1")
        .env("API_KEY", KEY)
}

/// A gateway with `gemini-business` on `mock`: `gemini-imagen` draws.
/// `answers` is the body of its `[answers]` section.
pub fn business_gateway(
    mock: &mock_gemini_business::MockUpstream,
    answers: &str,
    env: &[(&str, &str)],
) -> Gateway {
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini-business"])
        .config(&format!(
            r#"
[answers]
{answers}

[plugins.gemini-business]
allowed-hosts = ["business.gemini.google", "biz-discoveryengine.googleapis.com"]
[[plugins.gemini-business.accounts]]
id = "seed"
secrets = {{ accounts-config = {{ env = "ACCOUNTS_CONFIG" }} }}
settings = {{ base-url = "{}", index = "0" }}

[models]
"gemini-*" = "gemini-business"
"#,
            mock.base_url
        ))
        .env("API_KEY", KEY)
        .env("ACCOUNTS_CONFIG", &mock.accounts_config());
    for (name, value) in env {
        builder = builder.env(name, value);
    }
    builder.start()
}

/// Runs `case` of `tests/sdk/<script>` against `gateway` with the right key
/// (`key` overrides it) and returns what it printed last, as JSON. `None`
/// when the SDKs cannot run here (outside CI). The script runs off the
/// test's runtime, which keeps serving the mock upstream meanwhile.
/// A fresh mock Gemini API and a gateway serving it, then `case` of
/// `script` run against them: the mock, the gateway and the script's
/// summary (`None` when the SDK cannot run outside CI).
pub async fn gemini_case(script: &str, case: &str) -> Option<(MockUpstream, Gateway, Value)> {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
    let gateway = gemini_gateway(&mock);
    let out = run_case(script, &gateway, case, None).await?;
    Some((mock, gateway, out))
}

pub async fn run_case(
    script: &str,
    gateway: &Gateway,
    case: &str,
    key: Option<&str>,
) -> Option<Value> {
    let (script, url, case) = (script.to_string(), gateway.url.clone(), case.to_string());
    let key = key.unwrap_or(KEY).to_string();
    let run = tokio::task::spawn_blocking(move || {
        sdk::run_script(&script, &url, &[("CASE", &case), ("API_KEY", &key)])
    })
    .await
    .expect("the script's thread")?;
    Some(run.json())
}

/// The generation requests the mock received, in order.
pub fn generations(mock: &MockUpstream) -> Vec<mock_gemini::RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.is_generation())
        .collect()
}

/// The history of the `nth` generation call carried the earlier function
/// call back with Gemini's thought signature; that call's body.
pub fn signature_came_back(mock: &MockUpstream, nth: usize) -> Value {
    let sent = generations(mock)[nth].body.clone().unwrap();
    let call_part = sent["contents"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part.get("functionCall").is_some())
        .unwrap_or_else(|| panic!("the call in history: {sent}"));
    assert_eq!(
        call_part["thoughtSignature"],
        mock_gemini::THOUGHT_SIGNATURE,
        "{sent}"
    );
    sent
}

/// The mock echoed the caller's inline PNG and the question after it.
pub fn echoed_an_inline_image(text: &str) {
    assert!(
        text.starts_with("echo: [inlineData image/png ") && text.ends_with("What is this?"),
        "{text}"
    );
}
