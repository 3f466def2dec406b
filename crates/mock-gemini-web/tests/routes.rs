//! The routes the plugin does not exercise (batchexecute, read-chat
//! recovery, the legacy upload handshake, the full-size image chain), and the
//! rotation knobs, over a real socket.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mock_gemini_web::{DEFAULT_PSID, DEFAULT_PSIDTS, MOCK_PNG, MockOptions, MockUpstream};
use serde_json::{Value, json};

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The frames of a framed body (each frame's JSON is one line).
    fn frames(&self) -> Vec<Value> {
        let text = self.text();
        let body = text
            .strip_prefix(")]}'")
            .expect("the anti-hijacking prefix");
        body.lines()
            .filter(|line| line.starts_with('['))
            .map(|line| serde_json::from_str(line).expect("a JSON frame"))
            .collect()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

async fn call(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<Reply, String> {
    let uri: hyper::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", &authority);
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    let response = sender
        .send_request(builder.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn session(psidts: &str) -> (&'static str, String) {
    (
        "cookie",
        format!("__Secure-1PSID={DEFAULT_PSID}; __Secure-1PSIDTS={psidts}"),
    )
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request shape of mid-2026 browser captures, or the early-2026 one.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Current,
    Legacy,
}

async fn generate(mock: &MockUpstream, prompt: &str) -> Result<Reply, String> {
    generate_as(mock, prompt, Shape::Current).await
}

async fn generate_as(mock: &MockUpstream, prompt: &str, shape: Shape) -> Result<Reply, String> {
    let id = "9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D";
    let slots = if shape == Shape::Current { 81 } else { 69 };
    let mut inner = vec![Value::Null; slots];
    inner[0] = json!([prompt, 0, null, null, null, null, 0]);
    inner[2] = json!(["", "", "", null, null, null, null, null, null, ""]);
    inner[59] = json!(id);
    let mut headers = vec![
        session(DEFAULT_PSIDTS),
        ("x-goog-ext-525005358-jspb", format!("[\"{id}\",1]")),
    ];
    let fast = mock_gemini_web::MODEL_FAST;
    if shape == Shape::Current {
        inner[68] = json!(1);
        inner[79] = json!(1);
        inner[80] = json!(1);
        headers.push((
            "x-goog-ext-525001261-jspb",
            format!(
                "[1,null,null,null,\"{fast}\",null,null,0,[4,5,6,8],null,null,1,null,null,1,1,\"{id}\"]"
            ),
        ));
        headers.push(("x-goog-ext-73010990-jspb", "[0,0,0]".into()));
    } else {
        inner[68] = json!(2);
        headers.push((
            "x-goog-ext-525001261-jspb",
            format!("[1,null,null,null,\"{fast}\",null,null,0,[4],null,null,1]"),
        ));
        headers.push(("x-goog-ext-73010990-jspb", "[0]".into()));
    }
    let f_req = json!([null, Value::Array(inner).to_string()]).to_string();
    let body = format!(
        "at={}&f.req={}",
        encode(&mock.access_token()),
        encode(&f_req)
    );
    call(
        "POST",
        &format!(
            "{}/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate?rt=c",
            mock.base_url
        ),
        &headers,
        body.into_bytes(),
    )
    .await
}

/// The in-band error code of a StreamGenerate answer, if it has one.
fn error_code(reply: &Reply) -> Option<i64> {
    reply
        .frames()
        .iter()
        .find_map(|frame| frame[0][5][2][0][1][0].as_i64())
}

#[tokio::test]
async fn the_early_2026_request_shape_is_answered_with_1052() {
    let mock = mock_gemini_web::spawn(MockOptions::default()).await;
    let current = generate(&mock, "hi").await.unwrap();
    assert_eq!(current.status, 200);
    assert_eq!(error_code(&current), None);
    assert!(current.text().contains("rc_"));
    let legacy = generate_as(&mock, "hi", Shape::Legacy).await.unwrap();
    assert_eq!(legacy.status, 200);
    assert_eq!(error_code(&legacy), Some(1052));
}

async fn batch(mock: &MockUpstream, calls: Value) -> Reply {
    let rpcids = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let f_req = json!([calls]).to_string();
    let body = format!(
        "at={}&f.req={}",
        encode(&mock.access_token()),
        encode(&f_req)
    );
    call(
        "POST",
        &format!(
            "{}/_/BardChatUi/data/batchexecute?rpcids={rpcids}&rt=c",
            mock.base_url
        ),
        &[session(DEFAULT_PSIDTS)],
        body.into_bytes(),
    )
    .await
    .unwrap()
}

fn payload(frame: &Value) -> Value {
    serde_json::from_str(frame[0][2].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn batchexecute_reports_status_and_reads_a_recovered_turn() {
    let mock = mock_gemini_web::spawn(MockOptions::default()).await;
    let status = batch(&mock, json!([["otAQ7b", "[]", null, "generic"]])).await;
    let frames = status.frames();
    assert_eq!(frames[0][0][1], "otAQ7b");
    let status = payload(&frames[0]);
    assert_eq!(status[14], 1000);
    assert_eq!(status[15][2][0], mock_gemini_web::MODEL_LITE);
    assert_eq!(status[15][2][9], mock_gemini_web::NUMBER_LITE);

    // A stream that dies after the turn was persisted...
    let cut = generate(&mock, "[mock:cut-persisted]").await;
    assert!(cut.is_err(), "the connection is aborted");
    let turn = mock.turns().pop().unwrap();
    // ...is still generating at the first read, complete at the second.
    let read = json!([[
        "hNvQHb",
        json!([turn.cid, 10, null, 1, [1], [4], null, 1]).to_string(),
        null,
        "generic"
    ]]);
    let first = payload(&batch(&mock, read.clone()).await.frames()[0]);
    assert!(!first[0][0][3][0][0][12][6].is_null());
    let second = payload(&batch(&mock, read).await.frames()[0]);
    assert_eq!(second[0][0][3][0][0][8][0], 2);
    assert_eq!(
        second[0][0][3][0][0][1][0],
        mock_gemini_web::html_escape(&turn.answer)
    );

    let chats = payload(
        &batch(
            &mock,
            json!([["MaZiqc", "[13,null,[0,null,1]]", null, "generic"]]),
        )
        .await
        .frames()[0],
    );
    assert_eq!(chats[2][0][0], turn.cid.as_str());
    batch(
        &mock,
        json!([["GzXR5e", json!([turn.cid]).to_string(), null, "generic"]]),
    )
    .await;
    let chats = payload(
        &batch(&mock, json!([["MaZiqc", "[]", null, "generic"]]))
            .await
            .frames()[0],
    );
    assert_eq!(chats[2], json!([]));
}

#[tokio::test]
async fn the_full_size_image_chain_ends_in_png_bytes() {
    let mock = mock_gemini_web::spawn(MockOptions::default()).await;
    let original = payload(
        &batch(
            &mock,
            json!([[
                "c8o8Fe",
                json!([[null, ["img-1", 0]], ["r_1", "rc_1", "c_1"], 1, 0, 1]).to_string(),
                null,
                "generic"
            ]]),
        )
        .await
        .frames()[0],
    );
    let original = original[0].as_str().unwrap().to_string();
    let step = call(
        "GET",
        &format!("{original}=d-I?alr=yes"),
        &[session(DEFAULT_PSIDTS)],
        vec![],
    )
    .await
    .unwrap();
    let last = call("GET", &step.text(), &[session(DEFAULT_PSIDTS)], vec![])
        .await
        .unwrap();
    let image = call("GET", &last.text(), &[], vec![]).await.unwrap();
    assert_eq!(image.body, MOCK_PNG);
    let unauthenticated = call("GET", &format!("{original}=d-I?alr=yes"), &[], vec![])
        .await
        .unwrap();
    assert_eq!(unauthenticated.status, 403);
}

#[tokio::test]
async fn the_legacy_resumable_upload_works() {
    let mock = mock_gemini_web::spawn(MockOptions::default()).await;
    let headers = [
        ("x-tenant-id", "bard-storage".to_string()),
        ("push-id", mock_gemini_web::PAGE_PUSH_ID.to_string()),
        ("x-goog-upload-command", "start".to_string()),
        ("x-goog-upload-protocol", "resumable".to_string()),
    ];
    let start = call(
        "POST",
        &format!("{}/upload/", mock.base_url),
        &headers,
        b"File name: cat.png".to_vec(),
    )
    .await
    .unwrap();
    let target = start.headers["x-goog-upload-url"]
        .to_str()
        .unwrap()
        .to_string();
    let done = call(
        "POST",
        &target,
        &[
            ("x-goog-upload-command", "upload, finalize".to_string()),
            ("x-goog-upload-offset", "0".to_string()),
        ],
        MOCK_PNG.to_vec(),
    )
    .await
    .unwrap();
    assert!(done.text().starts_with("/contrib_service/ttl_1d/"));
    assert_eq!(mock.uploads()[0].name, "cat.png");
    let refused = call("POST", &format!("{}/upload", mock.base_url), &[], vec![])
        .await
        .unwrap();
    assert_eq!(refused.status, 400);
}

#[tokio::test]
async fn rotation_honours_the_grace_period_and_the_rate_limit() {
    let mock = mock_gemini_web::spawn(MockOptions {
        old_psidts_grace: Some(Duration::from_millis(200)),
        rotate_min_interval: Some(Duration::from_secs(60)),
        ..MockOptions::default()
    })
    .await;
    let url = format!("{}/RotateCookies", mock.base_url);
    let headers = [
        session(DEFAULT_PSIDTS),
        ("content-type", "application/json".to_string()),
    ];
    let rotate = || {
        call(
            "POST",
            &url,
            &headers,
            b"[000,\"-0000000000000000000\"]".to_vec(),
        )
    };
    let first = rotate().await.unwrap();
    assert_eq!(first.status, 200);
    let cookies = first.set_cookies();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Secure-1PSIDTS=mock-psidts-0001;"))
    );
    assert!(cookies.iter().any(|c| c.starts_with("__Secure-1PSIDCC=")));
    // Both cookies work during the grace period, only the new one after.
    assert_eq!(mock.valid_psidts().len(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(mock.valid_psidts(), ["mock-psidts-0001"]);
    assert_eq!(rotate().await.unwrap().status, 429);

    mock.expire();
    let page = call(
        "GET",
        &format!("{}/app", mock.base_url),
        &[session("mock-psidts-0001")],
        vec![],
    )
    .await
    .unwrap();
    // Signed out is a guest page: values, but no access token...
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("SNlM0e"));
    assert!(page.text().contains("cfb2h"));
    // ...and the status RPC says unauthenticated.
    let body = format!(
        "at=&f.req={}",
        encode(&json!([[["otAQ7b", "[]", null, "generic"]]]).to_string())
    );
    let status = call(
        "POST",
        &format!(
            "{}/_/BardChatUi/data/batchexecute?rpcids=otAQ7b&rt=c",
            mock.base_url
        ),
        &[session("mock-psidts-0001")],
        body.into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(payload(&status.frames()[0])[14], 1016);
}
