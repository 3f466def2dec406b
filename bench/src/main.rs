//! `wasmgate-bench`: the gateway's own overhead, measured.
//!
//! One run starts a fast Gemini-style upstream on loopback and the real
//! gateway (release binary, the real `gemini` plugin) in front of it, then
//! drives both with the same closed-loop load: the answer streamed direct from
//! the upstream, and the same answer through the gateway as OpenAI SSE. It
//! reports latency at one connection and throughput at many, side by side.
//!
//! Run it with `bench/run` (it builds what it needs).

mod load;
mod reload;
mod upstream;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use load::{Outcome, Target};

struct Options {
    gateway: PathBuf,
    plugins: PathBuf,
    seconds: u64,
    connections: usize,
    chunks: usize,
    /// Also run the hot-reload benchmark; needs the test plugins here.
    reload: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        gateway: PathBuf::from("target/release/wasmgate"),
        plugins: PathBuf::from("target/bench/plugins"),
        seconds: 10,
        connections: 32,
        chunks: 20,
        reload: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--gateway" => options.gateway = value.into(),
            "--plugins" => options.plugins = value.into(),
            "--seconds" => options.seconds = value.parse().expect("--seconds N"),
            "--connections" => options.connections = value.parse().expect("--connections N"),
            "--chunks" => options.chunks = value.parse().expect("--chunks N"),
            "--reload" => options.reload = Some(value.into()),
            other => panic!("unknown option {other}; see bench/README.md"),
        }
    }
    options
}

#[tokio::main]
async fn main() {
    let options = options();
    let upstream = upstream::spawn(upstream::answer(options.chunks)).await;
    let (mut gateway, gateway_url, dir) = start_gateway(&options, &format!("http://{upstream}"));

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
    let through = Target {
        url: format!("{gateway_url}/v1/chat/completions"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from_static(
            br#"{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hello"}]}"#,
        ),
    };

    let time = Duration::from_secs(options.seconds);
    let warm = Duration::from_secs(1);
    load::run(&direct, 4, warm).await;
    let warm_up = load::run(&through, 4, warm).await;
    assert!(
        warm_up.failures == 0 && !warm_up.latencies.is_empty(),
        "the gateway does not answer"
    );

    let direct_one = load::run(&direct, 1, time).await;
    let through_one = load::run(&through, 1, time).await;
    let direct_many = load::run(&direct, options.connections, time).await;
    let through_many = load::run(&through, options.connections, time).await;
    report(
        &options,
        &direct_one,
        &through_one,
        &direct_many,
        &through_many,
    );

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
}

fn start_gateway(options: &Options, upstream: &str) -> (std::process::Child, String, PathBuf) {
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
        cache = dir.join("cache").display().to_string(),
    );
    let config_path = dir.join("plugins.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(&options.gateway)
        .env_clear()
        .env("WASMGATE_CONFIG", &config_path)
        .env("BENCH_GEMINI_KEY", "bench-key")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "starting {}: {e} (run bench/run)",
                options.gateway.display()
            )
        });
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the gateway exited").unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url, dir)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(
    options: &Options,
    direct_one: &Outcome,
    through_one: &Outcome,
    direct_many: &Outcome,
    through_many: &Outcome,
) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "wasmgate bench: {} streamed chunks per answer, loopback, {} s per run, {cores} cores",
        options.chunks, options.seconds
    );
    println!(
        "{:<28}{:>14}{:>16}{:>18}",
        "", "direct", "via gateway", "gateway adds"
    );
    for (label, p) in [
        ("1 connection, latency p50", 50.0),
        ("1 connection, latency p99", 99.0),
    ] {
        let d = micros(direct_one.percentile(p));
        let g = micros(through_one.percentile(p));
        println!("{label:<28}{:>11.0} µs{:>13.0} µs{:>15.0} µs", d, g, g - d);
    }
    let (d, g) = (direct_many.per_second(), through_many.per_second());
    println!(
        "{:<28}{:>12.0}/s{:>14.0}/s{:>16.1} %",
        format!("{} connections, requests", options.connections),
        d,
        g,
        100.0 * g / d
    );
    let failures =
        direct_one.failures + through_one.failures + direct_many.failures + through_many.failures;
    println!("failed requests: {failures}");
    println!("(the last column of the requests row is the gateway's rate as a share of direct)");
}
