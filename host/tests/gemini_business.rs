//! The Gemini Business plugin end to end: a real client, the real gateway,
//! the plugin built from source, and a mock of `business.gemini.google`
//! (`getoxsrf`) and the Discovery Engine widget API on loopback.

use std::time::Duration;

use base64::Engine;
use mock_gemini_business::{
    GENERATED_PNG, MockAccount, MockOptions, MockUpstream, TRICKY_PARTS, spawn,
};
use wasmgate_testkit::{Gateway, Value, json, reasoning_comes_first, streamed_text, user_request};

/// The gateway accounts of one test: `plugins.toml` blocks and the
/// environment variables their secrets come from.
#[derive(Default)]
struct Accounts {
    toml: String,
    env: Vec<(String, String)>,
    /// `auth-url` of the accounts added next, when not the mock's origin.
    auth_url: Option<String>,
}

impl Accounts {
    /// Points `getoxsrf` of the accounts added next at another origin.
    fn signing_in_at(mut self, auth_url: &str) -> Self {
        self.auth_url = Some(auth_url.to_string());
        self
    }

    /// A gateway account `id` holding mock account `index`'s cookies as
    /// one secret each; `extra_settings` are more `key = "value"` pairs.
    fn cookies(self, mock: &MockUpstream, id: &str, index: usize, extra_settings: &str) -> Self {
        self.cookies_until(mock, id, index, None, extra_settings)
    }

    /// Like [`Accounts::cookies`], with an `expires-at` secret.
    fn cookies_until(
        mut self,
        mock: &MockUpstream,
        id: &str,
        index: usize,
        expires_at: Option<&str>,
        extra_settings: &str,
    ) -> Self {
        let account = mock.account(index);
        let mut secrets = vec![
            ("secure-c-ses", account.secure_c_ses.clone()),
            ("csesidx", account.csesidx.clone()),
            ("config-id", account.config_id.clone()),
        ];
        if let Some(oses) = &account.host_c_oses {
            secrets.push(("host-c-oses", oses.clone()));
        }
        if let Some(at) = expires_at {
            secrets.push(("expires-at", at.to_string()));
        }
        let mut table = Vec::new();
        for (secret, value) in secrets {
            let variable = format!("GB_{id}_{secret}").to_uppercase().replace('-', "_");
            table.push(format!("{secret} = {{ env = \"{variable}\" }}"));
            self.env.push((variable, value));
        }
        self.block(mock, id, &table.join(", "), extra_settings)
    }

    /// A gateway account `id` that is element `index` of the
    /// `ACCOUNTS_CONFIG` variable (set once, by [`start`]).
    fn seed_element(self, mock: &MockUpstream, id: &str, index: usize) -> Self {
        self.block(
            mock,
            id,
            "accounts-config = { env = \"ACCOUNTS_CONFIG\" }",
            &format!("index = \"{index}\""),
        )
    }

    fn block(mut self, mock: &MockUpstream, id: &str, secrets: &str, extra: &str) -> Self {
        // base-url alone routes every request (issue #15); auth-url only
        // when a test moves the sign-in elsewhere.
        let mut settings = format!("base-url = \"{}\"", mock.base_url);
        if let Some(auth_url) = &self.auth_url {
            settings.push_str(&format!(", auth-url = \"{auth_url}\""));
        }
        if !extra.is_empty() {
            settings.push_str(", ");
            settings.push_str(extra);
        }
        self.toml.push_str(&format!(
            "\n[[plugins.gemini-business.accounts]]\nid = \"{id}\"\nsecrets = {{ {secrets} }}\nsettings = {{ {settings} }}\n"
        ));
        self
    }
}

fn start(mock: &MockUpstream, accounts: Accounts) -> Gateway {
    start_granting(mock, accounts, &[])
}

/// [`start`] with more `allowed-hosts`.
fn start_granting(mock: &MockUpstream, accounts: Accounts, hosts: &[&str]) -> Gateway {
    let mut allowed = vec![
        "business.gemini.google",
        "biz-discoveryengine.googleapis.com",
    ];
    allowed.extend_from_slice(hosts);
    let config = format!(
        r#"
[runtime]
first-event-timeout-secs = 10

[plugins.gemini-business]
# The real hosts as shipped, and any the test adds; the mock's origin is
# granted as every account's base-url.
allowed-hosts = {allowed:?}
{}
[models]
"gemini-*" = "gemini-business"
"#,
        accounts.toml
    );
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini-business"])
        .config(&config)
        .env("API_KEY", "sk-test-gemini-suite")
        .env("ACCOUNTS_CONFIG", &mock.accounts_config());
    for (name, value) in &accounts.env {
        builder = builder.env(name, value);
    }
    builder.start()
}

/// A mock and a gateway with one account: mock account 0, by cookies.
async fn setup(options: MockOptions) -> (MockUpstream, Gateway) {
    let mock = spawn(options).await;
    let gateway = start(&mock, Accounts::default().cookies(&mock, "only", 0, ""));
    (mock, gateway)
}

fn reasoning_of(frames: &[Value]) -> String {
    frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect()
}

/// The `csesidx` of the account each ask was made with, in order.
fn accounts_asked(mock: &MockUpstream) -> Vec<String> {
    mock.requests_to("widgetStreamAssist")
        .into_iter()
        .filter_map(|r| r.account)
        .collect()
}

fn statuses(mock: &MockUpstream, method: &str) -> Vec<u16> {
    mock.requests_to(method).iter().map(|r| r.status).collect()
}

async fn error_of(gateway: &Gateway, model: &str, prompt: &str) -> (u16, Option<u64>, Value) {
    let response = gateway.chat(&user_request(model, prompt, false)).await;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, response.json().await.unwrap())
}

#[tokio::test]
async fn the_jwt_is_fetched_once_reused_then_refreshed_when_refused() {
    let (mock, gateway) = setup(MockOptions::default()).await;
    for prompt in ["one", "two"] {
        let completion = gateway
            .chat_ok(&user_request("gemini-2.5-flash", prompt, false))
            .await;
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            "Hello, world!"
        );
    }
    assert_eq!(mock.requests_to("getoxsrf").len(), 1, "one signing key");
    assert_eq!(mock.signing_keys_issued(), 1);
    let asks = mock.requests_to("widgetStreamAssist");
    assert_eq!(asks.len(), 2);
    assert!(asks[0].jwt.is_some());
    assert_eq!(
        asks[0].jwt, asks[1].jwt,
        "the second request reuses the JWT"
    );

    // The upstream revokes its keys: the cached JWT is refused (401 on the
    // session call), a new key is fetched and the request still succeeds.
    mock.revoke_signing_keys();
    gateway
        .chat_ok(&user_request("gemini-2.5-flash", "three", false))
        .await;
    assert_eq!(mock.signing_keys_issued(), 2);
    let sessions = mock.requests_to("widgetCreateSession");
    let [.., refused, accepted] = &sessions[..] else {
        panic!("{sessions:?}")
    };
    assert_eq!((refused.status, accepted.status), (401, 200));
    assert_ne!(refused.key_id, accepted.key_id);

    // A 401 on the ask itself (the mock revokes the key it was signed with).
    let completion = gateway
        .chat_ok(&user_request(
            "gemini-2.5-flash",
            "four [mock:401-once]",
            false,
        ))
        .await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "Hello, world!"
    );
    assert_eq!(mock.signing_keys_issued(), 3);
    assert_eq!(
        statuses(&mock, "widgetStreamAssist"),
        [200, 200, 200, 401, 200]
    );

    // And the refreshed JWT is the one reused next.
    gateway
        .chat_ok(&user_request("gemini-2.5-flash", "five", false))
        .await;
    assert_eq!(mock.signing_keys_issued(), 3);
    let asks = mock.requests_to("widgetStreamAssist");
    assert_eq!(asks[asks.len() - 1].jwt, asks[asks.len() - 2].jwt);
    // The account's cookies never show in the gateway's log.
    assert!(!gateway.logs().contains(&mock.account(0).secure_c_ses));
}

#[tokio::test]
async fn a_sign_in_origin_of_its_own_must_be_granted() {
    let mock = spawn(MockOptions::default()).await;
    let port = mock.base_url.rsplit(':').next().unwrap();
    // The same mock under another name: another origin for the sandbox.
    let auth_origin = format!("http://localhost:{port}");
    let accounts = || {
        Accounts::default()
            .signing_in_at(&auth_origin)
            .cookies(&mock, "only", 0, "")
    };

    let refused = start(&mock, accounts());
    let (status, _, body) = error_of(&refused, "gemini-auto", "hi").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.to_string().contains("allowed-hosts"), "{body}");
    assert!(mock.requests().is_empty(), "nothing left the sandbox");
    drop(refused);

    let granted = start_granting(&mock, accounts(), &[&auth_origin]);
    granted
        .chat_ok(&user_request("gemini-auto", "hi", false))
        .await;
    let sign_in = &mock.requests_to("getoxsrf")[0];
    assert_eq!(
        sign_in.header("host"),
        Some(&auth_origin["http://".len()..])
    );
    let ask = &mock.requests_to("widgetStreamAssist")[0];
    assert_eq!(ask.header("host"), Some(&mock.base_url["http://".len()..]));
}

#[tokio::test]
async fn an_answer_cut_at_any_byte_arrives_as_exactly_the_right_text() {
    // Pieces of 1, 2, 3, 5, 7 and 13 bytes split the answer inside strings,
    // inside `\"`, `\\` and `\uXXXX` escapes (the answer has a surrogate
    // pair written as escapes) and inside multi-byte UTF-8 characters.
    for size in [1, 2, 3, 5, 7, 13] {
        let (mock, gateway) = setup(MockOptions {
            chunk_size: Some(size),
            delay: Duration::from_millis(1),
            ..MockOptions::default()
        })
        .await;
        let (status, frames) = gateway
            .chat_stream(&user_request("gemini-2.5-pro", "[mock:tricky]", true))
            .await;
        assert_eq!(status, 200, "pieces of {size}");
        assert_eq!(
            streamed_text(&frames),
            TRICKY_PARTS.concat(),
            "pieces of {size}"
        );
        assert_eq!(
            reasoning_of(&frames),
            "Working out a greeting…",
            "pieces of {size}"
        );
        assert_eq!(frames.last().unwrap(), "[DONE]");
        let ask = &mock.requests_to("widgetStreamAssist")[0];
        assert_eq!(
            ask.json().unwrap()["streamAssistRequest"]["assistGenerationConfig"]["modelId"],
            "gemini-2.5-pro"
        );
    }
}

#[tokio::test]
async fn thoughts_arrive_as_reasoning_content_before_the_text() {
    let (_mock, gateway) = setup(MockOptions {
        thoughts: vec!["Let me think… ".into(), "about «this» 🤔".into()],
        answer: vec!["Voilà".into(), ": 答え ✓".into()],
        ..MockOptions::default()
    })
    .await;
    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-auto", "think", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(reasoning_of(&frames), "Let me think… about «this» 🤔");
    assert_eq!(streamed_text(&frames), "Voilà: 答え ✓");
    assert!(reasoning_comes_first(&frames), "{frames:?}");

    // The same answer in one piece.
    let completion = gateway
        .chat_ok(&user_request("gemini-auto", "think", false))
        .await;
    let message = &completion["choices"][0]["message"];
    assert_eq!(message["content"], "Voilà: 答え ✓");
    assert_eq!(
        message["reasoning_content"],
        "Let me think… about «this» 🤔"
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn a_generated_image_reaches_the_client_as_a_markdown_data_url() {
    let (mock, gateway) = setup(MockOptions::default()).await;
    let image = format!(
        "![image](data:image/png;base64,{})",
        base64::engine::general_purpose::STANDARD.encode(GENERATED_PNG)
    );

    let completion = gateway
        .chat_ok(&user_request("gemini-imagen", "draw a red square", false))
        .await;
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert!(content.starts_with("Here is your image."), "{content}");
    assert!(content.ends_with(&image), "{content}");

    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-imagen", "draw a red square", true))
        .await;
    assert_eq!(status, 200);
    assert!(
        frames
            .iter()
            .any(|f| f["choices"][0]["delta"]["content"] == image.as_str()),
        "the image is one content delta"
    );
    assert_eq!(frames.last().unwrap(), "[DONE]");

    // Asked as image generation, downloaded with the account's JWT.
    let ask = mock.requests_to("widgetStreamAssist")[0].json().unwrap();
    assert_eq!(
        ask["streamAssistRequest"]["toolsSpec"],
        json!({"imageGenerationSpec": {}})
    );
    let downloads = mock.requests_to(":downloadFile");
    assert_eq!(downloads.len(), 2);
    assert!(downloads.iter().all(|d| d.status == 200 && d.jwt.is_some()));
}

/// A download that fails twice with 503 is retried after 1 s and 2 s (the
/// forks' backoff), and the image still arrives; the seed's image model
/// names reach image generation.
#[tokio::test]
async fn a_failing_image_download_is_retried_with_backoff() {
    let (mock, gateway) = setup(MockOptions::default()).await;
    let started = std::time::Instant::now();
    let completion = gateway
        .chat_ok(&user_request(
            "gemini-3.1-flash-image",
            "draw a red square [mock:download-503-twice]",
            false,
        ))
        .await;
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert!(content.contains("data:image/png;base64,"), "{content}");
    assert_eq!(statuses(&mock, ":downloadFile"), [503, 503, 200]);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "waited 1 s + 2 s between attempts"
    );
}

#[tokio::test]
async fn accounts_config_with_three_accounts_spreads_requests_over_all_three() {
    let mock = spawn(MockOptions {
        accounts: (1..=3).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    })
    .await;
    // Three gateway accounts fed the same ACCOUNTS_CONFIG, one element each.
    let accounts = (0..3).fold(Accounts::default(), |accounts, index| {
        accounts.seed_element(&mock, &format!("seed-{index}"), index)
    });
    let gateway = start(&mock, accounts);
    for n in 0..6 {
        gateway
            .chat_ok(&user_request("gemini-2.5-flash", &format!("hi {n}"), false))
            .await;
    }
    let mut asked = accounts_asked(&mock);
    asked.sort();
    let mut expected: Vec<String> = (0..3)
        .flat_map(|i| std::iter::repeat_n(mock.account(i).csesidx.clone(), 2))
        .collect();
    expected.sort();
    assert_eq!(asked, expected, "two requests on each account");
    // Each account signs in once and keeps its own JWT.
    assert_eq!(mock.signing_keys_issued(), 3);
    let mut signed_in: Vec<String> = mock
        .requests_to("getoxsrf")
        .into_iter()
        .filter_map(|r| r.account)
        .collect();
    signed_in.sort();
    signed_in.dedup();
    assert_eq!(signed_in.len(), 3);
}

#[tokio::test]
async fn an_expired_account_is_skipped_without_a_call() {
    let mock = spawn(MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    })
    .await;
    let accounts = Accounts::default()
        .cookies_until(&mock, "old", 0, Some("2020-01-01 08:00:00"), "")
        .cookies_until(&mock, "current", 1, Some("2999-01-01 00:00:00"), "");
    let gateway = start(&mock, accounts);
    // Round-robin starts on each account in turn: both requests succeed.
    for _ in 0..2 {
        gateway
            .chat_ok(&user_request("gemini-auto", "hi", false))
            .await;
    }
    let current = mock.account(1).csesidx.clone();
    assert_eq!(accounts_asked(&mock), [current.clone(), current]);
    let old = mock.account(0).csesidx.clone();
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.account.as_deref() != Some(old.as_str())
                && !r.query.clone().unwrap_or_default().contains(&old)),
        "the expired account never reached the upstream"
    );
    // `expires-at` is configured among the account's secrets here, so the
    // gateway masks its value in what the plugin says.
    assert!(
        gateway.logs().contains("account expired at ***"),
        "{}",
        gateway.logs()
    );
}

#[tokio::test]
async fn refused_cookies_on_every_account_are_a_502_naming_them() {
    let mut options = MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    };
    for account in &mut options.accounts {
        account.cookies_expired = true;
    }
    let mock = spawn(options).await;
    let gateway = start(
        &mock,
        Accounts::default()
            .cookies(&mock, "a", 0, "")
            .cookies(&mock, "b", 1, ""),
    );
    let (status, _, body) = error_of(&gateway, "gemini-auto", "hi").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unauthorized");
    assert!(body.to_string().contains("EXPIRED_SIGN_IN"), "{body}");
    // Both accounts were tried, and no cookie shows in the error.
    assert_eq!(statuses(&mock, "getoxsrf"), [401, 401]);
    for index in 0..2 {
        let account = mock.account(index);
        assert!(!body.to_string().contains(&account.secure_c_ses), "{body}");
    }
}

#[tokio::test]
async fn a_forbidden_account_everywhere_is_a_502_naming_it() {
    let mut options = MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    };
    options.accounts[0].restricted = true;
    let mock = spawn(options).await;
    let gateway = start(
        &mock,
        Accounts::default()
            .cookies(&mock, "a", 0, "")
            .cookies(&mock, "b", 1, ""),
    );
    // One restricted account: the other one answers.
    for _ in 0..2 {
        gateway
            .chat_ok(&user_request("gemini-auto", "hi", false))
            .await;
    }
    let good = mock.account(1).csesidx.clone();
    assert_eq!(accounts_asked(&mock), [good.clone(), good]);

    // Every account forbidden (by the ask): 403.
    let (status, _, body) = error_of(&gateway, "gemini-auto", "hi [mock:403]").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_forbidden");
    assert!(body.to_string().contains("PERMISSION_DENIED"), "{body}");
}

/// Business names no retry time on a 429, so the plugin reports none and the
/// gateway's `[pool]` cooldown (600 s by default) applies, for text and
/// images alike; the forks' fixed 2 h / 4 h no longer override it (#15).
#[tokio::test]
async fn every_account_rate_limited_is_429_with_the_pool_cooldown() {
    let mut options = MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    };
    for account in &mut options.accounts {
        account.rate_limited = true;
    }
    let mock = spawn(options).await;
    let gateway = start(
        &mock,
        Accounts::default()
            .cookies(&mock, "a", 0, "")
            .cookies(&mock, "b", 1, ""),
    );
    let (status, retry_after, body) = error_of(&gateway, "gemini-2.5-flash", "hi").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(retry_after, Some(600), "the [pool] default, not 2 h");
    assert_eq!(accounts_asked(&mock).len(), 2, "both accounts were tried");

    let (status, retry_after, _) = error_of(&gateway, "gemini-imagen", "draw a cat").await;
    assert_eq!(status, 429);
    assert!(
        retry_after.is_some_and(|s| s <= 600),
        "the [pool] default, not 4 h: {retry_after:?}"
    );
}

/// When the upstream does say how long, that is what the caller hears.
#[tokio::test]
async fn a_retry_after_the_upstream_sends_is_used() {
    let mut options = MockOptions {
        retry_after_seconds: Some(42),
        ..MockOptions::default()
    };
    options.accounts[0].rate_limited = true;
    let mock = spawn(options).await;
    let gateway = start(&mock, Accounts::default().cookies(&mock, "a", 0, ""));
    let (status, retry_after, body) = error_of(&gateway, "gemini-2.5-flash", "hi").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after, Some(42));
}

#[tokio::test]
async fn retry_after_is_the_soonest_of_the_accounts_cooldowns() {
    let mock = spawn(MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    })
    .await;
    let gateway = start(
        &mock,
        Accounts::default()
            .cookies(&mock, "a", 0, "text-cooldown-seconds = \"900\"")
            .cookies(&mock, "b", 1, "text-cooldown-seconds = \"300\""),
    );
    // A rate limit inside a 200 stream counts as one too.
    for prompt in ["[mock:429]", "[mock:429-stream]"] {
        let (status, retry_after, body) = error_of(&gateway, "gemini-auto", prompt).await;
        assert_eq!(status, 429, "{prompt}: {body}");
        assert_eq!(retry_after, Some(300), "{prompt}");
    }
}

#[tokio::test]
async fn other_refusals_are_not_retried_on_other_accounts() {
    let mock = spawn(MockOptions {
        accounts: (1..=2).map(MockAccount::numbered).collect(),
        ..MockOptions::default()
    })
    .await;
    let gateway = start(
        &mock,
        Accounts::default()
            .cookies(&mock, "a", 0, "")
            .cookies(&mock, "b", 1, ""),
    );
    let (status, _, body) = error_of(&gateway, "gemini-auto", "[mock:skip]").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "content_filter");
    assert_eq!(accounts_asked(&mock).len(), 1, "a policy refusal is final");

    let (status, _, body) = error_of(&gateway, "gemini-veo", "hi").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn attachments_are_uploaded_and_an_unsupported_type_is_400() {
    let (mock, gateway) = setup(MockOptions::default()).await;
    let png = base64::engine::general_purpose::STANDARD.encode(GENERATED_PNG);
    let with_image = json!({"model": "gemini-auto", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
    ]}]});
    gateway.chat_ok(&with_image).await;
    let upload = mock.requests_to("widgetAddContextFile")[0].json().unwrap();
    assert_eq!(upload["addContextFileRequest"]["mimeType"], "image/png");
    assert_eq!(
        upload["addContextFileRequest"]["fileContents"],
        png.as_str()
    );
    let ask = mock.requests_to("widgetStreamAssist")[0].json().unwrap();
    assert_eq!(
        ask["streamAssistRequest"]["fileIds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let with_program = json!({"model": "gemini-auto", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Run this"},
        {"type": "file", "file": {"file_data": "data:application/x-msdownload;base64,TVo="}}
    ]}]});
    let response = gateway.chat(&with_program).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(body.to_string().contains("Unsupported file type"), "{body}");
}
