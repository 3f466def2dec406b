//! Account pools end to end: the real gateway, the Gemini plugin built from
//! source over ten API keys, and the mock Gemini API on loopback turning a
//! share of those keys bad — rate limits, refused keys, server errors — and
//! changing which ones over time.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream;
use mock_gemini::chaos::{self, ChaosPlan};
use mock_gemini::{KeyFault, MockOptions, MockUpstream};
use wasmgate_testkit::reqwest::Method;
use wasmgate_testkit::{Gateway, Value, failure, parse_sse, streamed_text, user_request};

const ADMIN_KEY: &str = "admin-secret";

fn keys(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("good-{i}")).collect()
}

async fn mock() -> MockUpstream {
    mock_gemini::spawn(MockOptions {
        chunk_delay: Duration::from_millis(1),
        ..MockOptions::default()
    })
    .await
}

/// A gateway over `keys` (accounts `key-1`…), the misbehave plugin as the
/// fallback of the `pooled` model, and a fast-healing pool policy.
fn gateway(mock: &MockUpstream, keys: &[String], pool: &str, data_dir: Option<&Path>) -> Gateway {
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&format!(
            r#"
[runtime]
first-event-timeout-secs = 10

[pool]
{pool}

[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env-list = "POOL_KEYS" }} }}
settings = {{ base-url = "{base}" }}

[models]
"pooled" = {{ plugin = "gemini", model = "gemini-2.5-flash", fallback = [{{ plugin = "misbehave", model = "misbehave-echo" }}] }}
"gemini-*" = "gemini"
"mock-*" = "gemini"
"#,
            base = mock.base_url
        ))
        .env("POOL_KEYS", &keys.join(","))
        .env("API_KEY", "sk-test-pools-suite")
        .env("ADMIN_KEY", ADMIN_KEY);
    if let Some(dir) = data_dir {
        builder = builder.env("WASMGATE_DATA_DIR", &dir.display().to_string());
    }
    builder.start()
}

/// `GET /admin/api/accounts` for the gemini plugin: account id → view.
async fn accounts(gateway: &Gateway) -> HashMap<String, Value> {
    let response = gateway
        .admin(Method::GET, "/admin/api/accounts")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["gemini"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_string(), a.clone()))
        .collect()
}

async fn operate(gateway: &Gateway, account: &str, action: &str) -> (u16, Value) {
    let response = gateway
        .admin(
            Method::POST,
            &format!("/admin/api/accounts/gemini/{account}/{action}"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One request; `Ok(plugin)` when a whole, correct answer came back.
async fn one_request(gateway: &Gateway, index: usize) -> Result<String, String> {
    let prompt = format!("request {index}");
    let stream = index.is_multiple_of(3);
    let response = gateway.chat(&user_request("pooled", &prompt, stream)).await;
    let status = response.status();
    let plugin = response
        .headers()
        .get("x-wasmgate-plugin")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {text}"));
    }
    let answer = if stream {
        let frames = parse_sse(&text);
        if frames.iter().any(|f| f.get("error").is_some())
            || frames.last() != Some(&"[DONE]".into())
        {
            return Err(format!("broken stream: {text}"));
        }
        streamed_text(&frames)
    } else {
        let body: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Gemini's mock echoes the prompt; misbehave's echo yields it word by word.
    let squeezed = |text: &str| text.split_whitespace().collect::<String>();
    if !squeezed(&answer).ends_with(&squeezed(&prompt)) {
        return Err(format!("wrong answer {answer:?}"));
    }
    Ok(plugin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chaotic_pool_still_serves_nearly_every_request_and_heals_by_itself() {
    let mock = mock().await;
    let keys = keys(10);
    let gateway = gateway(
        &mock,
        &keys,
        "probe-interval-secs = 1\nbreaker-open-secs = 1\nbreaker-window-secs = 10",
        None,
    );
    let plan = ChaosPlan {
        keys: keys.clone(),
        fraction: 0.3,
        period: Duration::from_secs(1),
        seed: 8,
        rate_limit_delay: Duration::from_secs(1),
        ..ChaosPlan::default()
    };
    let chaos = chaos::start(&mock, plan);

    // At least 2,000 requests, and at least four rounds of chaos, 16 at a time.
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut next = 0;
    while next < 2_000 || chaos.rounds().len() < 4 {
        let batch: Vec<_> = (next..next + 100).collect();
        next += 100;
        let results: Vec<_> = stream::iter(batch)
            .map(|i| one_request(&gateway, i))
            .buffer_unordered(16)
            .collect()
            .await;
        outcomes.extend(results);
    }
    let elapsed = started.elapsed();
    let rounds = chaos.rounds();
    chaos.stop();

    let total = outcomes.len();
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    let by_fallback = outcomes
        .iter()
        .filter(|o| o.as_ref().is_ok_and(|p| p.starts_with("misbehave@")))
        .count();
    let statuses = mock.generation_statuses();
    let upstream_failures = statuses.iter().filter(|(_, status)| *status != 200).count();
    let kinds: std::collections::BTreeSet<u16> = statuses.iter().map(|(_, s)| *s).collect();
    eprintln!(
        "{total} requests in {elapsed:?} over {} chaos rounds: {} failed, {by_fallback} by the fallback; \
         upstream calls {}, failed {upstream_failures}, statuses {kinds:?}",
        rounds.len(),
        failed.len(),
        statuses.len()
    );
    assert!(
        failed.len() * 1000 <= total * 5,
        "{} of {total} requests failed (more than 0.5 %): {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    // The chaos was real: the upstream refused calls in every way.
    for status in [400, 429, 500, 503] {
        assert!(
            kinds.contains(&status),
            "the mock never answered {status}: {kinds:?}"
        );
    }
    // The pool learns: blind rotation would send ~30 % of calls to a bad key.
    assert!(
        upstream_failures * 100 < total * 15,
        "{upstream_failures} failed upstream calls for {total} requests: bad keys were not taken out"
    );
    let logs = gateway.logs();
    for transition in [
        "account cooling down",
        "account out until a probe succeeds",
        "account healthy again",
    ] {
        assert!(logs.contains(transition), "no {transition:?} in the log");
    }
    for key in &keys {
        assert!(!logs.contains(key.as_str()), "a key shows in the log");
    }

    // The chaos is over: every account comes back by itself, through its
    // cooldown ending or a probe succeeding, under light traffic.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for i in 0..10 {
            one_request(&gateway, 10_000 + i).await.unwrap();
        }
        let accounts = accounts(&gateway).await;
        let unhealthy: Vec<String> = accounts
            .values()
            .filter(|a| a["state"] != "healthy")
            .map(|a| format!("{} {}", a["id"], a["state"]))
            .collect();
        if unhealthy.is_empty() {
            assert_eq!(accounts.len(), 10);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "accounts did not heal: {unhealthy:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_fallback_serves_while_a_whole_plugin_is_down_and_the_plugin_returns_after() {
    let mock = mock().await;
    let keys = keys(3);
    let gateway = gateway(&mock, &keys, "breaker-open-secs = 1", None);
    mock.set_key_faults(keys.iter().map(|k| (k.clone(), KeyFault::Unavailable)));

    for i in 0..12 {
        let served_by = one_request(&gateway, i).await.unwrap();
        assert!(served_by.starts_with("misbehave@"), "{served_by}");
    }
    // Three 503s per key open every breaker: later requests skip gemini.
    let calls = mock.generation_statuses().len();
    for i in 12..20 {
        one_request(&gateway, i).await.unwrap();
    }
    assert_eq!(
        mock.generation_statuses().len(),
        calls,
        "open breakers keep requests off the upstream"
    );
    let states: Vec<Value> = accounts(&gateway)
        .await
        .into_values()
        .map(|a| a["state"].clone())
        .collect();
    assert!(states.iter().all(|s| s == "breaker_open"), "{states:?}");

    // The upstream recovers: after the breaker's rest, probes close it.
    mock.set_key_faults([]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut served = Vec::new();
    for i in 20..26 {
        served.push(one_request(&gateway, i).await.unwrap());
    }
    assert!(
        served.iter().all(|p| p.starts_with("gemini@")),
        "{served:?}"
    );
}

#[tokio::test]
async fn a_stream_that_started_is_never_retried_but_an_unsent_answer_is() {
    let mock = mock().await;
    let keys = keys(5);
    let gateway = gateway(&mock, &keys, "retries = 2", None);

    // Two chunks, then the upstream connection dies.
    let (status, frames) = gateway
        .chat_stream(&user_request("mock-disconnect", "half an answer", true))
        .await;
    assert_eq!(status, 200);
    assert!(
        !streamed_text(&frames).is_empty(),
        "part of the answer came"
    );
    assert!(
        frames.iter().any(|f| f.get("error").is_some()),
        "then an error frame: {frames:?}"
    );
    assert_eq!(
        mock.generation_statuses().len(),
        1,
        "the stream had started: no other account was tried"
    );

    // Not streamed, nothing reached the client: other accounts are tried,
    // up to the retries (1 + 2), and the failure is a 502 saying how the
    // tries ended (the account ids stay in the operator's log).
    mock.clear_requests();
    let (status, _, body) = failure(
        &gateway,
        &user_request("mock-disconnect", "half an answer", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(mock.generation_statuses().len(), 3);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tried gemini: ") && message.contains("(3 accounts)"),
        "{message}"
    );
    assert!(!message.contains("key-"), "no account ids: {message}");
}

#[tokio::test]
async fn cooldowns_and_refused_keys_are_still_in_force_after_a_restart() {
    let mock = mock().await;
    let data = tempfile::tempdir().unwrap();
    let keys = keys(3);
    let first = gateway(&mock, &keys, "", Some(data.path()));
    mock.set_key_fault(
        "good-0",
        Some(KeyFault::RateLimited {
            retry_delay: Duration::from_secs(3600),
        }),
    );
    mock.set_key_fault("good-1", Some(KeyFault::InvalidKey));
    for i in 0..3 {
        let served_by = one_request(&first, i).await.unwrap();
        assert!(served_by.starts_with("gemini@"), "{served_by}");
    }
    let before = accounts(&first).await;
    assert_eq!(before["key-1"]["state"], "cooling_down");
    assert_eq!(before["key-1"]["reason"], "rate_limited");
    assert_eq!(before["key-2"]["state"], "broken");
    assert_eq!(before["key-3"]["state"], "healthy");
    let logs = first.terminate();
    assert!(!logs.contains("good-0"), "no key in the log");

    // The upstream has forgotten its faults; the gateway has not.
    mock.set_key_faults([]);
    mock.clear_requests();
    let second = gateway(&mock, &keys, "", Some(data.path()));
    let after = accounts(&second).await;
    assert_eq!(after["key-1"]["state"], "cooling_down");
    let left = after["key-1"]["seconds_left"].as_f64().unwrap();
    assert!(left > 3500.0 && left <= 3600.0, "{left}");
    assert_eq!(after["key-2"]["state"], "broken");
    assert_eq!(after["key-1"]["failures"], 1);
    for i in 0..6 {
        one_request(&second, i).await.unwrap();
    }
    let used: Vec<String> = mock
        .generation_statuses()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(used, ["good-2"; 6], "only the healthy key is used");
}

#[tokio::test]
async fn operators_see_masked_accounts_and_disable_enable_and_reset_them() {
    let mock = mock().await;
    let keys = keys(2);
    let gateway = gateway(&mock, &keys, "", None);

    let anonymous = gateway
        .client()
        .get(format!("{}/admin/api/accounts", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let listed = accounts(&gateway).await;
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(
        !shown.contains("good-0") && !shown.contains("good-1"),
        "{shown}"
    );
    let shown_key = listed["key-1"]["secrets"]["api-key"].as_str().unwrap();
    assert!(shown_key.starts_with("hmac:"), "{shown_key}");
    // Keyed: not the bare hash anyone could compute from a guess.
    for guess in ["good-0", "good-1"] {
        use sha2::Digest;
        let bare: String = sha2::Sha256::digest(guess.as_bytes())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&bare), "{shown}");
    }

    let (status, view) = operate(&gateway, "key-1", "disable").await;
    assert_eq!((status, view["state"].as_str()), (200, Some("disabled")));
    for i in 0..4 {
        one_request(&gateway, i).await.unwrap();
    }
    assert!(
        mock.generation_statuses()
            .iter()
            .all(|(key, _)| key == "good-1"),
        "a disabled account gets no request"
    );
    let (status, view) = operate(&gateway, "key-1", "enable").await;
    assert_eq!((status, view["state"].as_str()), (200, Some("healthy")));

    // A rate limit, then a reset: the account is back before its cooldown ends.
    mock.set_key_fault(
        "good-0",
        Some(KeyFault::RateLimited {
            retry_delay: Duration::from_secs(600),
        }),
    );
    for i in 0..2 {
        one_request(&gateway, i).await.unwrap();
    }
    assert_eq!(accounts(&gateway).await["key-1"]["state"], "cooling_down");
    mock.set_key_faults([]);
    let (status, view) = operate(&gateway, "key-1", "reset").await;
    assert_eq!((status, view["state"].as_str()), (200, Some("healthy")));
    mock.clear_requests();
    for i in 0..4 {
        one_request(&gateway, i).await.unwrap();
    }
    let used: Vec<String> = mock
        .generation_statuses()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(used.contains(&"good-0".to_string()), "{used:?}");

    let (status, _) = operate(&gateway, "key-9", "disable").await;
    assert_eq!(status, 404);
    let (status, _) = operate(&gateway, "key-1", "explode").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_account_rate_limited_is_429_with_the_soonest_return_without_calling_again() {
    let mock = mock().await;
    let keys = keys(2);
    let gateway = gateway(&mock, &keys, "", None);
    mock.set_key_fault(
        "good-0",
        Some(KeyFault::RateLimited {
            retry_delay: Duration::from_secs(40),
        }),
    );
    mock.set_key_fault(
        "good-1",
        Some(KeyFault::RateLimited {
            retry_delay: Duration::from_secs(20),
        }),
    );
    let (status, retry_after, body) =
        failure(&gateway, &user_request("gemini-2.5-flash", "x", false)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after, Some(20));
    assert_eq!(mock.generation_statuses().len(), 2);

    // Both cool down now: the next request is answered without a call.
    let (status, retry_after, body) =
        failure(&gateway, &user_request("gemini-2.5-flash", "x", true)).await;
    assert_eq!(status, 429, "{body}");
    assert!(matches!(retry_after, Some(19..=20)), "{retry_after:?}");
    assert_eq!(mock.generation_statuses().len(), 2, "no call while cooling");
}

#[tokio::test]
async fn busy_accounts_are_skipped_and_a_full_pool_is_429() {
    let mock = mock().await;
    let keys = keys(2);
    let gateway = gateway(&mock, &keys, "max-concurrent = 1", None);
    let held = user_request("mock-hold", "wait", true);
    // Two held streams, one per account.
    let (first, second) = tokio::join!(gateway.chat(&held), gateway.chat(&held));
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    mock.wait_for_held(2).await;
    let held_keys: Vec<String> = mock.requests().into_iter().filter_map(|r| r.key).collect();
    assert!(
        held_keys.contains(&"good-0".to_string()) && held_keys.contains(&"good-1".to_string()),
        "{held_keys:?}"
    );

    let (status, retry_after, body) =
        failure(&gateway, &user_request("gemini-2.5-flash", "x", false)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after, Some(1));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("concurrency limit"),
        "{body}"
    );

    mock.release();
    let (_, _) = (first.text().await.unwrap(), second.text().await.unwrap());
    one_request(&gateway, 1).await.unwrap();
}

#[tokio::test]
async fn an_expired_account_is_never_used() {
    let mock = mock().await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "old"
secrets = {{ api-key = {{ env = "OLD_KEY" }} }}
settings = {{ base-url = "{base}" }}
expires-at = 2020-01-01T00:00:00Z
[[plugins.gemini.accounts]]
id = "new"
secrets = {{ api-key = {{ env = "NEW_KEY" }} }}
settings = {{ base-url = "{base}" }}
expires-at = 2999-01-01
"#,
            base = mock.base_url
        ))
        .env("OLD_KEY", "good-old")
        .env("NEW_KEY", "good-new")
        .env("ADMIN_KEY", ADMIN_KEY)
        .start();
    for _ in 0..3 {
        gateway
            .chat_ok(&user_request("gemini-2.5-flash", "x", false))
            .await;
    }
    let used: Vec<String> = mock
        .generation_statuses()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(used, ["good-new"; 3]);
    let listed = accounts(&gateway).await;
    assert_eq!(listed["old"]["state"], "expired");
    assert_eq!(listed["new"]["state"], "healthy");
}
