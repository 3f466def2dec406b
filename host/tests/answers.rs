//! Answers shaped the way the seeds' clients expect them (`[answers]`,
//! `proxy`), end to end: the real gateway, plugins built from source, mock
//! upstreams on loopback.

use std::time::Duration;

use mock_gemini::{MockOptions, MockUpstream};
use wasmgate_testkit::{
    Gateway, Value, json, parse_sse, reqwest, streamed_reasoning, streamed_text, user_request,
};

/// A gateway with the `gemini` plugin on `mock`, one key, and `extra`
/// configuration (sections and `[models]` entries after the defaults).
fn gemini_gateway(mock: &MockUpstream, plugin_extra: &str, extra: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
{extra}

[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
{plugin_extra}
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env = "TEST_GEMINI_KEY" }} }}
settings = {{ base-url = "{}" }}
"#,
            mock.base_url
        ))
        .env("TEST_GEMINI_KEY", "good-1")
        .env("API_KEY", "sk-answers-test-key-0123456789")
        .start()
}

/// The raw SSE body of a streamed chat, and its status.
async fn raw_stream(gateway: &Gateway, body: &Value) -> (u16, String) {
    let response = tokio::time::timeout(
        Duration::from_secs(60),
        gateway
            .request(reqwest::Method::POST, "/v1/chat/completions")
            .json(body)
            .send(),
    )
    .await
    .expect("the gateway answers")
    .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

const HEARTBEAT: &str = ": keep-alive\n\n";

#[tokio::test]
async fn heartbeats_keep_a_late_stream_alive_and_the_answer_is_intact() {
    let mock = mock_gemini::spawn(MockOptions {
        slow_first_byte: Duration::from_millis(2000),
        ..MockOptions::default()
    })
    .await;
    let gateway = gemini_gateway(
        &mock,
        "",
        r#"
[runtime]
first-event-timeout-secs = 3

[answers]
heartbeat-secs = 0.3

[models]
"quiet-*" = { plugin = "gemini", model = "*", answers = { heartbeat-secs = 0 } }
"*" = "gemini"
"#,
    );

    let (status, body) = raw_stream(
        &gateway,
        &user_request("mock-slow-first-byte", "are you there", true),
    )
    .await;
    assert_eq!(status, 200);
    let first_data = body.find("data: ").expect("some data");
    let beats_before = body[..first_data].matches(HEARTBEAT).count();
    assert!(
        beats_before >= 3,
        "heartbeats while the first event is late (2 s at 0.3 s): {body}"
    );
    let frames = parse_sse(&body);
    assert_eq!(streamed_text(&frames), "echo: are you there");
    assert_eq!(frames.last().unwrap(), "[DONE]");

    // A route can turn them off: the same late answer, no comment line.
    let (status, body) = raw_stream(
        &gateway,
        &user_request("quiet-mock-slow-first-byte", "are you there", true),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.contains(": keep-alive"), "{body}");
    assert_eq!(streamed_text(&parse_sse(&body)), "echo: are you there");

    // A quick answer has none, and a quick failure keeps its status.
    let (status, body) = raw_stream(&gateway, &user_request("gemini-2.5-flash", "hi", true)).await;
    assert_eq!(status, 200);
    assert!(!body.contains(": keep-alive"), "{body}");
    let (status, body) = raw_stream(&gateway, &user_request("mock-overloaded", "hi", true)).await;
    assert!(status >= 500, "{status}: {body}");
    assert!(body.contains("\"error\""), "{body}");

    // A failure after heartbeats (no first event within 3 s) still ends the
    // stream, with an error frame.
    let (status, body) = raw_stream(&gateway, &user_request("mock-timeout", "hi", true)).await;
    assert_eq!(status, 200, "committed by the first heartbeat");
    assert!(body.starts_with(HEARTBEAT), "{body}");
    let frames = parse_sse(&body);
    assert_eq!(frames.len(), 1, "{body}");
    assert_eq!(frames[0]["error"]["type"], "timeout_error", "{body}");
}

#[tokio::test]
async fn reasoning_goes_to_its_field_inline_in_think_tags_or_nowhere_per_route() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let gateway = gemini_gateway(
        &mock,
        "",
        r#"
[models]
"think" = { plugin = "gemini", model = "mock-thinking", answers = { reasoning = "think" } }
"drop" = { plugin = "gemini", model = "mock-thinking", answers = { reasoning = "drop" } }
"*" = "gemini"
"#,
    );
    let thought = "Thinking about: why";
    let answer = "echo: why";
    let inline = format!("<think>\n{thought}\n</think>\n\n{answer}");

    // The default: `reasoning_content`.
    let whole = gateway
        .chat_ok(&user_request("mock-thinking", "why", false))
        .await;
    let message = &whole["choices"][0]["message"];
    assert_eq!(message["content"], answer);
    assert_eq!(message["reasoning_content"], thought);

    // Gemi2Api's ENABLE_THINKING: inline, whole and streamed alike.
    let whole = gateway.chat_ok(&user_request("think", "why", false)).await;
    let message = &whole["choices"][0]["message"];
    assert_eq!(message["content"], inline.as_str());
    assert!(message.get("reasoning_content").is_none(), "{message}");
    let (status, frames) = gateway
        .chat_stream(&user_request("think", "why", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), inline);
    assert_eq!(streamed_reasoning(&frames), "");
    assert_eq!(frames.last().unwrap(), "[DONE]");

    // Dropped.
    let whole = gateway.chat_ok(&user_request("drop", "why", false)).await;
    let message = &whole["choices"][0]["message"];
    assert_eq!(message["content"], answer);
    assert!(message.get("reasoning_content").is_none(), "{message}");
    let (_, frames) = gateway
        .chat_stream(&user_request("drop", "why", true))
        .await;
    assert_eq!(streamed_text(&frames), answer);
    assert_eq!(streamed_reasoning(&frames), "");
}

/// A proxy on loopback that speaks HTTP `CONNECT` and SOCKS5 and sends every
/// tunnel to 127.0.0.1 at the asked port, whatever the host: a destination
/// named `upstream.invalid` is reachable only through it. It records each
/// tunnel's `host:port` and the user it was given.
struct LoopbackProxy {
    port: u16,
    tunnels: Tunnels,
}

/// Each tunnel's `host:port` and the user it came with.
type Tunnels = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

impl LoopbackProxy {
    async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = tunnels.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let _ = proxy_one(client, record).await;
                });
            }
        });
        LoopbackProxy { port, tunnels }
    }

    fn tunnels(&self) -> Vec<(String, Option<String>)> {
        self.tunnels.lock().unwrap().clone()
    }
}

async fn proxy_one(mut client: tokio::net::TcpStream, record: Tunnels) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = [0u8; 1];
    client.peek(&mut first).await?;
    let (target, port, user) = if first[0] == 5 {
        // SOCKS5: greeting, optional user/password, CONNECT.
        let mut head = [0u8; 2];
        client.read_exact(&mut head).await?;
        let mut methods = vec![0u8; head[1] as usize];
        client.read_exact(&mut methods).await?;
        let mut user = None;
        if methods.contains(&2) {
            client.write_all(&[5, 2]).await?;
            let mut version_len = [0u8; 2];
            client.read_exact(&mut version_len).await?;
            let mut name = vec![0u8; version_len[1] as usize];
            client.read_exact(&mut name).await?;
            let mut pass_len = [0u8; 1];
            client.read_exact(&mut pass_len).await?;
            let mut pass = vec![0u8; pass_len[0] as usize];
            client.read_exact(&mut pass).await?;
            user = Some(String::from_utf8_lossy(&name).into_owned());
            client.write_all(&[1, 0]).await?;
        } else {
            client.write_all(&[5, 0]).await?;
        }
        let mut request = [0u8; 4];
        client.read_exact(&mut request).await?;
        let host = match request[3] {
            1 => {
                let mut ip = [0u8; 4];
                client.read_exact(&mut ip).await?;
                std::net::Ipv4Addr::from(ip).to_string()
            }
            3 => {
                let mut len = [0u8; 1];
                client.read_exact(&mut len).await?;
                let mut name = vec![0u8; len[0] as usize];
                client.read_exact(&mut name).await?;
                String::from_utf8_lossy(&name).into_owned()
            }
            _ => return Ok(()),
        };
        let mut port = [0u8; 2];
        client.read_exact(&mut port).await?;
        client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
        (host, u16::from_be_bytes(port), user)
    } else {
        // HTTP CONNECT: read the head up to its blank line.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte).await? == 0 {
                return Ok(());
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let authority = head
            .strip_prefix("CONNECT ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let (host, port) = authority.rsplit_once(':').unwrap_or((&authority, "80"));
        let user = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
            .map(|l| l.to_string());
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        (host.to_string(), port.parse().unwrap_or(80), user)
    };
    record
        .lock()
        .unwrap()
        .push((format!("{target}:{port}"), user));
    let mut upstream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

fn mock_port(mock: &MockUpstream) -> u16 {
    mock.base_url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_plugin_with_a_socks5_proxy_reaches_its_upstream_only_through_it() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let proxy = LoopbackProxy::spawn().await;
    let upstream = format!("upstream.invalid:{}", mock_port(&mock));
    // `upstream.invalid` does not resolve here: only the proxy can reach it.
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
proxy = {{ env = "TEST_PROXY" }}
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env = "TEST_GEMINI_KEY" }} }}
settings = {{ base-url = "http://{upstream}" }}

[models]
"*" = "gemini"
"#
        ))
        .env("TEST_GEMINI_KEY", "good-1")
        .env(
            "TEST_PROXY",
            &format!(
                "socks5://wasmgate:proxy-pass-5ecret@127.0.0.1:{}",
                proxy.port
            ),
        )
        .env("API_KEY", "sk-answers-test-key-0123456789")
        .start();

    let whole = gateway
        .chat_ok(&user_request(
            "gemini-2.5-flash",
            "through the proxy",
            false,
        ))
        .await;
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "echo: through the proxy"
    );
    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-2.5-flash", "streamed", true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&frames), "echo: streamed");

    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty(), "no tunnel was opened");
    for (target, user) in &tunnels {
        assert_eq!(
            target, &upstream,
            "the proxy is asked for the upstream by name"
        );
        assert_eq!(
            user.as_deref(),
            Some("wasmgate"),
            "with the URL's credentials"
        );
    }
    assert_eq!(
        mock.requests().iter().filter(|r| r.is_generation()).count(),
        2
    );
    let logs = gateway.logs();
    assert!(logs.contains("through a proxy"), "{logs}");
    assert!(
        !logs.contains("proxy-pass-5ecret"),
        "the proxy's password is logged:\n{logs}"
    );
}

#[tokio::test]
async fn egress_rules_still_hold_for_a_plugin_behind_an_http_proxy() {
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    let proxy = LoopbackProxy::spawn().await;
    let granted = format!("upstream.invalid:{}", mock_port(&mock));
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config(&format!(
            r#"
[plugins.misbehave]
allowed-hosts = ["http://{granted}"]
proxy = "http://127.0.0.1:{}"
[[plugins.misbehave.accounts]]
id = "only"
"#,
            proxy.port
        ))
        .env("API_KEY", "sk-answers-test-key-0123456789")
        .start();

    // A granted host: reached through the tunnel.
    let whole = gateway
        .chat_ok(&user_request(
            "misbehave-egress",
            &format!("http://{granted}/_mock/log"),
            false,
        ))
        .await;
    let content = whole["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("reached status 200"), "{content}");
    assert_eq!(proxy.tunnels().len(), 1);
    assert_eq!(proxy.tunnels()[0].0, granted);

    // A host not granted is refused before the proxy is asked.
    let response = gateway
        .chat(&user_request(
            "misbehave-egress",
            &format!("http://elsewhere.invalid:{}/_mock/log", mock_port(&mock)),
            false,
        ))
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("denied"),
        "{body}"
    );
    assert_eq!(
        proxy.tunnels().len(),
        1,
        "the proxy saw the refused request"
    );
}

const BUSINESS_KEY: &str = "sk-answers-test-key-0123456789";

/// A gateway with the `gemini-business` plugin on `mock` (its first seed
/// account), `answers` the body of its `[answers]` section.
fn business_gateway(
    mock: &mock_gemini_business::MockUpstream,
    answers: &str,
    env: &[(&str, &str)],
) -> Gateway {
    let mut builder = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini-business"])
        .config(&format!(
            r#"
[answers]
{answers}

[plugins.gemini-business]
allowed-hosts = ["business.gemini.google", "biz-discoveryengine.googleapis.com"]
[[plugins.gemini-business.accounts]]
id = "seed"
secrets = {{ accounts-config = {{ env = "ACCOUNTS_CONFIG" }} }}
settings = {{ base-url = "{}", index = "0" }}

[models]
"inline-imagen" = {{ plugin = "gemini-business", model = "gemini-imagen", answers = {{ images = "base64" }} }}
"gemini-*" = "gemini-business"
"#,
            mock.base_url
        ))
        .env("API_KEY", BUSINESS_KEY)
        .env("ACCOUNTS_CONFIG", &mock.accounts_config());
    for (name, value) in env {
        builder = builder.env(name, value);
    }
    builder.start()
}

/// The one Markdown image link of an answer's content.
fn image_link(content: &str) -> String {
    let start = content.find("![image](").expect("an image") + "![image](".len();
    let end = content[start..].find(')').unwrap() + start;
    content[start..end].to_string()
}

/// GET a stored image by its path, without any key.
async fn get_media(gateway: &Gateway, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = reqwest::get(format!("{}{path}", gateway.url))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_generated_image_comes_back_as_a_link_that_serves_it_until_its_retention() {
    use mock_gemini_business::GENERATED_PNG;
    let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions::default()).await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let env = [
        ("PUBLIC_BASE_URL", "https://gw.example/"),
        ("WASMGATE_DATA_DIR", data_dir),
    ];
    let answers = "images = \"url\"\nmedia-retention-secs = 600";
    let gateway = business_gateway(&mock, answers, &env);

    let whole = gateway
        .chat_ok(&user_request("gemini-imagen", "draw a red square", false))
        .await;
    let content = whole["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!content.contains("base64"), "{content}");
    let link = image_link(content);
    let path = link
        .strip_prefix("https://gw.example/media/")
        .map(|name| format!("/media/{name}"))
        .unwrap_or_else(|| panic!("a link under PUBLIC_BASE_URL: {link}"));
    let name = path.trim_start_matches("/media/");
    assert!(
        name.len() == 36 && name.ends_with(".png"),
        "128 random bits as hex and the type: {name}"
    );
    let (status, kind, bytes) = get_media(&gateway, &path).await;
    assert_eq!(status, 200);
    assert_eq!(kind.as_deref(), Some("image/png"));
    assert_eq!(bytes, GENERATED_PNG, "the link serves the generated bytes");

    // Streamed: one content delta with its own link.
    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-imagen", "draw a red square", true))
        .await;
    assert_eq!(status, 200);
    let streamed = streamed_text(&frames);
    let second = image_link(&streamed);
    assert_ne!(second, link, "every image its own id");
    assert!(!streamed.contains("base64"));

    // Inline base64 stays an option, per route.
    let whole = gateway
        .chat_ok(&user_request("inline-imagen", "draw a red square", false))
        .await;
    let content = whole["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        image_link(content).starts_with("data:image/png;base64,"),
        "{content}"
    );

    // An unknown id is a 404; the link survives a restart.
    let (status, _, _) = get_media(&gateway, &format!("/media/{}.png", "0".repeat(32))).await;
    assert_eq!(status, 404);
    gateway.terminate();
    let gateway = business_gateway(&mock, answers, &env);
    let (status, _, bytes) = get_media(&gateway, &path).await;
    assert_eq!(status, 200, "after a restart");
    assert_eq!(bytes, GENERATED_PNG);

    // Past its retention it is gone: the file is made older than that
    // (the store judges by the file's age), rather than the test waiting.
    let file = data.path().join("wasmgate-media").join(name);
    let ten_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(601);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .set_modified(ten_minutes_ago)
        .unwrap();
    let (status, _, body) = get_media(&gateway, &path).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("retention"));
}

/// A file server on loopback: `/cat.png`, `/doc.pdf`, `/big.png` (2 KB),
/// `/page` (HTML).
async fn file_server() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (kind, body): (&str, Vec<u8>) = match path.as_str() {
                    "/cat.png" => ("image/png", mock_gemini_business::GENERATED_PNG.to_vec()),
                    "/doc.pdf" => ("application/pdf", b"%PDF-1.4 tiny".to_vec()),
                    "/big.png" => ("image/png", vec![7u8; 2048]),
                    "/half.png" => ("image/png", vec![7u8; 600]),
                    "/page" => ("text/html", b"<html>login</html>".to_vec()),
                    "/hop" => ("redirect", Vec::new()),
                    _ => ("text/plain", b"missing".to_vec()),
                };
                let status = if body == b"missing" {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let reply = if kind == "redirect" {
                    format!(
                        "HTTP/1.1 302 Found\r\nlocation: http://localhost:{port}/cat.png\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                } else {
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                };
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn urls_in_requests_reach_the_plugin_as_bytes_and_private_or_oversized_ones_are_refused() {
    use base64::Engine as _;
    let files = file_server().await;
    let mock = mock_gemini::spawn(MockOptions::default()).await;
    // The file server is on loopback: trusted by name, as an operator would
    // trust a LAN host; any other private address stays refused.
    let gateway = gemini_gateway(
        &mock,
        "",
        &format!(
            r#"
[answers]
fetch-trusted-hosts = ["http://127.0.0.1:{files}"]
fetch-max-bytes = 1024

[models]
"*" = "gemini"
"#
        ),
    );
    let ask = |parts: Value| json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": parts}]});

    let whole = gateway
        .chat_ok(&ask(json!([
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": format!("http://127.0.0.1:{files}/cat.png")}},
            {"type": "file", "file": {"file_data": format!("http://127.0.0.1:{files}/doc.pdf")}}
        ])))
        .await;
    assert!(
        whole["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("echo:")
    );
    let generation = mock
        .requests()
        .into_iter()
        .find(|r| r.is_generation())
        .unwrap();
    let parts = &generation.body.as_ref().unwrap()["contents"][0]["parts"];
    let inline: Vec<(String, String)> = parts
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("inlineData"))
        .map(|d| {
            (
                d["mimeType"].as_str().unwrap().to_string(),
                d["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    assert_eq!(
        inline,
        [
            (
                "image/png".to_string(),
                b64(mock_gemini_business::GENERATED_PNG)
            ),
            ("application/pdf".to_string(), b64(b"%PDF-1.4 tiny")),
        ],
        "the bytes, with their types, reached the upstream"
    );

    for (url, needle) in [
        (format!("http://localhost:{files}/cat.png"), "public"),
        (
            "http://169.254.169.254/latest/meta-data".to_string(),
            "public",
        ),
        (format!("http://[::1]:{files}/cat.png"), "public"),
        (format!("http://127.0.0.1:{files}/hop"), "public"),
        (
            format!("http://127.0.0.1:{files}/big.png"),
            "larger than the 1024 bytes",
        ),
        (format!("http://127.0.0.1:{files}/page"), "text/html"),
        (format!("http://127.0.0.1:{files}/nothing.png"), "HTTP 404"),
    ] {
        let response = gateway
            .chat(&ask(
                json!([{"type": "image_url", "image_url": {"url": url}}]),
            ))
            .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{url}: {body}");
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["param"], "messages[0].content[0]", "{body}");
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{url}: {body}"
        );
    }
    // The limit holds for a request's URLs together.
    let half = format!("http://127.0.0.1:{files}/half.png");
    let response = gateway
        .chat(&ask(json!([
            {"type": "image_url", "image_url": {"url": half}},
            {"type": "image_url", "image_url": {"url": half}}
        ])))
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "messages[0].content[1]", "{body}");
    assert_eq!(
        mock.requests().iter().filter(|r| r.is_generation()).count(),
        1,
        "a refused URL never reaches the plugin"
    );
}
