//! The mock's framing as a client sees it on the socket: what the gateway
//! tests cannot show (the `?key=` form, the JSON-array stream, CRLF bytes).

use std::io::{Read, Write};
use std::net::TcpStream;

use mock_vertex::{MockOptions, RequestKind};

/// One HTTP/1.1 exchange over a plain socket; the raw response text.
async fn exchange(addr: std::net::SocketAddr, head: String, body: String) -> String {
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).unwrap();
        write!(
            socket,
            "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap()
}

const PROMPT: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

#[tokio::test]
async fn express_sse_uses_crlf_and_the_query_key_works() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let response = exchange(
        mock.addr,
        "POST /v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=express-test-key HTTP/1.1\r\nContent-Type: application/json".into(),
        PROMPT.into(),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("content-type: text/event-stream"),
        "{response}"
    );
    assert!(response.matches("}\r\n\r\n").count() >= 3, "{response}");
    assert!(response.contains(r#""finishReason":"STOP""#));
    let request = &mock.requests()[0];
    assert_eq!(request.kind, RequestKind::Generate);
    assert_eq!(
        request.query_param("key").as_deref(),
        Some("express-test-key")
    );
}

#[tokio::test]
async fn without_alt_the_stream_is_a_json_array() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let response = exchange(
        mock.addr,
        "POST /v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent HTTP/1.1\r\nx-goog-api-key: express-test-key".into(),
        PROMPT.into(),
    )
    .await;
    assert!(response.contains("application/json"), "{response}");
    assert!(
        response.contains("[{") && response.contains(",\r\n{"),
        "{response}"
    );
    assert!(response.contains("]"), "{response}");
}

#[tokio::test]
async fn credentials_are_checked_before_anything_else() {
    let mock = mock_vertex::spawn(MockOptions::default()).await;
    let key_on_project_path = exchange(
        mock.addr,
        "POST /v1/projects/p/locations/global/publishers/google/models/mock-429:generateContent?key=express-test-key HTTP/1.1".into(),
        PROMPT.into(),
    )
    .await;
    assert!(
        key_on_project_path.starts_with("HTTP/1.1 401"),
        "{key_on_project_path}"
    );
    assert!(key_on_project_path.contains("CREDENTIALS_MISSING"));

    let unknown_token = exchange(
        mock.addr,
        "POST /v1/projects/p/locations/global/publishers/google/models/m:generateContent HTTP/1.1\r\nAuthorization: Bearer mock-9".into(),
        PROMPT.into(),
    )
    .await;
    assert!(unknown_token.starts_with("HTTP/1.1 401"), "{unknown_token}");
    assert!(unknown_token.contains("UNAUTHENTICATED"));

    let not_a_form = exchange(
        mock.addr,
        "POST /token HTTP/1.1\r\nContent-Type: application/json".into(),
        "{}".into(),
    )
    .await;
    assert!(not_a_form.starts_with("HTTP/1.1 400"), "{not_a_form}");
    assert!(not_a_form.contains("invalid_request"));
}
