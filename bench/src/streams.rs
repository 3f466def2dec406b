//! Many slow streams at once: `count` callers each stream an answer the
//! upstream paces (its frames a fixed gap apart, like a model generating),
//! all started together. A stall is a gap of more than [`STALL`] between two
//! pieces of one stream as the caller receives them, or before its first
//! piece; the gateway's memory is sampled meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::gauge;

/// A wait longer than this is a stall.
pub const STALL: Duration = Duration::from_millis(100);

pub struct Outcome {
    pub streams: usize,
    pub failures: usize,
    /// Gaps over [`STALL`] between two pieces of a stream.
    pub stalls: usize,
    /// Streams whose first piece came later than [`STALL`] after the request.
    pub late_starts: usize,
    pub longest_gap: Duration,
    pub slowest_start: Duration,
    pub peak_rss: u64,
    pub elapsed: Duration,
}

pub async fn run(gateway_url: &str, gateway_pid: u32, count: usize) -> Outcome {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(count)
        .build(http);
    let peak = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(gauge::rss_bytes(gateway_pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let body = Bytes::from_static(
        br#"{"model":"gemini-paced","stream":true,"messages":[{"role":"user","content":"hello"}]}"#,
    );
    let started = Instant::now();
    let streams: Vec<_> = (0..count)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            let url = format!("{gateway_url}/v1/chat/completions");
            tokio::spawn(async move {
                let request = hyper::Request::post(url)
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .unwrap();
                let sent = Instant::now();
                let response = client.request(request).await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                let mut body = response.into_body();
                let mut last = sent;
                let mut first = None;
                let mut gaps = Vec::new();
                let mut text = Vec::new();
                while let Some(frame) = body.frame().await {
                    let frame = frame.ok()?;
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let now = Instant::now();
                    if first.is_none() {
                        first = Some(now - sent);
                    } else {
                        gaps.push(now - last);
                    }
                    last = now;
                    text.extend_from_slice(&data);
                }
                // A stream cut short is a failure, not a fast stream.
                let whole = text.windows(12).any(|w| w == b"data: [DONE]");
                whole.then(|| (first.unwrap_or_default(), gaps))
            })
        })
        .collect();
    let mut outcome = Outcome {
        streams: count,
        failures: 0,
        stalls: 0,
        late_starts: 0,
        longest_gap: Duration::ZERO,
        slowest_start: Duration::ZERO,
        peak_rss: 0,
        elapsed: Duration::ZERO,
    };
    for stream in streams {
        match stream.await.ok().flatten() {
            Some((first, gaps)) => {
                outcome.late_starts += usize::from(first > STALL);
                outcome.slowest_start = outcome.slowest_start.max(first);
                outcome.stalls += gaps.iter().filter(|gap| **gap > STALL).count();
                if let Some(longest) = gaps.iter().max() {
                    outcome.longest_gap = outcome.longest_gap.max(*longest);
                }
            }
            None => outcome.failures += 1,
        }
    }
    outcome.elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    outcome.peak_rss = peak.load(Ordering::Relaxed);
    outcome
}
