//! What a caller can and cannot make the gateway do: a web page that reaches
//! a developer's keyless gateway, and a caller fishing for the operator's
//! inventory in error messages.

use wasmgate_testkit::{Gateway, Value, user_request};

fn keyless_gateway() -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .start()
}

/// Without a key the gateway serves this machine only; a web page in a local
/// browser is on this machine too, so it must not get in through a name that
/// resolves to 127.0.0.1 (DNS rebinding) or a cross-site form post.
#[tokio::test]
async fn a_keyless_gateway_refuses_web_pages_and_foreign_host_names() {
    let gateway = keyless_gateway();
    let url = format!("{}/v1/chat/completions", gateway.url);
    let body = user_request("misbehave-echo", "hello", false).to_string();
    let client = gateway.client();

    let local = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200, "a local client is served");

    let rebound = client
        .post(&url)
        .header("host", "attacker.example:7860")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "a foreign Host is refused");

    let cross_site = client
        .post(&url)
        .header("origin", "https://attacker.example")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "a foreign page is refused");
    let error: Value = cross_site.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API_KEY")
    );

    // What an HTML form can send without a preflight.
    let form = client
        .post(&url)
        .header("origin", "http://localhost:3000")
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "a non-JSON body is refused");

    let preflight = client
        .request(wasmgate_testkit::reqwest::Method::OPTIONS, &url)
        .header("origin", "https://attacker.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no origin is allowed by default without keys"
    );
}

/// A 502 tells the caller how each try ended, not which accounts or
/// variables the operator has: those go to the log, under the request's id.
#[tokio::test]
async fn failures_name_no_account_ids_or_variables_to_the_caller() {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .plugin_as("gemini", "gemini-spare")
        .config(&format!(
            r#"
[plugins.gemini]
[[plugins.gemini.accounts]]
id = "operator-account-alpha"
secrets = {{ api-key = {{ env = "OPERATOR_KEY_ALPHA" }} }}
settings = {{ base-url = "{url}" }}
[[plugins.gemini.accounts]]
id = "operator-account-beta"
secrets = {{ api-key = {{ env = "OPERATOR_KEY_BETA" }} }}
settings = {{ base-url = "{url}" }}

[plugins.gemini-spare]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini-spare.accounts]]
id = "operator-account-unset"
secrets = {{ api-key = {{ env = "OPERATOR_SECRET_VARIABLE" }} }}
settings = {{ base-url = "{url}" }}

[models]
"refused-*" = {{ plugin = "gemini", model = "*" }}
"orphan" = "gemini-spare"
"#,
            url = mock.base_url
        ))
        .env("OPERATOR_KEY_ALPHA", "bad-alpha-key-value")
        .env("OPERATOR_KEY_BETA", "bad-beta-key-value")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    for model in ["refused-gemini-2.5-flash", "orphan"] {
        let response = gateway.chat(&user_request(model, "go", false)).await;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .expect("every answer carries its request id")
            .to_str()
            .unwrap()
            .to_string();
        let text = response.text().await.unwrap();
        assert_eq!(status, 502, "{model}: {text}");
        for inventory in ["operator-account", "OPERATOR_", "key-value"] {
            assert!(!text.contains(inventory), "{model}: {inventory} in {text}");
        }
        let logs = gateway.wait_for_log(&format!("id={request_id}"));
        assert!(
            logs.contains(&format!("id={request_id}")),
            "the log carries the request id {request_id}: {logs}"
        );
    }
    // The operator finds the accounts and what to set in the log.
    let logs = gateway.logs();
    assert!(logs.contains("operator-account-alpha") && logs.contains("OPERATOR_SECRET_VARIABLE"));
    assert!(!logs.contains("key-value"), "never the secrets themselves");
}

/// Open file descriptors of a process.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// Half-sent requests (slowloris) cannot exhaust the gateway's descriptors
/// or lock out other clients: at the connection cap the oldest connection
/// without a request in flight makes room, and headers that never finish
/// are cut off.
/// Clients that connect all at once (hundreds of streams opened together)
/// wait in the kernel's queue until the gateway takes them. The queue the
/// standard library asks for holds 128: beyond that a connection's SYN was
/// dropped and it waited a second or more to be retried. Here the gateway
/// takes no new connection at all (its one connection is busy), so every
/// connection past the queue would hang.
#[tokio::test]
async fn a_burst_of_connections_is_queued_not_dropped() {
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(4096);
    let burst = 300.min(somaxconn.saturating_sub(8));
    assert!(
        burst > 128 + 8,
        "net.core.somaxconn ({somaxconn}) is too small for this test to tell"
    );
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .server_option("max-connections = 1")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    // The one connection the gateway may have, busy with a slow stream.
    let words = vec!["word"; 300].join(" ");
    // A client of its own: the harness's may hold an idle connection,
    // which the gateway closes to make room for this one.
    let mut busy = wasmgate_testkit::reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.url))
        .bearer_auth("sk-hostile-callers")
        .json(&user_request("misbehave-slow", &words, true))
        .send()
        .await
        .unwrap_or_else(|err| panic!("the busy stream's request: {err}\n{}", gateway.logs()));
    assert_eq!(busy.status(), 200);
    busy.chunk().await.unwrap().expect("the stream started");
    let address = gateway.url.trim_start_matches("http://").to_string();
    let connects = (0..burst).map(|_| {
        let address = address.clone();
        async move {
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                tokio::net::TcpStream::connect(address),
            )
            .await
        }
    });
    let results = futures::future::join_all(connects).await;
    let connected = results
        .iter()
        .filter(|result| matches!(result, Ok(Ok(_))))
        .count();
    assert_eq!(
        connected, burst,
        "connections queued by the kernel while the gateway was at its cap"
    );
}

#[tokio::test]
async fn half_sent_requests_neither_exhaust_descriptors_nor_lock_out_health_checks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .server_option("max-connections = 64")
        .server_option("header-read-timeout-secs = 2")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    let address = gateway.url.trim_start_matches("http://").to_string();
    let before = open_descriptors(gateway.pid());
    let mut held = Vec::new();
    for _ in 0..400 {
        let Ok(mut socket) = tokio::net::TcpStream::connect(&address).await else {
            continue;
        };
        let _ = socket
            .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            .await;
        held.push(socket);
    }
    // Health checks still get through, right now.
    for _ in 0..5 {
        let health = gateway
            .client()
            .get(format!("{}/healthz", gateway.url))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .expect("healthz answers under the attack");
        assert_eq!(health.status(), 200);
    }
    let during = open_descriptors(gateway.pid());
    assert!(
        during <= before + 64 + 8,
        "descriptors stay near the cap: {before} before, {during} during"
    );
    // Headers that never finish are cut off.
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        socket.read_to_end(&mut buffer),
    )
    .await;
    assert!(read.is_ok(), "the connection was closed by the gateway");
    drop(held);
}

/// A body that trickles in gets a 408 instead of holding the request open.
#[tokio::test]
async fn a_body_that_never_finishes_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .server_option("body-read-timeout-secs = 1")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    let address = gateway.url.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-hostile-callers\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), socket.read(&mut answer))
        .await
        .expect("the gateway answers")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..read]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
}

/// Model names key routes, logs and cooldowns: an absurd one is a 400.
#[tokio::test]
async fn absurd_model_names_are_refused() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[models]\n\"*\" = \"misbehave\"\n")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    for model in [
        "x".repeat(5000),
        "misbehave-echo\nforged: line".into(),
        String::new(),
    ] {
        let response = gateway.chat(&user_request(&model, "hi", false)).await;
        assert_eq!(response.status(), 400, "{model:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], "model", "{error}");
    }
    let fine = gateway
        .chat(&user_request("misbehave-echo", "hi", false))
        .await;
    assert_eq!(fine.status(), 200);
}

/// A client that opens a stream and stops reading it gives back the plugin
/// instance and the account's lease after the idle timeout, instead of
/// holding them until the stream would have ended (here, minutes later).
#[tokio::test]
async fn a_client_that_stops_reading_frees_its_instance_and_account() {
    use tokio::io::AsyncWriteExt;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[runtime]\nidle-timeout-secs = 1\n[[plugins.misbehave.accounts]]\nid = \"only\"\n")
        .server_option("max-body-bytes = 67108864")
        .env("API_KEY", "sk-hostile-callers")
        .env("ADMIN_KEY", "admin-hostile-callers")
        .start();
    // 500 words of 64 KiB, one every 100 ms: the whole stream takes 50 s,
    // and a few seconds of it fill every buffer between here and the client.
    let word = "w".repeat(64 * 1024);
    let prompt = vec![word.as_str(); 500].join(" ");
    let body = user_request("misbehave-slow", &prompt, true).to_string();
    let address = gateway.url.trim_start_matches("http://").to_string();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small window, as a client that reads nothing would soon have.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-hostile-callers\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let in_flight = || async {
        let accounts: Value = gateway
            .admin(
                wasmgate_testkit::reqwest::Method::GET,
                "/admin/api/accounts",
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        accounts.to_string().contains("\"in_flight\":1")
    };
    // The stream starts (the account is leased)…
    let mut started = false;
    for _ in 0..100 {
        if in_flight().await {
            started = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(started, "the stream started");
    // …and, with its client reading nothing, is ended well before 50 s.
    let mut freed = false;
    for _ in 0..300 {
        if !in_flight().await {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "the lease is still held: {}", gateway.logs());
    assert!(gateway.logs().contains("took no stream data"));
    drop(stream);
}

/// A request has a maximum duration: a stream still running then ends with
/// an error frame, a whole answer still pending is a 504.
#[tokio::test]
async fn a_request_ends_at_max_request_secs() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[runtime]\nmax-request-secs = 1.5\n")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    // 100 words, 100 ms apart: 10 s if nothing stopped it.
    let prompt = vec!["word"; 100].join(" ");
    let (status, frames) = gateway
        .chat_stream(&user_request("misbehave-slow", &prompt, true))
        .await;
    assert_eq!(status, 200);
    let last = frames.last().expect("frames");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max-request-secs")),
        "{last}"
    );
    let response = gateway
        .chat(&user_request("misbehave-slow", &prompt, false))
        .await;
    assert_eq!(response.status(), 504);
}

/// Caps that together exceed the machine's memory are a promise the gateway
/// cannot keep under load: it says so at start.
#[tokio::test]
async fn instance_caps_beyond_the_machines_memory_are_warned_about() {
    let total_mib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .unwrap()
        / 1024;
    let per_instance = 2048;
    let instances = total_mib / per_instance + 2;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&format!(
            "[runtime]\nmax-instances = {instances}\nmax-memory-mib = {per_instance}\n"
        ))
        .env("API_KEY", "sk-hostile-callers")
        .start();
    assert!(
        gateway.logs().contains("more than this machine's"),
        "{}",
        gateway.logs()
    );
}

/// The bytes of all request bodies held at once are bounded: past the
/// budget a request gets a 503 with Retry-After instead of memory.
#[tokio::test]
async fn bodies_beyond_the_shared_budget_get_503() {
    use tokio::io::AsyncWriteExt;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .server_option("max-body-bytes-in-flight = 100000")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    let address = gateway.url.trim_start_matches("http://").to_string();
    // One client declares 80 kB and sends it slowly: those bytes are held.
    let hold_80_kb = || async {
        let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
        slow.write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-hostile-callers\r\nContent-Type: application/json\r\nContent-Length: 80000\r\n\r\n{\"model\":",
        )
        .await
        .unwrap();
        slow
    };
    let mut slow = hold_80_kb().await;
    // Another 25 kB would go past the budget (once the first is being read).
    // The refusal comes before that body is read, so the connection may
    // close under a client still sending: such a try is simply repeated. If
    // a try was in flight when the slow request asked for its 80 kB, the
    // slow one was the one refused (and now holds nothing): after a few
    // answered tries it starts again. A loaded machine may take a while, so
    // this keeps trying (a bound on waiting, not a timed assertion).
    let padding = "x".repeat(25_000);
    let mut refused = None;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let sent = gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.url))
            .bearer_auth("sk-hostile-callers")
            .json(&user_request("misbehave-echo", &padding, false))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 503 => {
                refused = Some(response);
                break;
            }
            Ok(response) => seen.push(response.status().to_string()),
            Err(err) => seen.push(format!("{err}")),
        }
        if seen.len() % 5 == 0 {
            slow = hold_80_kb().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let response = refused.unwrap_or_else(|| {
        panic!(
            "a 503 once the budget is taken; got {seen:?}\n{}",
            gateway.logs()
        )
    });
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    // A small one still fits.
    let fine = gateway
        .chat(&user_request("misbehave-echo", "hi", false))
        .await;
    assert_eq!(fine.status(), 200);
    drop(slow);
}

/// Waiting for an instance slot has a deadline: when every slot stays taken,
/// a request gets a 503 with Retry-After instead of queueing without end.
#[tokio::test]
async fn a_full_gateway_answers_503_instead_of_queueing_forever() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[runtime]\nmax-instances = 1\nmax-slot-wait-secs = 1\n")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    // One slow stream takes the only slot for about ten seconds.
    let prompt = vec!["word"; 100].join(" ");
    let slow = gateway
        .chat(&user_request("misbehave-slow", &prompt, true))
        .await;
    assert_eq!(slow.status(), 200);
    let response = gateway
        .chat(&user_request("misbehave-echo", "hello", false))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "gateway_busy", "{error}");
    drop(slow);
}
