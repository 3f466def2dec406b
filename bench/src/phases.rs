//! The gateway's own account of where a request's time goes: the phase
//! counters it shows in `/metrics` when started with
//! `WASMGATE_PHASE_TIMING=1` (see `host/src/runtime/phases.rs`), read before
//! and after a run.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The key the bench gives the gateway for `/metrics` (`METRICS_KEY`).
pub const METRICS_KEY: &str = "bench-metrics";

/// Phase name → (seconds, count), plus `plugin_cpu` from the plugin CPU counter.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(BTreeMap<String, (f64, f64)>);

pub async fn snapshot(gateway_url: &str) -> Snapshot {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = hyper::Request::get(format!("{gateway_url}/metrics"))
        .header("authorization", format!("Bearer {METRICS_KEY}"))
        .body(Empty::new())
        .unwrap();
    let Ok(response) = client.request(request).await else {
        return Snapshot::default();
    };
    let Ok(body) = response.into_body().collect().await else {
        return Snapshot::default();
    };
    parse(&String::from_utf8_lossy(&body.to_bytes()))
}

fn parse(text: &str) -> Snapshot {
    let mut phases: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let Some((name_and_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let label = |prefix: &str| {
            name_and_labels
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("\"}"))
                .map(str::to_string)
        };
        if let Some(phase) = label("wasmgate_phase_seconds_total{phase=\"") {
            phases.entry(phase).or_default().0 = value;
        } else if let Some(phase) = label("wasmgate_phase_count_total{phase=\"") {
            phases.entry(phase).or_default().1 = value;
        } else if name_and_labels == "wasmgate_plugin_cpu_seconds_total{plugin=\"gemini\"}" {
            phases.entry("plugin_cpu".into()).or_default().0 = value;
        } else if name_and_labels == "wasmgate_plugin_instances_total{plugin=\"gemini\"}" {
            phases.entry("plugin_cpu".into()).or_default().1 = value;
        }
    }
    Snapshot(phases)
}

/// What happened between two snapshots, phase by phase.
pub struct Breakdown {
    /// (phase, mean time per occurrence, occurrences per request, time per request)
    pub rows: Vec<(String, Duration, f64, Duration)>,
}

pub fn between(before: &Snapshot, after: &Snapshot, requests: usize) -> Breakdown {
    let requests = requests.max(1) as f64;
    let rows = after
        .0
        .iter()
        .filter_map(|(phase, (seconds, count))| {
            let (s0, c0) = before.0.get(phase).copied().unwrap_or_default();
            let (seconds, count) = (seconds - s0, count - c0);
            (count > 0.0).then(|| {
                (
                    phase.clone(),
                    Duration::from_secs_f64(seconds / count),
                    count / requests,
                    Duration::from_secs_f64(seconds / requests),
                )
            })
        })
        .collect();
    Breakdown { rows }
}
