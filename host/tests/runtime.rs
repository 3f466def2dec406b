//! What the runtime promises across requests and restarts: compiled plugins
//! are cached, egress connections are reused, plugins nobody configured run
//! on their manifest only, routes fall back, and a bad configuration is
//! refused at start with its file and line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmgate_testkit::{Gateway, user_request};

/// A minimal HTTP/1.1 keep-alive server that counts the connections it accepts.
async fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
                        if socket.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (origin, connections)
}

#[tokio::test]
async fn egress_reuses_connections_across_requests_and_instances() {
    let (origin, connections) = counting_upstream().await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&format!(
            r#"
[plugins.misbehave]
allowed-hosts = ["{origin}"]
[[plugins.misbehave.accounts]]
id = "a"
settings = {{ target-url = "{origin}/ping" }}
"#
        ))
        .start();
    for _ in 0..5 {
        let answer = gateway
            .chat_ok(&user_request("misbehave-egress", "go", false))
            .await;
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "reached status 200: ok"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "five requests, each in a fresh plugin instance, share one keep-alive connection"
    );
}

#[tokio::test]
async fn a_restart_loads_plugins_from_the_compile_cache() {
    let cache = tempfile::tempdir().unwrap();
    let start = || {
        Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
            .plugins(&["misbehave"])
            .cache_dir(cache.path())
            .start()
    };
    let first = start();
    assert!(
        first.logs().contains("compiled=\"now\""),
        "{}",
        first.logs()
    );
    drop(first);
    let second = start();
    let logs = second.logs();
    assert!(
        logs.contains("compiled=\"cached\"") && !logs.contains("compiled=\"now\""),
        "{logs}"
    );
    second
        .chat_ok(&user_request("misbehave-echo", "from the cache", false))
        .await;
}

#[tokio::test]
async fn a_plugin_nobody_configured_runs_on_its_manifest_and_prefixed_variables() {
    let (origin, connections) = counting_upstream().await;
    // No [plugins.misbehave]: its manifest declares the secret `token` and no hosts.
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .env("WASMGATE_PLUGIN_MISBEHAVE_TOKEN", "from-prefixed-variable")
        .env("API_KEY", "gateway-key")
        .env("OTHER_TOKEN", "not-for-plugins")
        .start();
    let logs = gateway.logs();
    assert!(
        logs.contains("grant: plugin misbehave@") && logs.contains("(manifest)"),
        "grants are logged: {logs}"
    );
    let answer = gateway
        .chat_ok(&user_request(
            "misbehave-snoop",
            "token API_KEY OTHER_TOKEN",
            false,
        ))
        .await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("token=from-prefixed-variable"), "{text}");
    assert!(
        text.contains("API_KEY=<none>") && text.contains("OTHER_TOKEN=<none>"),
        "{text}"
    );
    // Its manifest grants no host, so egress to a live server is refused
    // and that server never sees a connection.
    let refused = gateway
        .chat(&user_request(
            "misbehave-egress",
            &format!("{origin}/ping"),
            false,
        ))
        .await;
    assert_eq!(refused.status(), 502);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("denied"),
        "{body}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_route_falls_back_when_its_plugin_fails() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(
            r#"
[runtime]
max-cpu-ms = 300
[[plugins.misbehave.accounts]]
id = "a"
[models]
"resilient" = { plugin = "misbehave", model = "misbehave-trap", fallback = [{ plugin = "misbehave", model = "misbehave-echo" }] }
"#,
        )
        .start();
    let answer = gateway
        .chat_ok(&user_request("resilient", "served by the fallback", false))
        .await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "served by the fallback"
    );
}

#[tokio::test]
async fn a_bad_configuration_is_refused_at_start_with_file_and_line() {
    let output = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(
            "[models]\n\"a\" = \"misbehave\"\n\"b\" = { plugin = \"misbehave\", modle = \"x\" }\n",
        )
        .start_failing();
    // The harness writes a 4-line [server] section first: "b" is on line 7.
    assert!(
        output.contains("plugins.toml:7:"),
        "names the file and line: {output}"
    );
    assert!(
        output.contains("keys: plugin, model, default, fallback"),
        "says what is wrong: {output}"
    );

    let output = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config("[plugins.misbehave]\nallowed-hosts = [\"*\"]\n")
        .start_failing();
    assert!(
        output.contains("plugins.toml:6:") && output.contains("too broad"),
        "{output}"
    );
}

#[tokio::test]
async fn plugin_state_survives_a_restart_in_the_data_directory() {
    let data = tempfile::tempdir().unwrap();
    let start = || {
        Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
            .plugins(&["misbehave"])
            .env("WASMGATE_DATA_DIR", data.path().to_str().unwrap())
            .start()
    };
    let first = start();
    assert!(
        first.logs().contains("kept across restarts"),
        "{}",
        first.logs()
    );
    let answer = first
        .chat_ok(&user_request("misbehave-remember", "alpha", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "<none>");
    // Saved within a second of the change, and again on shutdown.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    drop(first);

    let second = start();
    let answer = second
        .chat_ok(&user_request("misbehave-remember", "beta", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "alpha");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("wasmgate-state.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the state file is readable by its owner only"
        );
    }
}

#[tokio::test]
async fn each_request_logs_one_json_line_without_secrets() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"acct\"\nsecrets = { token = { env = \"PLUGIN_TOKEN\" } }\n")
        .env("LOG_FORMAT", "json")
        .env("API_KEY", "sk-gateway-secret")
        .env("PLUGIN_TOKEN", "plugin-secret-value")
        .start();
    gateway
        .chat_ok(&user_request("misbehave-snoop", "token", false))
        .await;
    let missing = gateway
        .chat(&user_request("no-such-model", "x", false))
        .await;
    assert_eq!(missing.status(), 404);

    let request_lines = |logs: &str| -> Vec<serde_json::Value> {
        logs.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == "request")
            .collect()
    };
    // The log is read from the gateway's stdout by a thread: let it catch up.
    for _ in 0..100 {
        if request_lines(&gateway.logs()).len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let logs = gateway.logs();
    let requests = request_lines(&logs);
    assert_eq!(requests.len(), 2, "one line per request:\n{logs}");
    assert_eq!(requests[0]["path"], "/v1/chat/completions");
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[0]["model"], "misbehave-snoop");
    assert_eq!(requests[0]["account"], "acct");
    assert!(
        requests[0]["plugin"]
            .as_str()
            .unwrap()
            .starts_with("misbehave@")
    );
    assert_eq!(requests[1]["status"], 404);
    assert!(
        logs.lines()
            .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()),
        "every line is JSON:\n{logs}"
    );
    assert!(
        !logs.contains("sk-gateway-secret") && !logs.contains("plugin-secret-value"),
        "{logs}"
    );
}

/// A dropped-in plugin chooses its own file name and secret names, so the
/// variables it may read have a namespace of their own: `secure.wasm` asking
/// for `token` does not read `SECURE_TOKEN` (think `SECURE_1PSID`, the
/// Gemini web cookie), nor a variable the configuration gives to a plugin.
#[tokio::test]
async fn a_dropped_in_plugin_never_reads_another_plugins_secrets() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugin_as("misbehave", "secure")
        .config(
            "[[plugins.gemini-web.accounts]]\nid = \"web\"\nsecrets = { psid = { env = \"SECURE_TOKEN\" }, other = { env = \"WASMGATE_PLUGIN_SECURE_TOKENS\" } }\n",
        )
        .env("SECURE_TOKEN", "the-web-cookie")
        .env("WASMGATE_PLUGIN_SECURE_TOKENS", "also-the-web-plugins")
        .env("API_KEY", "gateway-key")
        .start();
    let answer = gateway
        .chat_ok(&user_request("misbehave-snoop", "token", false))
        .await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("token=<none>"), "{text}");
    assert!(!gateway.logs().contains("the-web-cookie"));
}
