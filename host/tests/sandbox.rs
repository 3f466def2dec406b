//! The sandbox as a plugin meets it: only granted hosts, only its own
//! account's secrets, no environment, no files, bounded CPU and memory — and
//! a plugin that breaks these rules fails its own request, never the gateway.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmgate_testkit::{Gateway, GatewayBuilder, user_request};

/// A TCP listener that only counts the connections it receives.
async fn connection_counter() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, count)
}

fn config(target_url: &str) -> String {
    format!(
        r#"
[runtime]
max-cpu-ms = 500
max-memory-mib = 32
first-event-timeout-secs = 20

[[plugins.misbehave.accounts]]
id = "alpha"
secrets = {{ token = {{ env = "ALPHA_TOKEN" }}, only-alpha = {{ env = "ALPHA_EXTRA" }} }}
settings = {{ target-url = "{target_url}" }}

[[plugins.misbehave.accounts]]
id = "beta"
secrets = {{ token = {{ env = "BETA_TOKEN" }} }}
settings = {{ target-url = "{target_url}" }}
"#
    )
}

fn builder(target_url: &str) -> GatewayBuilder {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave", "reads-files"])
        .config(&config(target_url))
        .env("ALPHA_TOKEN", "alpha-secret-value")
        .env("ALPHA_EXTRA", "alpha-extra-value")
        .env("BETA_TOKEN", "beta-secret-value")
        .env("UNRELATED_HOST_VARIABLE", "host-only")
}

async fn start(target_url: &str) -> Gateway {
    builder(target_url).start()
}

async fn error_of(gateway: &Gateway, model: &str) -> (u16, serde_json::Value) {
    let response = gateway.chat(&user_request(model, "go", false)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_host_not_granted_is_refused_and_never_contacted() {
    let (target, connections) = connection_counter().await;
    let gateway = start(&target).await;
    let (status, body) = error_of(&gateway, "misbehave-egress").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("denied"),
        "{body}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the forbidden host saw a connection"
    );
    let logs = gateway.wait_for_log("egress denied");
    assert!(
        logs.contains("egress denied") && logs.contains("misbehave") && logs.contains("127.0.0.1"),
        "the denial is logged with plugin and host:\n{logs}"
    );
}

#[tokio::test]
async fn each_account_sees_only_its_own_secrets() {
    let gateway = start("http://127.0.0.1:9/").await;
    let mut seen_alpha = false;
    let mut seen_beta = false;
    for _ in 0..4 {
        let answer = gateway
            .chat_ok(&user_request(
                "misbehave-snoop",
                "token only-alpha API_KEY HF_TOKEN",
                false,
            ))
            .await;
        let text = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            text.contains("API_KEY=<none>") && text.contains("HF_TOKEN=<none>"),
            "{text}"
        );
        if text.contains("token=alpha-secret-value") {
            seen_alpha = true;
            assert!(text.contains("only-alpha=alpha-extra-value"), "{text}");
            assert!(!text.contains("beta-secret-value"), "{text}");
        } else {
            assert!(text.contains("token=beta-secret-value"), "{text}");
            assert!(
                text.contains("only-alpha=<none>"),
                "account beta must not see alpha's secret: {text}"
            );
            assert!(
                !text.contains("alpha-secret-value") && !text.contains("alpha-extra-value"),
                "{text}"
            );
            seen_beta = true;
        }
    }
    assert!(
        seen_alpha && seen_beta,
        "requests rotate over both accounts"
    );
}

#[tokio::test]
async fn a_plugin_sees_no_environment_and_no_arguments() {
    let gateway = start("http://127.0.0.1:9/").await;
    let answer = gateway
        .chat_ok(&user_request("misbehave-snoop", "token", false))
        .await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with("env=[] args=0 "), "{text}");
}

#[tokio::test]
async fn a_plugin_that_uses_files_is_refused_at_load_and_the_rest_still_serve() {
    let gateway = start("http://127.0.0.1:9/").await;
    let logs = gateway.logs();
    assert!(
        logs.contains("reads-files.wasm") && logs.contains("wasi:filesystem"),
        "{logs}"
    );
    let (status, body) = error_of(&gateway, "reads-files").await;
    assert_eq!(status, 404, "{body}");
    gateway
        .chat_ok(&user_request("misbehave-echo", "still serving", false))
        .await;
}

#[tokio::test]
async fn loops_hogs_and_traps_fail_their_request_while_others_succeed() {
    let gateway = start("http://127.0.0.1:9/").await;
    let misbehaving = async {
        let (loop_status, loop_body) = error_of(&gateway, "misbehave-loop").await;
        assert_eq!(loop_status, 504, "{loop_body}");
        assert_eq!(loop_body["error"]["code"], "plugin_timeout");
        let (hog_status, hog_body) = error_of(&gateway, "misbehave-hog").await;
        assert_eq!(hog_status, 502, "{hog_body}");
        assert!(
            hog_body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("memory"),
            "{hog_body}"
        );
        let (trap_status, trap_body) = error_of(&gateway, "misbehave-trap").await;
        assert_eq!(trap_status, 502, "{trap_body}");
        assert_eq!(trap_body["error"]["code"], "plugin_crashed");
    };
    let well_behaved = async {
        for i in 0..20 {
            let text = format!("request {i}");
            let answer = gateway
                .chat_ok(&user_request("misbehave-echo", &text, false))
                .await;
            assert_eq!(answer["choices"][0]["message"]["content"], text);
        }
    };
    let spinning = async {
        let (status, _) = error_of(&gateway, "misbehave-loop").await;
        assert_eq!(status, 504);
    };
    tokio::join!(misbehaving, well_behaved, spinning);
    // The gateway is still healthy afterwards.
    gateway
        .chat_ok(&user_request("misbehave-echo", "after", false))
        .await;
}

/// A connection is served on one lane (a single-threaded runtime, see
/// `host/src/lanes.rs`) with the others it shares it with: a plugin that
/// computes without end must still let them through between its epoch
/// ticks, not hold the lane until its CPU budget runs out.
#[tokio::test]
async fn a_spinning_plugin_does_not_hold_up_its_lane() {
    let gateway = builder("http://127.0.0.1:9/")
        .env("WASMGATE_LANES", "1")
        .start();
    let spinner_done = std::sync::atomic::AtomicBool::new(false);
    let spinning = async {
        let (status, body) = error_of(&gateway, "misbehave-loop").await;
        spinner_done.store(true, Ordering::SeqCst);
        assert_eq!(status, 504, "{body}");
    };
    let well_behaved = async {
        // The spinner has the lane by then (it runs 500 ms of CPU).
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let answer = gateway
            .chat_ok(&user_request("misbehave-echo", "between ticks", false))
            .await;
        assert_eq!(answer["choices"][0]["message"]["content"], "between ticks");
        assert!(
            !spinner_done.load(Ordering::SeqCst),
            "answered only after the spinning plugin gave up its lane"
        );
    };
    tokio::join!(spinning, well_behaved);
}

/// A wildcard grant is meant for public names; an IP literal that it happens
/// to match never meets the resolver's filter, so it is checked on its own.
#[tokio::test]
async fn a_private_ip_literal_under_a_wildcard_grant_is_refused() {
    let (target, connections) = connection_counter().await;
    let port = target
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&format!(
            "[plugins.misbehave]\nallowed-hosts = [\"http://127.*.0.1:{port}\"]\n[[plugins.misbehave.accounts]]\nid = \"a\"\nsettings = {{ target-url = \"{target}\" }}\n"
        ))
        .env("API_KEY", "sk-sandbox-suite")
        .start();
    let (status, body) = error_of(&gateway, "misbehave-egress").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        gateway
            .wait_for_log("not a public address")
            .contains("not a public address")
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0, "never contacted");
}

/// Without keys the gateway serves whatever connects from this machine; a
/// plugin the operator granted loopback must still not become such a caller.
#[tokio::test]
async fn a_plugin_cannot_call_the_gateway_itself() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .start();
    let own = gateway.url.clone();
    gateway.rewrite_config(&format!(
        "[plugins.misbehave]\nallowed-hosts = [\"{own}\"]\n[[plugins.misbehave.accounts]]\nid = \"a\"\nsettings = {{ target-url = \"{own}/v1/models\" }}\n"
    ));
    gateway.wait_for_log("configuration reloaded");
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        last = error_of(&gateway, "misbehave-egress").await;
        if gateway
            .logs()
            .contains("egress denied: the gateway's own address")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = last;
    assert_eq!(status, 502, "{body}");
    assert!(
        gateway
            .logs()
            .contains("egress denied: the gateway's own address"),
        "{}",
        gateway.logs()
    );
}

/// What a plugin keeps in `state` belongs to the credentials it ran with:
/// when the operator puts other secrets under the same account id, the
/// plugin starts afresh instead of reading what the old ones left.
#[tokio::test]
async fn state_follows_the_credentials_not_just_the_account_id() {
    let account = |variable: &str| {
        format!(
            "[[plugins.misbehave.accounts]]\nid = \"shared-id\"\nsecrets = {{ token = {{ env = \"{variable}\" }} }}\n"
        )
    };
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&account("FIRST_TOKEN"))
        .env("FIRST_TOKEN", "first-credentials")
        .env("SECOND_TOKEN", "second-credentials")
        .env("API_KEY", "sk-sandbox-suite")
        .start();
    let remember = |text: &'static str| {
        let gateway = &gateway;
        async move {
            let answer = gateway
                .chat_ok(&user_request("misbehave-remember", text, false))
                .await;
            answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(remember("kept by the first").await, "<none>");
    assert_eq!(remember("again").await, "kept by the first");
    gateway.rewrite_config(&account("SECOND_TOKEN"));
    gateway.wait_for_log("configuration reloaded");
    let mut answer = String::new();
    for _ in 0..50 {
        answer = remember("kept by the second").await;
        if answer != "again" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(answer, "<none>", "the second credentials start afresh");
}
