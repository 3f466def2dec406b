//! A closed-loop load generator: `connections` keep-alive connections, each
//! sending the next request as soon as the previous answer has been read to
//! its end, for a fixed time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One request to repeat.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

pub struct Outcome {
    pub latencies: Vec<Duration>,
    pub failures: usize,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank]
    }
}

pub async fn run(target: &Target, connections: usize, duration: Duration) -> Outcome {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build(http);
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                while Instant::now() < deadline {
                    let mut request = Request::post(&target.url);
                    for (name, value) in &target.headers {
                        request = request.header(name, value);
                    }
                    let request = request.body(Full::new(target.body.clone())).unwrap();
                    let sent = Instant::now();
                    let ok = match client.request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut outcome = Outcome {
        latencies: Vec::new(),
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        let (latencies, failures) = worker.await.expect("a load worker panicked");
        outcome.latencies.extend(latencies);
        outcome.failures += failures;
    }
    outcome.elapsed = started.elapsed();
    outcome
}
