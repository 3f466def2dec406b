//! Plugins that try to make the host spend what they may not: memory through
//! the shape of their component, host memory through wasi:http resources,
//! requests in flight, state and answers; secrets and forged lines through
//! their errors and logs; and a plugin that is cheap but slow under load must
//! not be charged for the time it waited. Each fails its own request (502)
//! while the gateway stays within bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmgate_testkit::{Gateway, bounded_stream, built_plugin, failure, user_request};

const TOKEN: &str = "sk-hostile-0123456789abcdef";
const ADMIN_KEY: &str = "hostile-admin-key-0123";

fn config(extra_runtime: &str, base_url: &str) -> String {
    let cpu = if extra_runtime.contains("max-cpu-ms") {
        ""
    } else {
        "max-cpu-ms = 2000"
    };
    format!(
        r#"
[runtime]
{cpu}
max-memory-mib = 32
first-event-timeout-secs = 60
idle-timeout-secs = 60
{extra_runtime}

[[plugins.misbehave.accounts]]
id = "alpha"
secrets = {{ token = {{ env = "HOSTILE_TOKEN" }} }}
settings = {{ base-url = "{base_url}" }}
"#
    )
}

fn start_with(extra_runtime: &str, base_url: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&config(extra_runtime, base_url))
        .env("HOSTILE_TOKEN", TOKEN)
        .env("ADMIN_KEY", ADMIN_KEY)
        .start()
}

fn start() -> Gateway {
    start_with("", "http://127.0.0.1:9/")
}

/// The gateway's process id: the process whose working directory is the
/// gateway's own temporary directory.
fn pid_of(gateway: &Gateway) -> u32 {
    let dir = gateway.dir().canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
                && std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|exe| exe.to_string_lossy().contains("wasmgate"))
        })
        .expect("the gateway's process")
}

/// A field of `/proc/<pid>/status`, in MiB.
fn status_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024
}

/// Runs `model` `times` times at once; every run must fail with 502 and
/// the gateway's peak RSS must grow by less than `growth_mib`.
async fn fails_within_memory(gateway: &Gateway, model: &str, times: usize, growth_mib: u64) {
    let pid = pid_of(gateway);
    // Warm up: the first request loads what every request needs.
    gateway
        .chat_ok(&user_request("misbehave-echo", "warm", false))
        .await;
    let before = status_mib(pid, "VmRSS:");
    let request = user_request(model, "go", false);
    let runs = (0..times).map(|_| failure(gateway, &request));
    for (status, _, body) in futures::future::join_all(runs).await {
        assert_eq!(status, 502, "{body}");
        assert_eq!(body["error"]["code"], "plugin_over_budget", "{body}");
    }
    let peak = status_mib(pid, "VmHWM:");
    assert!(
        peak < before + growth_mib,
        "{model}: RSS was {before} MiB, peaked at {peak} MiB"
    );
    // And the gateway still serves.
    gateway
        .chat_ok(&user_request("misbehave-echo", "after", false))
        .await;
}

#[tokio::test]
async fn an_answer_larger_than_its_budget_fails_with_502() {
    let gateway = start_with("max-answer-mib = 4", "http://127.0.0.1:9/");
    let (status, _, body) =
        failure(&gateway, &user_request("misbehave-huge-event", "go", false)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "plugin_over_budget", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("4 MiB"),
        "{body}"
    );
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_its_budget_and_memory_stays_bounded() {
    let gateway = start_with("max-answer-mib = 4", "http://127.0.0.1:9/");
    // Collected whole, four at once: each stops at 4 MiB.
    fails_within_memory(&gateway, "misbehave-endless-events", 4, 150).await;
    // Streamed: the stream ends, with an error, instead of running forever.
    let (status, frames) = bounded_stream(
        &gateway,
        &user_request("misbehave-endless-events", "go", true),
    )
    .await;
    assert_eq!(status, 200);
    let last = frames.iter().rev().find(|f| f.get("error").is_some());
    assert!(
        last.is_some_and(|f| f["error"]["code"] == "plugin_over_budget"),
        "the stream ends with an over-budget error: {:?}",
        frames.last()
    );
}

#[tokio::test]
async fn a_state_flood_fails_its_request_and_memory_stays_bounded() {
    let gateway = start();
    fails_within_memory(&gateway, "misbehave-state-flood", 2, 60).await;
    let logs = gateway.wait_for_log("state entry refused");
    assert!(logs.contains("state entry refused"), "{logs}");
}

#[tokio::test]
async fn wasi_http_fields_are_capped() {
    let gateway = start();
    fails_within_memory(&gateway, "misbehave-fields", 2, 100).await;
}

/// A listener that accepts connections, counts them, and never answers.
async fn silent_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, count)
}

#[tokio::test]
async fn outgoing_requests_in_flight_are_capped() {
    let (url, connections) = silent_upstream().await;
    let gateway = start_with("", &url);
    let (status, _, body) =
        failure(&gateway, &user_request("misbehave-requests", "go", false)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "plugin_over_budget", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in flight"),
        "{body}"
    );
    let opened = connections.load(Ordering::SeqCst);
    assert!(opened <= 16, "{opened} connections opened");
}

#[tokio::test]
async fn a_plugin_error_reaches_no_one_with_its_secret_or_forged_lines() {
    let gateway = start();
    let (status, _, body) = failure(
        &gateway,
        &user_request("misbehave-leaky-error", "go", false),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains(TOKEN), "{message}");
    assert!(message.contains("***"), "masked, not dropped: {message}");
    assert!(!message.contains(['\r', '\n']), "{message:?}");
    assert!(message.len() < 2048, "capped: {} bytes", message.len());

    let accounts = gateway
        .admin(
            wasmgate_testkit::reqwest::Method::GET,
            "/admin/api/accounts",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(accounts.contains("rejected token"), "{accounts}");
    assert!(!accounts.contains(TOKEN), "{accounts}");
    assert!(!accounts.contains("\\r\\nFORGED"), "{accounts}");

    // The account book is written within a second or so of a change.
    let path = gateway.dir().join("data/wasmgate-accounts.json");
    let mut book = String::new();
    for _ in 0..100 {
        book = std::fs::read_to_string(&path).unwrap_or_default();
        if book.contains("rejected token") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(book.contains("rejected token"), "{book}");
    assert!(!book.contains(TOKEN), "accounts.json holds the secret");

    let logs = gateway.terminate();
    assert!(logs.contains("rejected token"), "{logs}");
    assert!(!logs.contains(TOKEN), "the log holds the secret");
    assert!(
        !logs
            .lines()
            .any(|line| line.trim_start().starts_with("FORGED-LINE")),
        "a forged log line:\n{logs}"
    );
}

#[tokio::test]
async fn a_log_flood_is_masked_escaped_and_rate_limited() {
    let gateway = start();
    gateway
        .chat_ok(&user_request("misbehave-log-flood", "go", false))
        .await;
    let logs = gateway.wait_for_log("log lines of this plugin were dropped");
    // Not even the start of the secret, where the length cap cut it.
    assert!(!logs.contains(&TOKEN[..6]), "a secret's prefix leaked");
    assert!(
        !logs
            .lines()
            .any(|line| line.trim_start().starts_with("FORGED-LINE")),
        "a forged log line"
    );
    let plugin_lines = logs.lines().filter(|l| l.contains("xxxxxxxx")).count();
    assert!(
        plugin_lines <= 400,
        "{plugin_lines} of 5000 long lines were written"
    );
    assert!(logs.contains("log lines of this plugin were dropped"));
}

/// On a loaded machine the gateway's threads are preempted while a plugin
/// runs; that time is not the plugin's. Each `busy` request computes ~200 ms
/// in all (on an idle machine). With threads of this test burning CPU next
/// to eight such requests, each takes several times that in wall time, but
/// with 1 s of CPU budget none may time out.
#[tokio::test]
async fn a_cheap_plugin_is_not_charged_for_waiting_under_load() {
    let gateway = start_with("max-cpu-ms = 1000", "http://127.0.0.1:9/");
    gateway
        .chat_ok(&user_request("misbehave-echo", "warm", false))
        .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burners: Vec<_> = (0..12)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
        })
        .collect();
    let request = user_request("misbehave-busy", "go", false);
    let runs = (0..8).map(|_| async {
        let response = gateway.chat(&request).await;
        (response.status().as_u16(), response.text().await.unwrap())
    });
    let results = futures::future::join_all(runs).await;
    stop.store(true, Ordering::Relaxed);
    for burner in burners {
        burner.join().unwrap();
    }
    let failures: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

/// A component built from the misbehave plugin with extra core modules
/// instantiated alongside it: `count` instances of a module with one memory
/// of `pages` pages (none when `pages` is `None`). Rust cannot make such a
/// component, so it is spliced: a core module section and a core instance
/// section appended to a valid component form a valid component.
fn spliced(count: u32, pages: Option<u32>) -> Vec<u8> {
    fn leb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn read_leb(bytes: &[u8], at: &mut usize) -> u64 {
        let (mut n, mut shift) = (0u64, 0);
        loop {
            let byte = bytes[*at];
            *at += 1;
            n |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                return n;
            }
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u64, out);
        out.extend_from_slice(body);
    }
    let mut component = std::fs::read(built_plugin("misbehave")).unwrap();
    // The new module's index: the core modules the component defines.
    let mut modules = 0;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        at += 1;
        let size = read_leb(&component, &mut at) as usize;
        modules += u64::from(id == 1);
        at += size;
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    if let Some(pages) = pages {
        let mut memories = vec![1, 0];
        leb(u64::from(pages), &mut memories);
        section(5, &memories, &mut module);
    }
    section(1, &module, &mut component);
    let mut instances = Vec::new();
    leb(u64::from(count), &mut instances);
    for _ in 0..count {
        instances.push(0);
        leb(modules, &mut instances);
        instances.push(0);
    }
    section(2, &instances, &mut component);
    component
}

/// Drops `bytes` into the plugins directory as `name.wasm` and returns the
/// log line that reports how loading it went (compiling it may take a while
/// on a busy machine).
async fn load_dropped(gateway: &Gateway, name: &str, bytes: &[u8]) -> String {
    let file = format!("{name}.wasm");
    std::fs::write(gateway.plugins_dir().join(&file), bytes).unwrap();
    for _ in 0..600 {
        let logs = gateway.logs();
        if let Some(line) = logs.lines().find(|l| {
            l.contains(&file) && (l.contains("plugin loaded") || l.contains("not loaded"))
        }) {
            return line.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{file} was neither loaded nor refused:\n{}", gateway.logs());
}

#[tokio::test]
async fn the_memory_cap_is_the_total_of_all_memories_of_a_component() {
    let gateway = start();
    // One more memory of 31 MiB: each memory is under the 32 MiB cap, the
    // two together are not.
    let line = load_dropped(&gateway, "greedy", &spliced(1, Some(31 * 16))).await;
    assert!(
        line.contains("not loaded") && line.contains("memory"),
        "{line}"
    );
    gateway
        .chat_ok(&user_request("misbehave-echo", "still serving", false))
        .await;
}

#[tokio::test]
async fn a_component_with_many_memories_or_core_instances_is_refused() {
    let gateway = start();
    let line = load_dropped(&gateway, "memories", &spliced(6, Some(1))).await;
    assert!(line.contains("not loaded"), "{line}");
    // A thousand core instances would take half the pool's slots each time.
    let line = load_dropped(&gateway, "instances", &spliced(1000, None)).await;
    assert!(line.contains("not loaded"), "{line}");
    gateway
        .chat_ok(&user_request("misbehave-echo", "still serving", false))
        .await;
}
