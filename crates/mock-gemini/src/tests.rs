//! The mock over real sockets, with a bare HTTP/1.1 client so the framing
//! (CRLF events, chunked pieces, aborted bodies) is seen as a client sees it.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The chunked body ended with its terminating chunk.
    complete: bool,
}

impl Raw {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON of each `data:` event.
    fn events(&self) -> Vec<Value> {
        let text = self.text();
        assert!(!text.contains("\n\n"), "events are CRLF-framed: {text:?}");
        text.split("\r\n\r\n")
            .filter(|event| !event.is_empty())
            .map(|event| serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }
}

fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: mock\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("content-type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    [head.into_bytes(), body.into_bytes()].concat()
}

fn parse(raw: &[u8]) -> Raw {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if !chunked {
        return Raw {
            status,
            headers,
            body: rest.to_vec(),
            complete: true,
        };
    }
    let (body, complete) = dechunk(rest);
    Raw {
        status,
        headers,
        body,
        complete,
    }
}

/// The body of a chunked transfer, and whether its last chunk arrived.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return (body, true);
        }
        let start = line_end + 2;
        if rest.len() < start + size {
            body.extend_from_slice(&rest[start..]);
            return (body, false);
        }
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
}

async fn send(
    mock: &MockUpstream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Raw {
    let mut stream = TcpStream::connect(mock.addr).await.unwrap();
    stream
        .write_all(&request_bytes(method, path, headers, body))
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
        }
    }
    parse(&raw)
}

/// A "say hi" generation call at `path` with `key` in `x-goog-api-key`.
async fn say_hi(mock: &MockUpstream, path: &str, key: &str) -> Raw {
    send(
        mock,
        "POST",
        path,
        &[("x-goog-api-key", key)],
        Some(&say("hi")),
    )
    .await
}

fn say(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

const GOOD: (&str, &str) = ("x-goog-api-key", "good-1");

async fn mock() -> MockUpstream {
    spawn(MockOptions {
        chunk_delay: Duration::from_millis(5),
        ..MockOptions::default()
    })
    .await
}

fn concat_text(events: &[Value]) -> String {
    events
        .iter()
        .flat_map(|event| {
            event["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|part| part.get("thought").is_none())
        .filter_map(|part| part["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn sse_streams_are_crlf_framed_echoes() {
    let mock = mock().await;
    let response = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &[GOOD],
        Some(&say("Say hi to the nice people")),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert!(response.complete);
    let events = response.events();
    assert!((2..=4).contains(&events.len()), "{} events", events.len());
    assert_eq!(concat_text(&events), "echo: Say hi to the nice people");
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(events[0]["modelVersion"], "gemini-2.5-flash");

    let log = mock.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].key.as_deref(), Some("good-1"));
    assert_eq!(log[0].key_source.as_deref(), Some("header"));
    assert_eq!(log[0].model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(log[0].action.as_deref(), Some("streamGenerateContent"));
    assert_eq!(log[0].status, Some(200));
    assert_eq!(
        log[0].body.as_ref().unwrap()["contents"][0]["parts"][0]["text"],
        "Say hi to the nice people"
    );
}

#[tokio::test]
async fn streams_without_alt_are_json_arrays() {
    let mock = mock().await;
    let response = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?key=good-2",
        &[],
        Some(&say("one two three")),
    )
    .await;
    assert_eq!(response.status, 200);
    let chunks = response.json();
    assert!(chunks.as_array().unwrap().len() >= 2);
    assert_eq!(
        concat_text(chunks.as_array().unwrap()),
        "echo: one two three"
    );
    assert_eq!(mock.requests()[0].key_source.as_deref(), Some("query"));
}

#[tokio::test]
async fn generate_content_honours_include_thoughts() {
    let mock = mock().await;
    let mut body = say("why?");
    body["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let response = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &[GOOD],
        Some(&body),
    )
    .await;
    let answer = response.json();
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "Thinking about: why?", "thought": true}, {"text": "echo: why?"}])
    );
    assert_eq!(answer["usageMetadata"]["thoughtsTokenCount"], 3);
}

#[tokio::test]
async fn the_key_registry() {
    let mock = spawn(MockOptions {
        limited_retry_delay: Duration::from_millis(150),
        ..MockOptions::default()
    })
    .await;
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let call = |key: &'static str| say_hi(&mock, path, key);

    let bad = call("bad-1").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["error"]["details"][0]["reason"],
        "API_KEY_INVALID"
    );
    assert_eq!(
        call("banned-1").await.json()["error"]["status"],
        "PERMISSION_DENIED"
    );
    assert_eq!(
        call("AIzaSyUnknown").await.json()["error"]["message"],
        "API Key not found. Please pass a valid API key."
    );
    let anonymous = send(&mock, "POST", path, &[], Some(&say("hi"))).await;
    assert_eq!(anonymous.status, 403);

    let daily = call("daily-1").await;
    assert_eq!(daily.status, 429);
    assert!(
        daily.header("retry-after").is_none(),
        "Google sends no Retry-After"
    );
    assert_eq!(
        daily.json()["error"]["details"][0]["violations"][0]["quotaId"],
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    );

    assert_eq!(call("limited-1-a").await.status, 200);
    let limited = call("limited-1-a").await;
    assert_eq!(limited.status, 429);
    let error = limited.json()["error"].clone();
    assert_eq!(
        error["details"][0]["violations"][0]["quotaId"],
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    );
    assert_eq!(error["details"][2]["retryDelay"], "0.15s");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .ends_with("Please retry in 0.15s.")
    );
    assert_eq!(call("limited-1-a").await.status, 429);
    tokio::time::sleep(Duration::from_millis(160)).await;
    assert_eq!(call("limited-1-a").await.status, 200);

    // Listing models spends no quota.
    assert_eq!(
        send(
            &mock,
            "GET",
            "/v1beta/models",
            &[("x-goog-api-key", "daily-1")],
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        mock.generation_keys(),
        [
            "bad-1",
            "banned-1",
            "AIzaSyUnknown",
            "",
            "daily-1",
            "limited-1-a",
            "limited-1-a",
            "limited-1-a",
            "limited-1-a"
        ]
    );
}

#[tokio::test]
async fn models_are_paged() {
    let mock = mock().await;
    let first = send(&mock, "GET", "/v1beta/models?pageSize=2", &[GOOD], None)
        .await
        .json();
    assert_eq!(first["models"].as_array().unwrap().len(), 2);
    assert_eq!(first["models"][0]["name"], "models/gemini-2.5-pro");
    let token = first["nextPageToken"].as_str().unwrap();
    let second = send(
        &mock,
        "GET",
        &format!("/v1beta/models?pageSize=2&pageToken={token}"),
        &[GOOD],
        None,
    )
    .await
    .json();
    assert_eq!(second["models"].as_array().unwrap().len(), 1);
    assert!(second.get("nextPageToken").is_none());
    let all = send(&mock, "GET", "/v1beta/models", &[GOOD], None)
        .await
        .json();
    assert_eq!(all["models"].as_array().unwrap().len(), 3);
    assert!(all.get("nextPageToken").is_none());

    assert_eq!(
        send(
            &mock,
            "GET",
            "/v1beta/models/gemini-2.5-flash",
            &[GOOD],
            None
        )
        .await
        .json()["displayName"],
        "Gemini 2.5 Flash"
    );
    assert_eq!(
        send(&mock, "GET", "/v1beta/models/gemini-9", &[GOOD], None)
            .await
            .status,
        404
    );
    let unknown = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-9:generateContent",
        &[GOOD],
        Some(&say("x")),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["status"], "NOT_FOUND");
    let nowhere = send(&mock, "GET", "/v9/elsewhere", &[GOOD], None).await;
    assert_eq!(nowhere.status, 404);
    assert!(
        nowhere
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn error_scenarios() {
    let mock = mock().await;
    let stream = |model: &'static str| {
        let mock = &mock;
        async move {
            send(
                mock,
                "POST",
                &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
                &[GOOD],
                Some(&say("hello there friend")),
            )
            .await
        }
    };
    let overloaded = stream("mock-overloaded").await;
    assert_eq!(overloaded.status, 503);
    // A streamed call's error comes wrapped in a one-element array.
    assert_eq!(
        overloaded.json()[0]["error"]["message"],
        "The model is overloaded. Please try again later."
    );
    assert_eq!(stream("internal").await.status, 500);

    let blocked = stream("mock-blocked-prompt").await.events();
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        blocked[0]["promptFeedback"]["blockReason"],
        "PROHIBITED_CONTENT"
    );

    let midstream = stream("mock-midstream-error").await;
    let events = midstream.events();
    assert_eq!(events.len(), 3);
    assert!(
        events[..2]
            .iter()
            .all(|e| e["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(
        events[2],
        json!({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}})
    );
    assert!(midstream.complete);

    // The same error as raw, pretty-printed JSON lines after the data events.
    let raw = stream("mock-midstream-raw-error").await;
    let text = raw.text();
    assert_eq!(text.matches("data: ").count(), 2);
    let tail = &text[text.rfind("\r\n\r\n").unwrap() + 4..];
    assert!(tail.starts_with("{\r\n  \"error\": {"), "{tail:?}");
    let error: Value = serde_json::from_str(tail).unwrap();
    assert_eq!(error["error"]["code"], 500);
    assert!(raw.complete);

    let cut = stream("mock-disconnect").await;
    assert_eq!(cut.status, 200);
    assert!(!cut.complete, "the connection is aborted, not ended");
    assert!(cut.text().matches("data: ").count() == 2);

    // The header picks the scenario whatever the model.
    let empty = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &[GOOD, ("x-mock-scenario", "empty")],
        Some(&say("x")),
    )
    .await
    .json();
    assert_eq!(
        empty["candidates"][0]["content"]["parts"],
        json!([{"text": ""}])
    );
    assert_eq!(
        mock.requests().last().unwrap().scenario.as_deref(),
        Some("empty")
    );
}

#[tokio::test]
async fn held_streams_wait_for_release() {
    let mock = mock().await;
    let mut stream = TcpStream::connect(mock.addr).await.unwrap();
    let request = request_bytes(
        "POST",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &[GOOD, ("x-mock-scenario", "hold")],
        Some(&say("a b c d e f")),
    );
    stream.write_all(&request).await.unwrap();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&raw).contains("data: ") {
        let n = stream.read(&mut buffer).await.unwrap();
        raw.extend_from_slice(&buffer[..n]);
    }
    tokio::time::timeout(Duration::from_secs(5), mock.wait_for_held(1))
        .await
        .unwrap();
    assert_eq!(mock.held(), 1);
    // Nothing more comes while held.
    let more = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await;
    assert!(more.is_err(), "no bytes while held");
    assert_eq!(mock.requests()[0].status, Some(200));

    mock.release();
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
        }
    }
    let response = parse(&raw);
    assert!(response.complete);
    assert_eq!(concat_text(&response.events()), "echo: a b c d e f");
    assert_eq!(mock.held(), 0);
}

#[tokio::test]
async fn tool_calls_and_tokens() {
    let mock = mock().await;
    let mut body = say("weather?");
    body["tools"] = json!([{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]);
    let answer = send(
        &mock,
        "POST",
        "/v1beta/models/mock-tool-call:generateContent",
        &[GOOD],
        Some(&body),
    )
    .await
    .json();
    assert_eq!(
        answer["candidates"][0]["content"]["parts"][0],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": THOUGHT_SIGNATURE})
    );
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");

    let count = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:countTokens",
        &[GOOD],
        Some(&say("twelve chars")),
    )
    .await
    .json();
    assert_eq!(count, json!({"totalTokens": 3}));

    let embed = send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:batchEmbedContents",
        &[GOOD],
        Some(&json!({"requests": [{"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "a"}]}}]})),
    )
    .await
    .json();
    assert_eq!(
        embed["embeddings"][0]["values"].as_array().unwrap().len(),
        8
    );
}

#[tokio::test]
async fn the_log_is_served_as_json() {
    let mock = mock().await;
    send(
        &mock,
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &[GOOD],
        Some(&say("hi")),
    )
    .await;
    let log = send(&mock, "GET", "/_mock/log", &[], None).await.json();
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["key"], "good-1");
    assert_eq!(log[0]["status"], 200);
    send(&mock, "DELETE", "/_mock/log", &[], None).await;
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_openai_compatible_endpoint() {
    let mock = mock().await;
    let body = json!({"model": "gemini-2.5-flash", "stream": true, "messages": [{"role": "user", "content": "hi there"}]});
    let response = send(
        &mock,
        "POST",
        "/v1beta/openai/chat/completions",
        &[("authorization", "Bearer good-9")],
        Some(&body),
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(response.text().ends_with("data: [DONE]\n\n"));
    assert_eq!(mock.requests()[0].key_source.as_deref(), Some("bearer"));
}

fn all_faults(retry_delay: Duration) -> [KeyFault; 6] {
    [
        KeyFault::RateLimited { retry_delay },
        KeyFault::QuotaExhaustedDaily,
        KeyFault::InvalidKey,
        KeyFault::PermissionDenied,
        KeyFault::Internal,
        KeyFault::Unavailable,
    ]
}

#[tokio::test]
async fn faulted_keys_answer_google_s_errors_until_the_fault_is_removed() {
    let mock = mock().await;
    let generate = |key: &'static str, path: &'static str| say_hi(&mock, path, key);
    const GENERATE: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
    const STREAM: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
    let expected_status = [429, 429, 400, 403, 500, 503];
    for (fault, status) in all_faults(Duration::from_millis(1500))
        .into_iter()
        .zip(expected_status)
    {
        mock.set_key_fault("good-1", Some(fault));
        for path in [GENERATE, STREAM] {
            let response = generate("good-1", path).await;
            assert_eq!(response.status, status, "{fault:?} {path}");
            let expected = fault.error("gemini-2.5-flash").body;
            let expected = if path == STREAM {
                json!([expected])
            } else {
                expected
            };
            assert!(
                response
                    .header("content-type")
                    .unwrap()
                    .starts_with("application/json"),
                "{fault:?}"
            );
            assert_eq!(response.json(), expected, "{fault:?}");
        }
        // Other keys and listing are not affected.
        assert_eq!(generate("good-2", GENERATE).await.status, 200);
        let list = send(&mock, "GET", "/v1beta/models", &[GOOD], None).await;
        assert_eq!(list.status, 200, "{fault:?}");
    }

    // The shapes a key-pool client classifies on.
    let body = |fault| {
        let (mock, generate) = (&mock, &generate);
        async move {
            mock.set_key_fault("good-1", Some(fault));
            generate("good-1", GENERATE).await.json()["error"].clone()
        }
    };
    let limited = body(KeyFault::RateLimited {
        retry_delay: Duration::from_millis(1500),
    })
    .await;
    assert_eq!(limited["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        limited["details"][0]["violations"][0]["quotaId"],
        google_errors::PER_MINUTE_QUOTA_ID
    );
    assert_eq!(limited["details"][2]["retryDelay"], "1.5s");
    let daily = body(KeyFault::QuotaExhaustedDaily).await;
    assert_eq!(
        daily["details"][0]["violations"][0]["quotaId"],
        google_errors::PER_DAY_QUOTA_ID
    );
    assert_eq!(
        body(KeyFault::InvalidKey).await["details"][0]["reason"],
        "API_KEY_INVALID"
    );
    assert_eq!(
        body(KeyFault::PermissionDenied).await["status"],
        "PERMISSION_DENIED"
    );
    assert_eq!(body(KeyFault::Internal).await["status"], "INTERNAL");
    assert_eq!(body(KeyFault::Unavailable).await["status"], "UNAVAILABLE");

    // The OpenAI-compatible route is faulted too.
    let chat = send(
        &mock,
        "POST",
        "/v1beta/openai/chat/completions",
        &[("authorization", "Bearer good-1")],
        Some(
            &json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}),
        ),
    )
    .await;
    assert_eq!(chat.status, 503);

    mock.set_key_fault("good-1", None);
    assert!(mock.key_faults().is_empty());
    let restored = generate("good-1", GENERATE).await;
    assert_eq!(restored.status, 200);
    assert_eq!(
        restored.json()["candidates"][0]["content"]["parts"][0]["text"],
        "echo: hi"
    );

    let statuses = mock.generation_statuses();
    assert_eq!(statuses.first(), Some(&("good-1".to_string(), 429)));
    assert_eq!(statuses.last(), Some(&("good-1".to_string(), 200)));
    assert_eq!(
        statuses.len(),
        mock.requests().iter().filter(|r| r.is_generation()).count()
    );
}

#[tokio::test]
async fn faults_sit_on_top_of_prefixes_and_are_replaced_as_a_set() {
    let mock = mock().await;
    let call = |key: &'static str| async {
        say_hi(
            &mock,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            key,
        )
        .await
        .status
    };
    mock.set_key_faults([
        ("bad-1".to_string(), KeyFault::Internal),
        ("good-1".to_string(), KeyFault::Internal),
    ]);
    assert_eq!(call("bad-1").await, 500);
    mock.set_key_faults([("good-2".to_string(), KeyFault::PermissionDenied)]);
    assert_eq!(
        mock.key_faults(),
        HashMap::from([("good-2".to_string(), KeyFault::PermissionDenied)])
    );
    assert_eq!(call("bad-1").await, 400, "back to its prefix");
    assert_eq!(call("good-1").await, 200);
    assert_eq!(call("good-2").await, 403);
    mock.set_key_faults([]);
    assert_eq!(call("good-2").await, 200);
}

#[tokio::test]
async fn chaos_faults_three_of_ten_keys_per_round_and_stop_clears() {
    let mock = mock().await;
    let keys: Vec<String> = (0..10).map(|i| format!("good-{i}")).collect();
    let period = Duration::from_millis(30);
    let chaos = chaos::start(
        &mock,
        chaos::ChaosPlan {
            keys: keys.clone(),
            period,
            ..chaos::ChaosPlan::default()
        },
    );
    // The first round is in force at once.
    assert_eq!(chaos.rounds().len(), 1);
    assert_eq!(mock.key_faults(), chaos.rounds()[0]);
    tokio::time::sleep(period * 6).await;
    let rounds = chaos.rounds();
    assert!(rounds.len() >= 3, "{} rounds", rounds.len());
    for round in &rounds {
        assert_eq!(round.len(), 3);
        assert!(round.keys().all(|key| keys.contains(key)));
    }
    assert!(
        rounds.windows(2).any(|pair| pair[0] != pair[1]),
        "rounds change"
    );
    let faults = mock.key_faults();
    assert_eq!(faults.len(), 3);
    assert!(chaos.rounds().contains(&faults));

    chaos.stop();
    assert!(mock.key_faults().is_empty());
    tokio::time::sleep(period * 2).await;
    assert!(mock.key_faults().is_empty(), "no round after stop");
    for key in &keys {
        let status = send(
            &mock,
            "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            &[("x-goog-api-key", key)],
            Some(&say("hi")),
        )
        .await
        .status;
        assert_eq!(status, 200, "{key}");
    }
}
