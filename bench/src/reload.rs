//! The hot-reload benchmark: under load, swap a plugin and edit the
//! configuration repeatedly; count failed requests, time each change from
//! the file write to the first request served by it, and compare latency
//! during the swaps with latency without them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::load::{self, Target};

pub struct Setup {
    pub gateway_url: String,
    pub plugins_dir: PathBuf,
    pub config_path: PathBuf,
    /// The configuration text without its `[models]` alias line.
    pub config_base: String,
    pub misbehave: [Vec<u8>; 2],
}

/// Which misbehave version a request to `model` is served by.
async fn served_by(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    model: &str,
) -> (String, String) {
    let body = format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"token"}}]}}"#);
    let request = hyper::Request::post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    match client.request(request).await {
        Ok(response) => {
            let version = response
                .headers()
                .get("x-wasmgate-plugin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (version, String::from_utf8_lossy(&text).into_owned())
        }
        Err(_) => (String::new(), String::new()),
    }
}

/// Writes a file the way a deploy does: aside, then renamed into place.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// A component with a custom section appended: the same code under a hash
/// the compile cache has never seen.
fn never_seen(bytes: &[u8], nonce: u64) -> Vec<u8> {
    let name = b"wasmgate-bench";
    let payload = nonce.to_le_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

async fn wait_until<F: Fn(&(String, String)) -> bool>(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    model: &str,
    started: Instant,
    done: F,
) -> Duration {
    loop {
        if done(&served_by(client, url, model).await) {
            return started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!("a change did not take effect within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn run(setup: &Setup, load_target: &Target, connections: usize, seconds: u64) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let url = &setup.gateway_url;
    let plugin = setup.plugins_dir.join("misbehave.wasm");
    let time = Duration::from_secs(seconds);

    let quiet = load::run(load_target, connections, time).await;

    let swaps = async {
        let mut plugin_times = Vec::new();
        for i in 0..10 {
            let version = if i % 2 == 0 {
                "misbehave@0.2.0"
            } else {
                "misbehave@0.1.0"
            };
            let started = Instant::now();
            replace(&plugin, &setup.misbehave[(i + 1) % 2]);
            plugin_times.push(
                wait_until(&client, url, "misbehave-echo", started, |(v, _)| {
                    v == version
                })
                .await,
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut config_times = Vec::new();
        for i in 0..10 {
            let (target, marker) = if i % 2 == 0 {
                ("misbehave-snoop", "env=[")
            } else {
                ("misbehave-echo", "\"content\":\"token\"")
            };
            let started = Instant::now();
            let text = format!(
                "{}\"alias\" = {{ plugin = \"misbehave\", model = \"{target}\" }}\n",
                setup.config_base
            );
            replace(&setup.config_path, text.as_bytes());
            config_times.push(
                wait_until(&client, url, "alias", started, |(_, body)| {
                    body.contains(marker)
                })
                .await,
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let started = Instant::now();
        // The last swap left 0.1.0 live; a never-seen build of 0.2.0 must compile.
        replace(
            &plugin,
            &never_seen(&setup.misbehave[1], std::process::id() as u64 ^ 0x5eed),
        );
        let uncached = wait_until(&client, url, "misbehave-echo", started, |(v, _)| {
            v == "misbehave@0.2.0"
        })
        .await;
        (plugin_times, config_times, uncached)
    };
    let during_load = load::run(load_target, connections, Duration::from_secs(8).max(time));
    let (busy, (plugin_times, config_times, uncached)) = tokio::join!(during_load, swaps);

    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let summary = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        format!(
            "median {:.0} ms, worst {:.0} ms",
            ms(&sorted[sorted.len() / 2]),
            ms(sorted.last().unwrap())
        )
    };
    println!();
    println!("hot reload under load ({connections} connections on the streaming route):");
    println!(
        "  plugin swaps (10, cached component): write → first request served by it: {}",
        summary(&plugin_times)
    );
    println!(
        "  config edits (10): write → first request routed by it: {}",
        summary(&config_times)
    );
    println!(
        "  a component never seen (compiled on reload): write → served: {:.0} ms (an upper bound: the old version serves meanwhile)",
        ms(&uncached)
    );
    println!(
        "  latency p99 without swaps {:.0} µs, during swaps {:.0} µs",
        quiet.percentile(99.0).as_secs_f64() * 1e6,
        busy.percentile(99.0).as_secs_f64() * 1e6
    );
    println!(
        "  failed requests: {} without swaps, {} during swaps",
        quiet.failures, busy.failures
    );
}
