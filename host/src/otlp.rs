//! Optional OpenTelemetry traces: one server span per request (method,
//! path, status, model, plugin, account, request id, time to the last byte),
//! exported with OTLP over HTTP in its JSON encoding when the standard
//! variables ask for it:
//!
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), else
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`;
//! - `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_TRACES_HEADERS`
//!   (`key=value,…`, percent-encoded values);
//! - `OTEL_SERVICE_NAME` (default `wasmgate`); `OTEL_TRACES_EXPORTER=none`
//!   turns it off; only the `http/json` protocol is spoken.
//!
//! An incoming `traceparent` header continues the caller's trace. Spans are
//! batched and sent every two seconds off the request path; a collector that
//! is down costs a warning, never a request. Spans carry no key, secret or
//! prompt.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// Spans kept while the collector is slow; older ones are dropped.
const MAX_PENDING: usize = 4096;
const FLUSH_EVERY: Duration = Duration::from_secs(2);

struct Exporter {
    endpoint: hyper::Uri,
    headers: Vec<(String, String)>,
    service: String,
    pending: Mutex<Vec<Value>>,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// One finished request.
pub struct Span<'a> {
    pub traceparent: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub start_unix_nanos: u128,
    pub end_unix_nanos: u128,
    pub request_id: &'a str,
    pub model: Option<&'a str>,
    pub plugin: Option<&'a str>,
    pub account: Option<&'a str>,
    pub stream: Option<bool>,
}

/// Whether traces are exported.
pub fn enabled() -> bool {
    EXPORTER.get().is_some()
}

/// Starts the exporter when the environment asks for it.
pub fn start(env: &dyn Fn(&str) -> Option<String>) {
    if env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none")) {
        return;
    }
    let endpoint = match env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        Some(url) => url,
        None => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(base) => format!("{}/v1/traces", base.trim_end_matches('/')),
            None => return,
        },
    };
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/json".into());
    if protocol != "http/json" {
        tracing::warn!(
            "OpenTelemetry traces are off: OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported, set http/json (a collector's HTTP port, usually 4318)"
        );
        return;
    }
    let endpoint: hyper::Uri = match endpoint.parse() {
        Ok(uri) => uri,
        Err(err) => {
            tracing::warn!("OpenTelemetry traces are off: the OTLP endpoint is not a URL: {err}");
            return;
        }
    };
    let mut headers = parse_headers(env("OTEL_EXPORTER_OTLP_HEADERS").as_deref());
    headers.extend(parse_headers(
        env("OTEL_EXPORTER_OTLP_TRACES_HEADERS").as_deref(),
    ));
    let service = env("OTEL_SERVICE_NAME").unwrap_or_else(|| "wasmgate".into());
    tracing::info!(endpoint = %endpoint, service, "OpenTelemetry traces exported (OTLP http/json)");
    if EXPORTER
        .set(Exporter {
            endpoint,
            headers,
            service,
            pending: Mutex::new(Vec::new()),
        })
        .is_ok()
    {
        tokio::spawn(flush_loop());
    }
}

/// `key=value,key2=value2`, values percent-decoded.
fn parse_headers(text: Option<&str>) -> Vec<(String, String)> {
    text.unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| {
            let value = crate::console::session::percent_decode(v.trim())?;
            Some((k.trim().to_string(), value))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The trace id and parent span id of a W3C `traceparent`, if valid.
fn parent_of(traceparent: Option<&str>) -> Option<(String, String)> {
    let parts: Vec<&str> = traceparent?.trim().split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0')
    };
    match parts.as_slice() {
        [_version, trace, parent, _flags] if hex(trace, 32) && hex(parent, 16) => {
            Some((trace.to_ascii_lowercase(), parent.to_ascii_lowercase()))
        }
        _ => None,
    }
}

/// Queues a finished request's span.
pub fn record(span: Span<'_>) {
    let Some(exporter) = EXPORTER.get() else {
        return;
    };
    let (trace_id, parent) = match parent_of(span.traceparent) {
        Some((trace, parent)) => (trace, Some(parent)),
        None => (crate::console::session::random_hex(16), None),
    };
    let mut attributes = vec![
        attr_str("http.request.method", span.method),
        attr_str("url.path", span.path),
        attr_int("http.response.status_code", i64::from(span.status)),
        attr_str("wasmgate.request_id", span.request_id),
    ];
    if let Some(model) = span.model {
        attributes.push(attr_str("gen_ai.request.model", model));
    }
    if let Some(plugin) = span.plugin {
        attributes.push(attr_str("wasmgate.plugin", plugin));
    }
    if let Some(account) = span.account {
        attributes.push(attr_str("wasmgate.account", account));
    }
    if let Some(stream) = span.stream {
        attributes.push(json!({"key": "wasmgate.stream", "value": {"boolValue": stream}}));
    }
    let mut value = json!({
        "traceId": trace_id,
        "spanId": crate::console::session::random_hex(8),
        "name": format!("{} {}", span.method, span.path),
        "kind": 2,
        "startTimeUnixNano": span.start_unix_nanos.to_string(),
        "endTimeUnixNano": span.end_unix_nanos.to_string(),
        "attributes": attributes,
        "status": {"code": if span.status >= 500 { 2 } else { 0 }},
    });
    if let Some(parent) = parent {
        value["parentSpanId"] = Value::String(parent);
    }
    let mut pending = exporter.pending.lock().unwrap_or_else(|e| e.into_inner());
    if pending.len() >= MAX_PENDING {
        pending.remove(0);
    }
    pending.push(value);
}

fn attr_str(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn attr_int(key: &str, value: i64) -> Value {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

async fn flush_loop() {
    let Some(exporter) = EXPORTER.get() else {
        return;
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("the ring provider supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut failing = false;
    loop {
        tokio::time::sleep(FLUSH_EVERY).await;
        let spans =
            std::mem::take(&mut *exporter.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if spans.is_empty() {
            continue;
        }
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [
                attr_str("service.name", &exporter.service),
                attr_str("service.version", env!("CARGO_PKG_VERSION")),
            ]},
            "scopeSpans": [{"scope": {"name": "wasmgate"}, "spans": spans}],
        }]});
        let mut request = hyper::Request::post(exporter.endpoint.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        for (name, value) in &exporter.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let Ok(request) = request.body(Full::new(Bytes::from(body.to_string()))) else {
            continue;
        };
        let sent = tokio::time::timeout(Duration::from_secs(10), client.request(request)).await;
        let problem = match sent {
            Ok(Ok(response)) if response.status().is_success() => None,
            Ok(Ok(response)) => Some(format!("the collector answered {}", response.status())),
            Ok(Err(err)) => Some(format!("cannot reach the collector: {err}")),
            Err(_) => Some("the collector did not answer within 10 s".into()),
        };
        match problem {
            Some(problem) if !failing => {
                tracing::warn!("OpenTelemetry spans dropped: {problem}");
                failing = true;
            }
            Some(_) => {}
            None => failing = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_and_headers_are_read() {
        let parent = parent_of(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(
            parent,
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into()
            ))
        );
        assert_eq!(parent_of(Some("00-0000-1-01")), None);
        assert_eq!(
            parse_headers(Some("authorization=Basic%20abc, x-team = a")),
            [
                ("authorization".to_string(), "Basic abc".to_string()),
                ("x-team".to_string(), "a".to_string())
            ]
        );
    }
}
