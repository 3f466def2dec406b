//! `wasmgate-bench`: the gateway's own overhead, measured.
//!
//! One run starts a fast Gemini-style upstream on loopback, the real gateway
//! (release binary, the real `gemini` plugin) in front of it, and the same
//! provider code compiled natively without the sandbox (see [`native`]), then
//! drives all three with the same closed-loop load. It reports latency at one
//! connection, throughput at many, the gateway's CPU time per request and
//! where its time goes, many slow streams at once, memory, and hot reload
//! under load.
//!
//! Run it with `bench/run` (it builds what it needs).

mod gauge;
mod load;
mod native;
mod phases;
mod reload;
mod streams;
mod upstream;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use load::{Outcome, Target};

struct Options {
    gateway: PathBuf,
    plugins: PathBuf,
    seconds: u64,
    connections: usize,
    chunks: usize,
    /// Slow streams run at once (0: skip that benchmark).
    streams: usize,
    stream_chunks: usize,
    stream_gap: Duration,
    /// Also run the hot-reload benchmark; needs the test plugins here.
    reload: Option<PathBuf>,
    /// Internal: be the native server in front of this upstream.
    serve_native: Option<String>,
    /// Only the gateway's own runs (1 and many connections, phases, CPU):
    /// for trying one change after another.
    quick: bool,
}

fn options() -> Options {
    let mut options = Options {
        gateway: PathBuf::from("target/release/wasmgate"),
        plugins: PathBuf::from("target/bench/plugins"),
        seconds: 10,
        connections: 32,
        chunks: 20,
        streams: 500,
        stream_chunks: 64,
        stream_gap: Duration::from_millis(20),
        reload: None,
        serve_native: None,
        quick: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        let number = |what: &str| -> usize {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{what} takes a number"))
        };
        match pair[0].as_str() {
            "--gateway" => options.gateway = value.into(),
            "--plugins" => options.plugins = value.into(),
            "--seconds" => options.seconds = number("--seconds") as u64,
            "--connections" => options.connections = number("--connections"),
            "--chunks" => options.chunks = number("--chunks"),
            "--streams" => options.streams = number("--streams"),
            "--stream-chunks" => options.stream_chunks = number("--stream-chunks"),
            "--stream-gap-ms" => {
                options.stream_gap = Duration::from_millis(number("--stream-gap-ms") as u64)
            }
            "--reload" => options.reload = Some(value.into()),
            "--serve-native" => options.serve_native = Some(value),
            "--quick" => options.quick = value == "1",
            other => panic!("unknown option {other}; see bench/README.md"),
        }
    }
    options
}

/// How long after a load the idle memory is read: past the gateway's trim.
const IDLE_READING_AFTER: Duration = Duration::from_secs(3);

/// A loopback listener with the gateway's backlog: with the standard 128,
/// the 500 streams' connections overflowed the queue and waited a second for
/// their SYN to be sent again.
fn loopback_listener() -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(([127, 0, 0, 1], 0).into())?;
    socket.listen(4096)
}

#[tokio::main]
async fn main() {
    let options = options();
    if let Some(base_url) = options.serve_native {
        native::serve(base_url).await;
        return;
    }
    let upstream = upstream::spawn(upstream::Answers {
        whole: upstream::frames(options.chunks).concat().into(),
        paced: upstream::frames(options.stream_chunks),
        gap: options.stream_gap,
    })
    .await;
    let upstream_url = format!("http://{upstream}");
    // A first start fills the compile cache, as a gateway's first start
    // does; the measured gateway is a restart, loading compiled plugins.
    let (mut primer, _, _) = start_gateway(&options, &upstream_url);
    let _ = primer.kill();
    let _ = primer.wait();
    let (mut gateway, gateway_url, dir) = start_gateway(&options, &upstream_url);
    let gateway_pid = gateway.id();
    let idle_at_start = gauge::resident(gateway_pid);
    let (mut native, native_url) = start_native(&upstream_url);
    let native_pid = native.id();

    let direct = Target {
        url: format!(
            "http://{upstream}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        ),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-goog-api-key".into(), "bench-key".into()),
        ],
        body: Bytes::from_static(br#"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#),
    };
    let openai_body = Bytes::from_static(
        br#"{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hello"}]}"#,
    );
    let through = Target {
        url: format!("{gateway_url}/v1/chat/completions"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: openai_body.clone(),
    };
    let natively = Target {
        url: format!("{native_url}/v1/chat/completions"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: openai_body,
    };

    let time = Duration::from_secs(options.seconds);
    let warm = Duration::from_secs(1);
    load::run(&direct, 4, warm).await;
    for (target, what) in [(&through, "the gateway"), (&natively, "the native server")] {
        let warm_up = load::run(target, 4, warm).await;
        assert!(
            warm_up.failures == 0 && !warm_up.latencies.is_empty(),
            "{what} does not answer"
        );
    }

    if options.quick {
        let before = phases::snapshot(&gateway_url).await;
        let one = measured(&through, 1, time, gateway_pid).await;
        let after = phases::snapshot(&gateway_url).await;
        let many = measured(&through, options.connections, time, gateway_pid).await;
        println!(
            "quick: 1 connection p50 {:.0} µs p99 {:.0} µs, CPU {:.0} µs/request; {} connections {:.0}/s, CPU {:.0} µs/request; failed {}",
            micros(one.outcome.percentile(50.0)),
            micros(one.outcome.percentile(99.0)),
            micros(one.cpu_per_request),
            options.connections,
            many.outcome.per_second(),
            micros(many.cpu_per_request),
            one.outcome.failures + many.outcome.failures
        );
        report_phases(&phases::between(
            &before,
            &after,
            one.outcome.latencies.len(),
        ));
        let _ = native.kill();
        let _ = gateway.kill();
        return;
    }
    let direct_one = load::run(&direct, 1, time).await;
    let native_one = measured(&natively, 1, time, native_pid).await;
    let before = phases::snapshot(&gateway_url).await;
    let through_one = measured(&through, 1, time, gateway_pid).await;
    let after = phases::snapshot(&gateway_url).await;
    let breakdown = phases::between(&before, &after, through_one.outcome.latencies.len());
    let direct_many = load::run(&direct, options.connections, time).await;
    let native_many = measured(&natively, options.connections, time, native_pid).await;
    let through_many = measured(&through, options.connections, time, gateway_pid).await;
    let _ = native.kill();
    let _ = native.wait();

    report(
        &options,
        &Runs {
            direct_one,
            native_one,
            through_one,
            direct_many,
            native_many,
            through_many,
        },
    );
    report_phases(&breakdown);

    // Memory once the load is over, and many slow streams at once.
    // Idle: the gateway gives freed memory back after 1–2 s without a new
    // request (host/src/idle_trim.rs); read after that.
    tokio::time::sleep(IDLE_READING_AFTER).await;
    let idle_after_load = gauge::resident(gateway_pid);
    println!();
    println!(
        "gateway memory idle at start: {idle_at_start}; idle after the load: {idle_after_load}"
    );
    if options.streams > 0 {
        let outcome = streams::run(&gateway_url, gateway_pid, options.streams).await;
        tokio::time::sleep(IDLE_READING_AFTER).await;
        report_streams(&options, &outcome, gauge::resident(gateway_pid));
    }

    if let Some(test_plugins) = &options.reload {
        let config_path = dir.join("plugins.toml");
        let text = std::fs::read_to_string(&config_path).unwrap();
        let config_base = text
            .lines()
            .filter(|line| !line.starts_with("\"alias\""))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let setup = reload::Setup {
            gateway_url: gateway_url.clone(),
            plugins_dir: dir.join("plugins"),
            config_path,
            config_base,
            misbehave: [
                std::fs::read(test_plugins.join("misbehave.wasm")).unwrap(),
                std::fs::read(test_plugins.join("misbehave-next.wasm")).unwrap(),
            ],
        };
        reload::run(&setup, &through, options.connections, options.seconds).await;
    }
    let _ = gateway.kill();
    let _ = gateway.wait();
}

/// A load run with the server's CPU time per request.
struct Measured {
    outcome: Outcome,
    cpu_per_request: Duration,
}

async fn measured(target: &Target, connections: usize, time: Duration, pid: u32) -> Measured {
    let window = gauge::CpuWindow::start(pid);
    let outcome = load::run(target, connections, time).await;
    let cpu_per_request = window.per_request(outcome.latencies.len());
    Measured {
        outcome,
        cpu_per_request,
    }
}

fn start_gateway(options: &Options, upstream: &str) -> (Child, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("wasmgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A private copy of the plugins: the reload benchmark changes them.
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let mut sources = vec![options.plugins.clone()];
    sources.extend(options.reload.clone());
    for source in sources {
        for entry in std::fs::read_dir(&source).expect("the plugins directory (run bench/run)") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wasm") {
                std::fs::copy(&path, plugins.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    // Only the first version is live at start; the benchmark swaps in the other.
    let _ = std::fs::remove_file(plugins.join("misbehave-next.wasm"));
    // Default [runtime] settings throughout: the figures are for a gateway
    // as it ships.
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
plugins-dir = {plugins:?}
cache-dir = {cache:?}

[plugins.gemini]
[[plugins.gemini.accounts]]
id = "bench"
secrets = {{ api-key = {{ env = "BENCH_GEMINI_KEY" }} }}
settings = {{ base-url = "{upstream}" }}

[[plugins.misbehave.accounts]]
id = "bench"

[models]
"gemini-*" = "gemini"
"alias" = {{ plugin = "misbehave", model = "misbehave-echo" }}
"#,
        plugins = plugins.display().to_string(),
        cache = std::path::absolute("target/bench/cache")
            .unwrap()
            .display()
            .to_string(),
    );
    let config_path = dir.join("plugins.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut command = Command::new(&options.gateway);
    command
        .env_clear()
        .env("WASMGATE_CONFIG", &config_path)
        .env("BENCH_GEMINI_KEY", "bench-key")
        .env("METRICS_KEY", phases::METRICS_KEY)
        .env("WASMGATE_PHASE_TIMING", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    // Passed on for profiling the plugins' code with `perf` (bench/README.md).
    if let Some(perf_map) = std::env::var_os("WASMGATE_PERF_MAP") {
        command.env("WASMGATE_PERF_MAP", perf_map);
    }
    let (child, url) = spawn_until_listening(command, &options.gateway.display().to_string());
    (child, url, dir)
}

/// The native server: this binary again, as its own process.
fn start_native(upstream: &str) -> (Child, String) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut command = Command::new(&exe);
    command.arg("--serve-native").arg(upstream);
    spawn_until_listening(command, "the native server")
}

/// Starts a server that prints `listening on <url>` on stdout; keeps
/// draining its output so it never blocks on a full pipe.
fn spawn_until_listening(mut command: Command, what: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e} (run bench/run)"));
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

struct Runs {
    direct_one: Outcome,
    native_one: Measured,
    through_one: Measured,
    direct_many: Outcome,
    native_many: Measured,
    through_many: Measured,
}

fn report(options: &Options, runs: &Runs) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "wasmgate bench: {} streamed chunks per answer, loopback, {} s per run, {cores} cores",
        options.chunks, options.seconds
    );
    println!(
        "{:<30}{:>12}{:>14}{:>14}{:>14}",
        "", "direct", "native", "via gateway", "gateway adds"
    );
    let (d1, n1, g1) = (
        &runs.direct_one,
        &runs.native_one.outcome,
        &runs.through_one.outcome,
    );
    for (label, p) in [
        ("1 connection, latency p50", 50.0),
        ("1 connection, latency p99", 99.0),
    ] {
        let (d, n, g) = (
            micros(d1.percentile(p)),
            micros(n1.percentile(p)),
            micros(g1.percentile(p)),
        );
        println!(
            "{label:<30}{d:>9.0} µs{n:>11.0} µs{g:>11.0} µs{:>11.0} µs",
            g - d
        );
    }
    let (dm, nm, gm) = (
        &runs.direct_many,
        &runs.native_many.outcome,
        &runs.through_many.outcome,
    );
    let (d, n, g) = (dm.per_second(), nm.per_second(), gm.per_second());
    println!(
        "{:<30}{d:>10.0}/s{n:>12.0}/s{g:>12.0}/s{:>12.1} %",
        format!("{} connections, requests", options.connections),
        100.0 * g / d
    );
    for (label, native, gateway) in [
        (
            "CPU per request, 1 connection".to_string(),
            &runs.native_one,
            &runs.through_one,
        ),
        (
            format!("CPU per request, {} conns", options.connections),
            &runs.native_many,
            &runs.through_many,
        ),
    ] {
        println!(
            "{label:<30}{:>12}{:>11.0} µs{:>11.0} µs",
            "",
            micros(native.cpu_per_request),
            micros(gateway.cpu_per_request)
        );
    }
    let failures =
        d1.failures + n1.failures + g1.failures + dm.failures + nm.failures + gm.failures;
    println!("failed requests: {failures}");
    println!(
        "(native: the plugin's provider code compiled natively in the same HTTP shape, no sandbox; \
         requests row, last column: the gateway's rate as a share of direct; CPU: the server \
         process's user + system time from /proc over the run, divided by requests)"
    );
}

fn report_phases(breakdown: &phases::Breakdown) {
    println!();
    println!("where the gateway's time goes, 1 connection (wall time unless noted):");
    println!(
        "  {:<16}{:>14}{:>14}{:>18}",
        "phase", "each", "per request", "time per request"
    );
    for (phase, each, per_request, total) in &breakdown.rows {
        let name = match phase.as_str() {
            "plugin_cpu" => "guest calls' CPU (metric)",
            "guest_cpu" => "guest calls' CPU",
            other => other,
        };
        println!(
            "  {name:<16}{:>11.1} µs{per_request:>14.1}{:>15.1} µs",
            micros(*each),
            micros(*total)
        );
    }
    if breakdown.rows.is_empty() {
        println!("  (no phase counters: is the gateway built with runtime::phases?)");
    }
}

fn report_streams(options: &Options, outcome: &streams::Outcome, idle_after: gauge::Resident) {
    println!();
    println!(
        "{} streams at once ({} chunks, {} ms apart), default [runtime] settings:",
        outcome.streams,
        options.stream_chunks,
        options.stream_gap.as_millis()
    );
    println!(
        "  stalls over {} ms between chunks: {} (longest gap {:.0} ms); streams starting later than that: {} (slowest {:.0} ms)",
        streams::STALL.as_millis(),
        outcome.stalls,
        outcome.longest_gap.as_secs_f64() * 1e3,
        outcome.late_starts,
        outcome.slowest_start.as_secs_f64() * 1e3
    );
    println!(
        "  failed streams: {}; all done in {:.2} s; gateway RSS peak {:.1} MB; idle after: {idle_after}",
        outcome.failures,
        outcome.elapsed.as_secs_f64(),
        mb(outcome.peak_rss),
    );
}
