//! What every provider plugin must show through the real gateway, written
//! once and run for each plugin against its mock upstream.
//!
//! A plugin joins the suite by implementing [`Fixture`]: how to start its
//! mock and a gateway with two accounts on it, and which request makes the
//! upstream behave a given way. The behaviours are the generic functions
//! below; `conformance!` turns each into one test per plugin.
//!

use std::time::Duration;

use futures::StreamExt;
use wasmgate_testkit::js_plugin::{JS_PLUGIN, built_js_plugin};
use wasmgate_testkit::{
    Gateway, GatewayBuilder, Value, bounded_stream, failure, finish_reason, json, parse_sse,
    reasoning_comes_first, streamed_reasoning, streamed_text, user_request,
};

const ADMIN_KEY: &str = "admin-conformance-suite";

/// How the upstream answers a request.
#[derive(Clone, Copy, Debug)]
enum Upstream {
    /// The first piece of the answer, then nothing until the mock releases it.
    HoldAfterFirstPiece,
    /// Some of the answer, then the connection breaks.
    CutMidway,
    /// Thoughts before the answer.
    Thinking,
    /// The prompt is refused by the upstream's content filter.
    Filtered,
}

/// One shipped plugin and its mock, as the suite drives them.
trait Fixture: Sized {
    /// The mock, and a gateway serving the plugin from two healthy accounts
    /// on it (with [`ADMIN_KEY`]).
    async fn start() -> Self;
    /// As [`Fixture::start`], with every account rate-limited by the
    /// upstream; returns the request that meets the limit.
    async fn start_rate_limited() -> (Self, Value);
    /// As [`Fixture::start`], with the first account's credentials refused
    /// by the upstream as expired or invalid; returns that account's id.
    async fn start_first_expired() -> (Self, String);
    /// Whether the upstream reports the tokens an answer used (the web
    /// chats do not: their usage is reported as zero).
    fn upstream_counts_tokens() -> bool {
        true
    }
    /// Whether the plugin can be built here (a plugin built by other
    /// tooling may be skipped outside CI).
    fn available() -> bool {
        true
    }
    fn gateway(&self) -> &Gateway;
    /// A one-message request (`text`) the upstream answers as `upstream`
    /// says (a mock whose behaviour is a switch is switched here).
    fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value;
    /// A one-message request the upstream answers plainly.
    fn plain(&self, text: &str, stream: bool) -> Value;
    /// The answer the upstream gives to `text`.
    fn answer(&self, text: &str) -> String;
    /// How many answers the mock holds now.
    fn held(&self) -> usize;
    /// Lets held answers go on.
    fn release(&self);
}

/// The client reads the first piece of the answer (text or thought) while
/// the upstream still holds the rest: answers are streamed, not collected
/// first.
async fn the_first_chunk_arrives_before_the_rest<F: Fixture>() {
    let fixture = F::start().await;
    let body = fixture.request(Upstream::HoldAfterFirstPiece, "streaming matters", true);
    let response = fixture.gateway().chat(&body).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut received = String::new();
    let started = |text: &str| {
        let frames = complete_frames(text);
        !streamed_text(&frames).is_empty() || !streamed_reasoning(&frames).is_empty()
    };
    while !started(&received) {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("the first piece arrives while the upstream holds the rest")
            .expect("the stream is open")
            .unwrap();
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // A mock may reach its hold point a moment after it sent the first piece.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fixture.held() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fixture.held(), 1, "the upstream has not sent the rest yet");
    let answer = fixture.answer("streaming matters");
    let so_far = streamed_text(&complete_frames(&received));
    assert!(
        so_far.len() < answer.len() && answer.starts_with(&so_far),
        "only the first piece so far: {so_far:?}"
    );
    fixture.release();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the rest follows the release")
    {
        received.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert_eq!(
        fixture.held(),
        0,
        "nothing is held once the answer is whole"
    );
    let frames = parse_sse(&received);
    assert_eq!(streamed_text(&frames), answer);
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

/// A plain answer is exactly the upstream's, streamed (ending in a finish
/// reason and `[DONE]`) and whole, and both report the tokens used.
async fn a_plain_answer_is_exact_streamed_and_whole_with_usage<F: Fixture>() {
    let fixture = F::start().await;
    let mut body = fixture.plain("exactly this", true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, frames) = bounded_stream(fixture.gateway(), &body).await;
    assert_eq!(status, 200, "{frames:?}");
    assert_eq!(streamed_text(&frames), fixture.answer("exactly this"));
    assert_eq!(finish_reason(&frames), Some("stop"), "{frames:?}");
    assert_eq!(frames.last().unwrap(), "[DONE]");
    let usage = frames
        .iter()
        .find_map(|f| f.get("usage").filter(|u| u.is_object()))
        .unwrap_or_else(|| panic!("a usage frame: {frames:?}"));
    let counted = |usage: &Value| usage["total_tokens"].as_u64().is_some_and(|n| n > 0);
    assert_eq!(counted(usage), F::upstream_counts_tokens(), "{usage}");

    let whole = fixture
        .gateway()
        .chat_ok(&fixture.plain("exactly this", false))
        .await;
    let choice = &whole["choices"][0];
    assert_eq!(
        choice["message"]["content"],
        json!(fixture.answer("exactly this"))
    );
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        counted(&whole["usage"]),
        F::upstream_counts_tokens(),
        "{whole}"
    );
}

/// The model callers ask for is in `GET /v1/models` (a plugin that asks its
/// upstream for the list has it a moment after the start).
async fn the_model_list_names_the_model<F: Fixture>() {
    let fixture = F::start().await;
    let model = fixture.plain("x", false)["model"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ids = fixture.gateway().model_ids().await;
        if ids.contains(&model) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{model} not in {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An answer the upstream breaks off mid-way ends in an error frame, never
/// in a silent success.
async fn a_stream_cut_midway_ends_in_an_error_frame<F: Fixture>() {
    let fixture = F::start().await;
    let body = fixture.request(Upstream::CutMidway, "hello there", true);
    let (status, frames) = bounded_stream(fixture.gateway(), &body).await;
    assert_eq!(status, 200, "{frames:?}");
    let text = streamed_text(&frames);
    assert!(
        !text.is_empty() && fixture.answer("hello there").starts_with(&text),
        "the first pieces arrived: {text:?}"
    );
    let last = frames.last().expect("frames");
    assert!(
        last["error"]["message"].is_string(),
        "ends with an error frame: {frames:?}"
    );
    assert!(!frames.iter().any(|f| f == "[DONE]"), "{frames:?}");
    assert!(
        frames
            .iter()
            .all(|f| f["choices"][0]["finish_reason"] != "stop"),
        "{frames:?}"
    );
}

/// The upstream's thoughts come back as `reasoning_content`, apart from the
/// answer and before it, streamed or whole.
async fn thoughts_come_back_as_reasoning<F: Fixture>() {
    let fixture = F::start().await;
    let (status, frames) = bounded_stream(
        fixture.gateway(),
        &fixture.request(Upstream::Thinking, "ponder", true),
    )
    .await;
    assert_eq!(status, 200, "{frames:?}");
    assert!(!streamed_reasoning(&frames).is_empty(), "{frames:?}");
    assert!(reasoning_comes_first(&frames), "thoughts first: {frames:?}");
    assert_eq!(streamed_text(&frames), fixture.answer("ponder"));

    let whole = fixture
        .gateway()
        .chat_ok(&fixture.request(Upstream::Thinking, "ponder", false))
        .await;
    let message = &whole["choices"][0]["message"];
    assert_eq!(message["content"], json!(fixture.answer("ponder")));
    assert!(
        message["reasoning_content"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{whole}"
    );
}

/// With every account rate-limited the caller gets 429 and a `Retry-After`
/// saying when to come back, streamed or not.
async fn every_account_rate_limited_is_429_with_retry_after<F: Fixture>() {
    let (fixture, body) = F::start_rate_limited().await;
    for stream in [false, true] {
        let mut body = body.clone();
        body["stream"] = json!(stream);
        let (status, retry_after, error) = failure(fixture.gateway(), &body).await;
        assert_eq!(status, 429, "stream {stream}: {error}");
        assert!(
            retry_after.is_some_and(|secs| secs >= 1),
            "stream {stream}: Retry-After {retry_after:?}"
        );
        assert_eq!(error["error"]["code"], "rate_limit_exceeded", "{error}");
    }
}

/// A prompt the upstream's content filter refuses is the caller's problem:
/// 400 `content_filter`, and the account is not blamed.
async fn a_filtered_prompt_is_400_content_filter<F: Fixture>() {
    let fixture = F::start().await;
    for stream in [false, true] {
        let body = fixture.request(Upstream::Filtered, "bad", stream);
        let (status, _, error) = failure(fixture.gateway(), &body).await;
        assert_eq!(status, 400, "stream {stream}: {error}");
        assert_eq!(error["error"]["code"], "content_filter", "{error}");
    }
    let states = account_states(fixture.gateway()).await;
    assert!(
        states.iter().all(|(_, state)| state == "healthy"),
        "no account is blamed for the caller's content: {states:?}"
    );
}

/// An account whose credentials the upstream refuses is benched, and the
/// other account serves the callers.
async fn expired_credentials_bench_the_account<F: Fixture>() {
    let (fixture, expired) = F::start_first_expired().await;
    for _ in 0..3 {
        let answer = fixture
            .gateway()
            .chat_ok(&fixture.plain("still served", false))
            .await;
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            json!(fixture.answer("still served"))
        );
    }
    let states = account_states(fixture.gateway()).await;
    let benched = states
        .iter()
        .find(|(id, _)| *id == expired)
        .unwrap_or_else(|| panic!("no account {expired}: {states:?}"));
    assert_ne!(benched.1, "healthy", "{states:?}");
}

/// `(account id, state)` of every account, from the admin API.
async fn account_states(gateway: &Gateway) -> Vec<(String, String)> {
    gateway
        .accounts()
        .await
        .as_object()
        .unwrap()
        .values()
        .flat_map(|pool| pool["accounts"].as_array().unwrap().clone())
        .map(|account| {
            (
                account["id"].as_str().unwrap().to_string(),
                account["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The frames of the complete events in a partly read SSE body.
fn complete_frames(text: &str) -> Vec<Value> {
    match text.rfind("\n\n") {
        Some(end) => parse_sse(&text[..end + 2]),
        None => Vec::new(),
    }
}

/// One test per behaviour for a fixture.
macro_rules! conformance {
    ($module:ident, $fixture:ty) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn a_plain_answer_is_exact_streamed_and_whole_with_usage() {
                if !<$fixture>::available() {
                    return;
                }
                super::a_plain_answer_is_exact_streamed_and_whole_with_usage::<$fixture>().await;
            }

            #[tokio::test]
            async fn the_model_list_names_the_model() {
                if !<$fixture>::available() {
                    return;
                }
                super::the_model_list_names_the_model::<$fixture>().await;
            }

            #[tokio::test]
            async fn the_first_chunk_arrives_before_the_rest() {
                if !<$fixture>::available() {
                    return;
                }
                super::the_first_chunk_arrives_before_the_rest::<$fixture>().await;
            }

            #[tokio::test]
            async fn a_stream_cut_midway_ends_in_an_error_frame() {
                if !<$fixture>::available() {
                    return;
                }
                super::a_stream_cut_midway_ends_in_an_error_frame::<$fixture>().await;
            }

            #[tokio::test]
            async fn thoughts_come_back_as_reasoning() {
                if !<$fixture>::available() {
                    return;
                }
                super::thoughts_come_back_as_reasoning::<$fixture>().await;
            }

            #[tokio::test]
            async fn every_account_rate_limited_is_429_with_retry_after() {
                if !<$fixture>::available() {
                    return;
                }
                super::every_account_rate_limited_is_429_with_retry_after::<$fixture>().await;
            }

            #[tokio::test]
            async fn a_filtered_prompt_is_400_content_filter() {
                if !<$fixture>::available() {
                    return;
                }
                super::a_filtered_prompt_is_400_content_filter::<$fixture>().await;
            }

            #[tokio::test]
            async fn expired_credentials_bench_the_account() {
                if !<$fixture>::available() {
                    return;
                }
                super::expired_credentials_bench_the_account::<$fixture>().await;
            }
        }
    };
}

conformance!(gemini, fixtures::Gemini);
conformance!(vertex, fixtures::Vertex);
conformance!(openai_compatible, fixtures::OpenAiCompatible);
conformance!(openai_js, fixtures::OpenAiJs);
conformance!(qwen, fixtures::Qwen);
conformance!(gemini_business, fixtures::GeminiBusiness);
conformance!(gemini_web, fixtures::GeminiWeb);

/// The fixtures: each plugin's mock, accounts and scenario names.
mod fixtures {
    use super::*;

    /// The fixture methods every fixture (`mock` and `gateway` fields)
    /// answers the same way.
    macro_rules! handles {
        () => {
            fn gateway(&self) -> &Gateway {
                &self.gateway
            }
            fn held(&self) -> usize {
                self.mock.held()
            }
            fn release(&self) {
                self.mock.release()
            }
        };
    }

    /// A gateway serving `plugins` with `config` (its `[plugins.…]` and
    /// `[models]` sections) and these variables, and [`ADMIN_KEY`].
    fn builder(plugins: &[&str], config: &str, variables: &[(String, String)]) -> GatewayBuilder {
        let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
            .plugins(plugins)
            .config(&format!(
                "[runtime]\nfirst-event-timeout-secs = 20\n{config}"
            ))
            .env("ADMIN_KEY", ADMIN_KEY);
        for (name, value) in variables {
            builder = builder.env(name, value);
        }
        builder
    }

    fn gateway(plugin: &str, config: &str, variables: &[(String, String)]) -> Gateway {
        builder(&[plugin], config, variables).start()
    }

    fn variable(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    fn echo(text: &str) -> String {
        format!("echo: {text}")
    }

    /// `gemini` against mock-gemini: keys pick the account's fate by their
    /// prefix, the model name picks the scenario.
    pub struct Gemini {
        mock: mock_gemini::MockUpstream,
        gateway: Gateway,
    }

    impl Gemini {
        async fn with_keys(keys: &str) -> Self {
            let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
            let config = format!(
                r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env-list = "TEST_GEMINI_KEYS" }} }}
settings = {{ base-url = "{}" }}
[models]
"*" = "gemini"
"#,
                mock.base_url
            );
            let gateway = gateway("gemini", &config, &[variable("TEST_GEMINI_KEYS", keys)]);
            Gemini { mock, gateway }
        }
    }

    impl Fixture for Gemini {
        async fn start() -> Self {
            Self::with_keys("good-1,good-2").await
        }
        async fn start_rate_limited() -> (Self, Value) {
            let fixture = Self::with_keys("limited-0-a,limited-0-b").await;
            let body = fixture.plain("x", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            let fixture = Self::with_keys("bad-1,good-2").await;
            (fixture, "key-1".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let model = match upstream {
                Upstream::HoldAfterFirstPiece => "hold",
                Upstream::CutMidway => "disconnect",
                Upstream::Thinking => "thinking",
                Upstream::Filtered => "blocked_prompt",
            };
            user_request(model, text, stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("gemini-2.5-flash", text, stream)
        }
        fn answer(&self, text: &str) -> String {
            echo(text)
        }
    }

    /// `vertex` against mock-vertex: express keys (a wrong one is refused),
    /// the model `mock-<scenario>` picks the scenario.
    pub struct Vertex {
        mock: mock_vertex::MockUpstream,
        gateway: Gateway,
    }

    impl Vertex {
        async fn with_keys(keys: &str) -> Self {
            let mock = mock_vertex::spawn(mock_vertex::MockOptions::default()).await;
            let config = format!(
                r#"
[plugins.vertex]
allowed-hosts = []
[[plugins.vertex.accounts]]
id = "express"
secrets = {{ express-api-key = {{ env-list = "TEST_VERTEX_KEYS" }} }}
settings = {{ base-url = "{}" }}
[models]
"vertex-*" = {{ plugin = "vertex", model = "*" }}
"#,
                mock.base_url
            );
            let gateway = gateway("vertex", &config, &[variable("TEST_VERTEX_KEYS", keys)]);
            Vertex { mock, gateway }
        }
    }

    impl Fixture for Vertex {
        async fn start() -> Self {
            let key = mock_vertex::MockOptions::default().express_key;
            Self::with_keys(&format!("{key},{key}")).await
        }
        async fn start_rate_limited() -> (Self, Value) {
            // Vertex limits by project, so every key meets the same 429.
            let fixture = Self::start().await;
            let body = user_request("vertex-mock-429", "x", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            let key = mock_vertex::MockOptions::default().express_key;
            let fixture = Self::with_keys(&format!("revoked-key,{key}")).await;
            (fixture, "express-1".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let model = match upstream {
                Upstream::HoldAfterFirstPiece => "vertex-mock-hold",
                Upstream::CutMidway => "vertex-mock-disconnect",
                Upstream::Thinking => "vertex-mock-thinking",
                Upstream::Filtered => "vertex-mock-blocked_prompt",
            };
            user_request(model, text, stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("vertex-gemini-2.5-flash", text, stream)
        }
        fn answer(&self, text: &str) -> String {
            echo(text)
        }
    }

    /// `openai-compatible` against mock-openai: keys pick the account's fate
    /// by their prefix (`limited-*`, `bad-*`), the model `mock-<scenario>`
    /// picks the scenario.
    /// The OpenAI-style plugins against mock-openai: keys pick the account's
    /// fate by their prefix, the model name picks the scenario. The plugin is
    /// `openai-compatible` (Rust), or `openai-js` (JavaScript, built with
    /// componentize-js and dropped into the running gateway).
    pub struct OpenAi<const JS: bool> {
        mock: mock_openai::MockUpstream,
        gateway: Gateway,
    }

    pub type OpenAiCompatible = OpenAi<false>;
    pub type OpenAiJs = OpenAi<true>;

    impl<const JS: bool> OpenAi<JS> {
        async fn with_keys(keys: &str) -> Self {
            let mock = mock_openai::spawn(mock_openai::MockOptions::default()).await;
            let plugin = if JS { JS_PLUGIN } else { "openai-compatible" };
            let config = format!(
                r#"
[[plugins.{plugin}.accounts]]
id = "upstream"
secrets = {{ api-key = {{ env-list = "TEST_OAI_KEYS" }} }}
settings = {{ base-url = "{}/v1/" }}
[models]
"*" = "{plugin}"
"#,
                mock.base_url
            );
            let variables = [variable("TEST_OAI_KEYS", keys)];
            let gateway = if JS {
                let (gateway, _) = builder(&[], &config, &variables)
                    .start_with_js_plugin()
                    .await
                    .expect("available() said the JS plugin builds");
                gateway
            } else {
                builder(&[plugin], &config, &variables).start()
            };
            OpenAi { mock, gateway }
        }
    }

    impl<const JS: bool> Fixture for OpenAi<JS> {
        fn available() -> bool {
            !JS || built_js_plugin().is_some()
        }
        async fn start() -> Self {
            Self::with_keys("good-a,good-b").await
        }
        async fn start_rate_limited() -> (Self, Value) {
            let fixture = Self::with_keys("limited-a,limited-b").await;
            let body = fixture.plain("x", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            let fixture = Self::with_keys("bad-a,good-b").await;
            (fixture, "upstream-1".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let model = match upstream {
                Upstream::HoldAfterFirstPiece => "mock-hold",
                Upstream::CutMidway => "mock-cut",
                Upstream::Thinking => "mock-reasoning",
                Upstream::Filtered => "mock-filter",
            };
            user_request(model, text, stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("gpt-4o-mini", text, stream)
        }
        fn answer(&self, text: &str) -> String {
            echo(text)
        }
    }

    /// `qwen` (its tongyi site) against mock-qwen: two cookie accounts, the
    /// scenario by `#scenario=` in the prompt; the answer is the mock's own.
    pub struct Qwen {
        mock: mock_qwen::MockUpstream,
        gateway: Gateway,
    }

    const QWEN_SECOND_COOKIE: &str = "tongyi_sso_ticket=ticket-2; t=2222";

    impl Qwen {
        /// Mock accounts `cn-1` and `cn-2`, the first `expired` or not.
        async fn with_accounts(first_expired: bool) -> Self {
            let first = mock_qwen::CnAccount::new(
                "cn-1",
                mock_qwen::DEFAULT_CN_COOKIE,
                mock_qwen::DEFAULT_CN_XSRF,
            );
            let mock = mock_qwen::spawn(mock_qwen::MockOptions {
                cn_accounts: vec![
                    if first_expired {
                        first.expired()
                    } else {
                        first
                    },
                    mock_qwen::CnAccount::new("cn-2", QWEN_SECOND_COOKIE, "xsrf-2"),
                ],
                ..mock_qwen::MockOptions::default()
            })
            .await;
            let mut config = String::from(
                "[plugins.qwen]\nallowed-hosts = [\"api.tongyi.com\", \"chat.qwen.ai\"]\n",
            );
            for id in ["cn-1", "cn-2"] {
                let suffix = id.to_uppercase().replace('-', "_");
                config.push_str(&format!(
                    "[[plugins.qwen.accounts]]\nid = \"{id}\"\nsecrets = {{ cookie = {{ env = \"QWEN_COOKIE_{suffix}\" }}, xsrf-token = {{ env = \"QWEN_XSRF_{suffix}\" }} }}\nsettings = {{ base-url = \"{}\" }}\n",
                    mock.base_url
                ));
            }
            config.push_str("[models]\n\"qwen*\" = \"qwen\"\n");
            let variables = [
                variable("QWEN_COOKIE_CN_1", mock_qwen::DEFAULT_CN_COOKIE),
                variable("QWEN_XSRF_CN_1", mock_qwen::DEFAULT_CN_XSRF),
                variable("QWEN_COOKIE_CN_2", QWEN_SECOND_COOKIE),
                variable("QWEN_XSRF_CN_2", "xsrf-2"),
            ];
            let gateway = gateway("qwen", &config, &variables);
            Qwen { mock, gateway }
        }
    }

    impl Fixture for Qwen {
        fn upstream_counts_tokens() -> bool {
            false
        }
        async fn start() -> Self {
            Self::with_accounts(false).await
        }
        async fn start_rate_limited() -> (Self, Value) {
            let fixture = Self::start().await;
            let body = user_request("qwen-max", "x #scenario=ratelimit", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            (Self::with_accounts(true).await, "cn-1".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let (model, scenario) = match upstream {
                Upstream::HoldAfterFirstPiece => {
                    // mock-qwen holds every stream while its hold is on.
                    self.mock.hold();
                    ("qwen-max", "")
                }
                Upstream::CutMidway => ("qwen-max", " #scenario=disconnect"),
                Upstream::Thinking => ("qwen-max-thinking", ""),
                Upstream::Filtered => ("qwen-max", " #scenario=refused"),
            };
            user_request(model, &format!("{text}{scenario}"), stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("qwen-max", text, stream)
        }
        fn answer(&self, _text: &str) -> String {
            mock_qwen::MockOptions::default().answer
        }
    }

    /// `gemini-business` against mock-gemini-business: two cookie accounts
    /// (the mock says which are expired or limited), the scenario by
    /// `#scenario=` in the prompt; every answer carries thoughts.
    pub struct GeminiBusiness {
        mock: mock_gemini_business::MockUpstream,
        gateway: Gateway,
    }

    impl GeminiBusiness {
        async fn with_accounts(
            change: impl Fn(usize, &mut mock_gemini_business::MockAccount),
        ) -> Self {
            let mut accounts: Vec<_> = (1..=2)
                .map(mock_gemini_business::MockAccount::numbered)
                .collect();
            for (index, account) in accounts.iter_mut().enumerate() {
                change(index, account);
            }
            let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions {
                accounts,
                ..mock_gemini_business::MockOptions::default()
            })
            .await;
            let mut config = String::from(
                "[plugins.gemini-business]\nallowed-hosts = [\"business.gemini.google\", \"biz-discoveryengine.googleapis.com\"]\n",
            );
            for (index, id) in ["first", "second"].iter().enumerate() {
                config.push_str(&format!(
                    "[[plugins.gemini-business.accounts]]\nid = \"{id}\"\nsecrets = {{ accounts-config = {{ env = \"ACCOUNTS_CONFIG\" }} }}\nsettings = {{ base-url = \"{}\", index = \"{index}\" }}\n",
                    mock.base_url
                ));
            }
            config.push_str("[models]\n\"gemini-*\" = \"gemini-business\"\n");
            let variables = [variable("ACCOUNTS_CONFIG", &mock.accounts_config())];
            let gateway = gateway("gemini-business", &config, &variables);
            GeminiBusiness { mock, gateway }
        }
    }

    impl Fixture for GeminiBusiness {
        fn upstream_counts_tokens() -> bool {
            false
        }
        async fn start() -> Self {
            Self::with_accounts(|_, _| {}).await
        }
        async fn start_rate_limited() -> (Self, Value) {
            let fixture = Self::with_accounts(|_, account| account.rate_limited = true).await;
            let body = fixture.plain("x", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            let fixture =
                Self::with_accounts(|index, account| account.cookies_expired = index == 0).await;
            (fixture, "first".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let marker = match upstream {
                Upstream::HoldAfterFirstPiece => " #scenario=hold",
                Upstream::CutMidway => " #scenario=cut",
                Upstream::Thinking => "",
                Upstream::Filtered => " #scenario=skip",
            };
            user_request("gemini-auto", &format!("{text}{marker}"), stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("gemini-auto", text, stream)
        }
        fn answer(&self, _text: &str) -> String {
            mock_gemini_business::MockOptions::default().answer.concat()
        }
    }

    /// `gemini-web` against mock-gemini-web: two accounts with cookies (the
    /// mock's session, or a stranger's it treats as signed out), the scenario
    /// by `#scenario=` in the prompt; the answer is the mock's own.
    pub struct GeminiWeb {
        mock: mock_gemini_web::MockUpstream,
        gateway: Gateway,
    }

    impl GeminiWeb {
        /// Accounts `first` and `second` on the mock's session, unless
        /// `first_signed_out`.
        async fn with_accounts(first_signed_out: bool) -> Self {
            let mock = mock_gemini_web::spawn(mock_gemini_web::MockOptions::default()).await;
            let mut variables = Vec::new();
            let mut config = String::from(
                "[plugins.gemini-web]\nallowed-hosts = [\"gemini.google.com\", \"accounts.google.com\", \"content-push.googleapis.com\", \"*.googleusercontent.com\"]\n",
            );
            for id in ["first", "second"] {
                let (psid, psidts) = if first_signed_out && id == "first" {
                    (
                        "mock-psid-stranger".to_string(),
                        "mock-psidts-stranger".to_string(),
                    )
                } else {
                    (
                        mock_gemini_web::DEFAULT_PSID.to_string(),
                        mock_gemini_web::DEFAULT_PSIDTS.to_string(),
                    )
                };
                let suffix = id.to_uppercase();
                variables.push((format!("WEB_PSID_{suffix}"), psid));
                variables.push((format!("WEB_PSIDTS_{suffix}"), psidts));
                config.push_str(&format!(
                    "[[plugins.gemini-web.accounts]]\nid = \"{id}\"\nsecrets = {{ psid = {{ env = \"WEB_PSID_{suffix}\" }}, psidts = {{ env = \"WEB_PSIDTS_{suffix}\" }} }}\nsettings = {{ base-url = \"{}\" }}\n",
                    mock.base_url
                ));
            }
            config.push_str("[models]\n\"gemini-*\" = \"gemini-web\"\n");
            let gateway = gateway("gemini-web", &config, &variables);
            GeminiWeb { mock, gateway }
        }
    }

    impl Fixture for GeminiWeb {
        fn upstream_counts_tokens() -> bool {
            false
        }
        async fn start() -> Self {
            Self::with_accounts(false).await
        }
        async fn start_rate_limited() -> (Self, Value) {
            // Both accounts share the mock's session, so both meet its limit.
            let fixture = Self::start().await;
            let body = user_request("gemini-3-flash", "x #scenario=1060", false);
            (fixture, body)
        }
        async fn start_first_expired() -> (Self, String) {
            (Self::with_accounts(true).await, "first".into())
        }
        handles!();
        fn request(&self, upstream: Upstream, text: &str, stream: bool) -> Value {
            let (model, marker) = match upstream {
                Upstream::HoldAfterFirstPiece => {
                    // mock-gemini-web holds every stream while its hold is on.
                    self.mock.set_hold(true);
                    ("gemini-3-flash", "")
                }
                Upstream::CutMidway => ("gemini-3-flash", " #scenario=cut"),
                Upstream::Thinking => ("gemini-3-flash-thinking", ""),
                Upstream::Filtered => ("gemini-3-flash", " #scenario=1003"),
            };
            user_request(model, &format!("{text}{marker}"), stream)
        }
        fn plain(&self, text: &str, stream: bool) -> Value {
            user_request("gemini-3-flash", text, stream)
        }
        fn answer(&self, _text: &str) -> String {
            mock_gemini_web::DEFAULT_ANSWER.to_string()
        }
    }
}
