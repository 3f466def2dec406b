//! What the gateway counts: requests, errors, latency per plugin, model and
//! account, kept as Prometheus counters and histograms (`/metrics`) and as a
//! ring of recent requests (the console's overview and access log), plus the
//! recent warnings and errors the gateway logged. Nothing here holds a key,
//! a secret or a prompt.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use serde::Serialize;

use crate::api::Served;
use crate::clock::unix_millis;

/// Requests kept for the console.
const RECENT: usize = 2000;
/// Log events kept for the console.
const EVENTS: usize = 500;
/// Histogram bucket bounds, seconds.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// One request as the console's access log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: String,
    /// Unix milliseconds.
    pub at: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Until the response (for a stream: its first event), ms.
    pub first_ms: f64,
    pub model: Option<String>,
    pub plugin: Option<String>,
    pub account: Option<String>,
    pub stream: Option<bool>,
}

/// The tokens one answer used.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    /// Unix milliseconds.
    pub at: u64,
    pub model: String,
    pub plugin: String,
    pub account: String,
    pub prompt: u64,
    pub completion: u64,
}

/// A warning or error the gateway logged.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: u64,
    pub level: String,
    pub message: String,
}

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    recent: VecDeque<Record>,
    tokens: VecDeque<TokenRecord>,
    events: VecDeque<Event>,
    /// (path class, status) → count.
    http: BTreeMap<(String, u16), u64>,
    /// (model, plugin, status) → count, chat requests.
    chat: BTreeMap<(String, String, u16), u64>,
    /// plugin → time to first event.
    first_event: BTreeMap<String, Histogram>,
    /// plugin → whole duration.
    duration: BTreeMap<String, Histogram>,
    /// plugin → (CPU seconds inside its instances, instances ended).
    cpu: BTreeMap<String, (f64, u64)>,
}

pub struct Metrics {
    inner: Mutex<Inner>,
    next_id: std::sync::atomic::AtomicU64,
    started: Instant,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics {
        inner: Mutex::new(Inner::default()),
        next_id: std::sync::atomic::AtomicU64::new(1),
        started: Instant::now(),
    })
}

impl Metrics {
    /// Requests that have come in since start (each takes an id).
    pub fn requests_started(&self) -> u64 {
        self.next_id.load(std::sync::atomic::Ordering::Relaxed) - 1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Recent requests, oldest first.
    pub fn recent(&self) -> Vec<Record> {
        self.lock().recent.iter().cloned().collect()
    }

    /// Recent warnings and errors, oldest first.
    /// The tokens of the most recent answers, oldest first.
    pub fn token_records(&self) -> Vec<TokenRecord> {
        self.lock().tokens.iter().cloned().collect()
    }

    /// Notes the tokens an answer used.
    pub fn tokens(&self, record: TokenRecord) {
        let mut inner = self.lock();
        if inner.tokens.len() >= RECENT {
            inner.tokens.pop_front();
        }
        inner.tokens.push_back(record);
    }

    pub fn events(&self) -> Vec<Event> {
        self.lock().events.iter().cloned().collect()
    }

    pub fn record_event(&self, level: &str, message: String) {
        let mut inner = self.lock();
        if inner.events.len() >= EVENTS {
            inner.events.pop_front();
        }
        inner.events.push_back(Event {
            at: unix_millis(),
            level: level.to_string(),
            message,
        });
    }

    fn record(&self, record: Record) {
        let mut inner = self.lock();
        let class = path_class(&record.path).to_string();
        *inner.http.entry((class, record.status)).or_default() += 1;
        if let (Some(model), Some(plugin)) = (&record.model, &record.plugin) {
            let plugin = plugin_name(plugin).to_string();
            *inner
                .chat
                .entry((model.clone(), plugin.clone(), record.status))
                .or_default() += 1;
            inner
                .first_event
                .entry(plugin)
                .or_default()
                .observe(record.first_ms / 1000.0);
        }
        if inner.recent.len() >= RECENT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(record);
    }

    /// An instance of `plugin` ended, having used `cpu` inside the guest.
    pub fn plugin_cpu(&self, plugin: &str, cpu: std::time::Duration) {
        let mut inner = self.lock();
        let entry = inner.cpu.entry(plugin.to_string()).or_default();
        entry.0 += cpu.as_secs_f64();
        entry.1 += 1;
    }

    fn finished(&self, plugin: &str, seconds: f64) {
        self.lock()
            .duration
            .entry(plugin_name(plugin).to_string())
            .or_default()
            .observe(seconds);
    }

    /// The request counters and histograms in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        let inner = self.lock();
        help(
            out,
            "wasmgate_http_requests_total",
            "counter",
            "HTTP requests by kind of path and status.",
        );
        for ((class, status), count) in &inner.http {
            out.push_str(&format!(
                "wasmgate_http_requests_total{{path=\"{}\",status=\"{status}\",kind=\"{}\"}} {count}\n",
                escape(class),
                status_kind(*status)
            ));
        }
        help(
            out,
            "wasmgate_chat_requests_total",
            "counter",
            "Chat requests by model, plugin and status.",
        );
        for ((model, plugin, status), count) in &inner.chat {
            out.push_str(&format!(
                "wasmgate_chat_requests_total{{model=\"{}\",plugin=\"{}\",status=\"{status}\",kind=\"{}\"}} {count}\n",
                escape(model),
                escape(plugin),
                status_kind(*status)
            ));
        }
        help(
            out,
            "wasmgate_chat_errors_total",
            "counter",
            "Chat requests that failed, by plugin, status and kind.",
        );
        let mut errors: BTreeMap<(&str, u16), u64> = BTreeMap::new();
        for ((_, plugin, status), count) in &inner.chat {
            if *status >= 400 {
                *errors.entry((plugin, *status)).or_default() += count;
            }
        }
        for ((plugin, status), count) in errors {
            out.push_str(&format!(
                "wasmgate_chat_errors_total{{plugin=\"{}\",status=\"{status}\",kind=\"{}\"}} {count}\n",
                escape(plugin),
                status_kind(status)
            ));
        }
        help(
            out,
            "wasmgate_plugin_cpu_seconds_total",
            "counter",
            "CPU time spent inside each plugin's instances.",
        );
        for (plugin, (seconds, _)) in &inner.cpu {
            out.push_str(&format!(
                "wasmgate_plugin_cpu_seconds_total{{plugin=\"{}\"}} {seconds}\n",
                escape(plugin)
            ));
        }
        help(
            out,
            "wasmgate_plugin_instances_total",
            "counter",
            "Plugin instances run (one per request try, and one per load).",
        );
        for (plugin, (_, count)) in &inner.cpu {
            out.push_str(&format!(
                "wasmgate_plugin_instances_total{{plugin=\"{}\"}} {count}\n",
                escape(plugin)
            ));
        }
        for (name, what, map) in [
            (
                "wasmgate_time_to_first_event_seconds",
                "Time until the answer's first event (the whole answer when not streamed).",
                &inner.first_event,
            ),
            (
                "wasmgate_request_duration_seconds",
                "Time until the answer's last byte.",
                &inner.duration,
            ),
        ] {
            help(out, name, "histogram", what);
            for (plugin, histogram) in map {
                let plugin = escape(plugin);
                for (bound, count) in BUCKETS.iter().zip(&histogram.counts) {
                    out.push_str(&format!(
                        "{name}_bucket{{plugin=\"{plugin}\",le=\"{bound}\"}} {count}\n"
                    ));
                }
                out.push_str(&format!(
                    "{name}_bucket{{plugin=\"{plugin}\",le=\"+Inf\"}} {}\n",
                    histogram.count
                ));
                out.push_str(&format!(
                    "{name}_sum{{plugin=\"{plugin}\"}} {}\n{name}_count{{plugin=\"{plugin}\"}} {}\n",
                    histogram.sum, histogram.count
                ));
            }
        }
        crate::runtime::phases::render(out);
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    out.push_str(&format!("# HELP {name} {text}\n# TYPE {name} {kind}\n"));
}

/// A label value escaped for the text format.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn status_kind(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        400 => "invalid_request",
        401 | 403 => "auth",
        404 => "not_found",
        408 | 504 => "timeout",
        413 => "too_large",
        429 => "rate_limited",
        500..=599 => "upstream",
        _ => "other",
    }
}

/// `name@version` → `name`.
fn plugin_name(label: &str) -> &str {
    label.split('@').next().unwrap_or(label)
}

/// Paths by kind, so labels stay few: one per front door, then the rest.
fn path_class(path: &str) -> &'static str {
    if path.ends_with("/chat/completions") {
        "chat"
    } else if path.starts_with("/v1/messages") {
        "messages"
    } else if path.starts_with("/v1/responses") {
        "responses"
    } else if path.starts_with("/v1/images/") {
        "images"
    } else if (path.starts_with("/v1beta/models/") || path.starts_with("/v1/models/"))
        && path.contains(':')
    {
        "gemini"
    } else if path.ends_with("/models") || path.starts_with("/v1beta/models") {
        "models"
    } else if path.contains("/admin") {
        "admin"
    } else if path.contains("/media/") {
        "media"
    } else if path.ends_with("/metrics") {
        "metrics"
    } else if path.ends_with("/healthz") {
        "health"
    } else {
        "other"
    }
}

/// The middleware: an `x-request-id` on every response (the access log's,
/// else one of its own), the request in the
/// ring and the counters, and its whole duration once the body ends.
pub async fn track(request: Request, next: Next) -> Response {
    let metrics = global();
    let started = Instant::now();
    let id = format!(
        "req_{:x}{:06x}",
        unix_millis() / 1000,
        metrics
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            & 0xff_ffff
    );
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let started_at = unix_nanos();
    let traceparent = crate::otlp::enabled()
        .then(|| request.headers().get("traceparent"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = next.run(request).await;
    let served = response.extensions().get::<Served>().cloned();
    // The access log's id when it gave one (its log lines carry it).
    let id = match response.headers().get("x-request-id") {
        Some(given) => given.to_str().unwrap_or_default().to_string(),
        None => {
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("x-request-id", value);
            }
            id
        }
    };
    let record = Record {
        id,
        at: unix_millis(),
        method,
        path,
        status: response.status().as_u16(),
        first_ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
        model: served.as_ref().map(|s| s.model.clone()),
        plugin: served.as_ref().map(|s| s.plugin.clone()),
        account: served.as_ref().map(|s| s.account.clone()),
        stream: served.as_ref().map(|s| s.stream),
    };
    // The trace span ends with the body (for a stream, its last event).
    let trace = crate::otlp::enabled().then(|| Trace {
        record: record.clone(),
        traceparent,
        started_at,
    });
    metrics.record(record);
    match served {
        Some(served) => response.map(|body| {
            Body::new(Timed {
                inner: body,
                started,
                plugin: Some(served.plugin),
                trace,
            })
        }),
        None => {
            if let Some(trace) = trace {
                trace.end();
            }
            response
        }
    }
}

fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// What a request's trace span needs once it ends.
struct Trace {
    record: Record,
    traceparent: Option<String>,
    started_at: u128,
}

impl Trace {
    fn end(self) {
        let r = &self.record;
        crate::otlp::record(crate::otlp::Span {
            traceparent: self.traceparent.as_deref(),
            method: &r.method,
            path: &r.path,
            status: r.status,
            start_unix_nanos: self.started_at,
            end_unix_nanos: unix_nanos(),
            request_id: &r.id,
            model: r.model.as_deref(),
            plugin: r.plugin.as_deref(),
            account: r.account.as_deref(),
            stream: r.stream,
        });
    }
}

/// A body that records its duration when it ends (or is dropped).
struct Timed {
    inner: Body,
    started: Instant,
    plugin: Option<String>,
    trace: Option<Trace>,
}

impl Timed {
    fn done(&mut self) {
        if let Some(plugin) = self.plugin.take() {
            global().finished(&plugin, self.started.elapsed().as_secs_f64());
        }
        if let Some(trace) = self.trace.take() {
            trace.end();
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        self.done();
    }
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A tracing layer keeping warnings and errors for the console's log page,
/// each with the id of the request it happened in (the access log's
/// `request` span), if any.
pub struct Capture;

/// A request span's id, kept in the span's extensions.
struct RequestId(String);

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "request" {
            return;
        }
        let mut visitor = Fields(String::new(), String::new());
        attrs.record(&mut visitor);
        let request_id = visitor
            .1
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix("id="))
            .map(str::to_string);
        if let (Some(request_id), Some(span)) = (request_id, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let level = *event.metadata().level();
        if level > tracing::Level::WARN {
            return;
        }
        let mut visitor = Fields(String::new(), String::new());
        event.record(&mut visitor);
        let request = ctx.event_scope(event).and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
        });
        let message = format!(
            "{}{}{}",
            request
                .map(|id| format!("[request {id}] "))
                .unwrap_or_default(),
            visitor.0,
            visitor.1
        );
        global().record_event(&level.to_string(), message);
    }
}

/// (message, ` key=value` pairs).
struct Fields(String, String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.1.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.1.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_front_door_has_its_own_path_class() {
        for (path, class) in [
            ("/v1/chat/completions", "chat"),
            ("/openai/v1/chat/completions", "chat"),
            ("/v1/messages", "messages"),
            ("/v1/messages/count_tokens", "messages"),
            ("/v1/responses", "responses"),
            ("/v1/images/generations", "images"),
            ("/v1/images/edits", "images"),
            (
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                "gemini",
            ),
            ("/v1beta/models/gemini-2.5-flash:countTokens", "gemini"),
            ("/v1/models/gemini-2.5-flash:generateContent", "gemini"),
            ("/v1beta/models", "models"),
            ("/v1beta/models/gemini-2.5-flash", "models"),
            ("/v1/models", "models"),
            ("/somewhere", "other"),
        ] {
            assert_eq!(path_class(path), class, "{path}");
        }
    }

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.07);
        h.observe(3.0);
        assert_eq!(h.counts[0], 0);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[BUCKETS.len() - 1], 2);
        assert_eq!(h.count, 2);
    }
}
