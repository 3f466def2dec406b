//! The admin console's API end to end: the real gateway, a browser-like
//! client that signs in with a form and carries the session cookie, the
//! Gemini plugin against the mock Gemini API, and the misbehave test plugin.
//! Sign-in, sessions, CSRF and the rate limit on wrong keys; secrets pasted
//! into the data directory; configuration validated, applied, kept in a
//! history and rolled back; plugins uploaded and removed; all surviving a
//! restart; `/metrics`; and the landing page at `/`.

use std::path::Path;
use std::time::{Duration, Instant};

use mock_gemini::{MockOptions, MockUpstream};
use wasmgate_testkit::reqwest::{self, Method, StatusCode, header};
use wasmgate_testkit::{Gateway, Value, built_plugin, json, user_request};

const ADMIN_KEY: &str = "console-admin-key-0123";
const API_KEY: &str = "sk-console-caller-key";
/// The secret pasted in the console; it must never come back.
const PASTED: &str = "good-pasted-secret-value-42";

async fn mock() -> MockUpstream {
    mock_gemini::spawn(MockOptions {
        chunk_delay: Duration::from_millis(1),
        limited_retry_delay: Duration::from_secs(600),
        ..MockOptions::default()
    })
    .await
}

/// The gateway's configuration: a Gemini account reading `CONSOLE_KEY`
/// (pointed at the mock), the misbehave plugin, and an `alias` route.
fn config(mock: &MockUpstream, alias: &str) -> String {
    format!(
        r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "main"
secrets = {{ api-key = {{ env = "CONSOLE_KEY" }} }}
settings = {{ base-url = "{base}" }}

[[plugins.misbehave.accounts]]
id = "a"

[models]
"alias" = {alias}
"gemini-*" = "gemini"
"#,
        base = mock.base_url
    )
}

const TO_MISBEHAVE: &str = r#"{ plugin = "misbehave", model = "misbehave-echo" }"#;
const TO_GEMINI: &str = r#"{ plugin = "gemini", model = "gemini-2.5-flash" }"#;

/// A directory of plugins shared by the restarts of one test (the data
/// directory outlives each gateway's own working directory).
fn plugins_dir(dir: &Path, names: &[&str]) -> String {
    let plugins = dir.join("shipped-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in names {
        std::fs::copy(built_plugin(name), plugins.join(format!("{name}.wasm"))).unwrap();
    }
    plugins.display().to_string()
}

fn gateway(mock: &MockUpstream, dir: &Path, plugins: &[&str], key: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(&config(mock, TO_MISBEHAVE))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("API_KEY", API_KEY)
        .env("CONSOLE_KEY", key)
        .env("WASMGATE_DATA_DIR", &dir.join("data").display().to_string())
        .env("WASMGATE_PLUGINS_DIR", &plugins_dir(dir, plugins))
        .start()
}

/// A browser: signs in with the form, keeps the cookie, sends the CSRF token.
struct Browser<'a> {
    gateway: &'a Gateway,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    async fn sign_in(gateway: &'a Gateway) -> Browser<'a> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client
            .post(format!("{}/admin/login", gateway.url))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, &gateway.url)
            .body(format!("key={ADMIN_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let session: Value = gateway
            .client()
            .get(format!("{}/admin/api/session", gateway.url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session["signed_in"], true, "{session}");
        Browser {
            gateway,
            cookie,
            csrf: session["csrf"].as_str().unwrap().to_string(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.gateway
            .client()
            .request(method, format!("{}{path}", self.gateway.url))
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn chat_status(gateway: &Gateway, model: &str) -> (u16, String) {
    let response = gateway.chat(&user_request(model, "hello", false)).await;
    let status = response.status().as_u16();
    let served = response
        .headers()
        .get("x-wasmgate-plugin")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, served)
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_wrong_keys() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway(&mock, dir.path(), &["gemini", "misbehave"], "good-env");
    let url = &gateway.url;
    let client = gateway.client();

    // Nothing without a session or the key.
    let response = client
        .get(format!("{url}/admin/api/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client
        .post(format!("{url}/admin/api/accounts/gemini/main/disable"))
        .header(header::COOKIE, "wasmgate_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A sign-in posted from another site's page is refused.
    let response = client
        .post(format!("{url}/admin/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body(format!("key={ADMIN_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(header::SET_COOKIE).is_none());

    // Signing in sets a session cookie that scripts cannot read.
    let browser = Browser::sign_in(&gateway).await;
    let response = client
        .post(format!("{url}/admin/login"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-proto", "https")
        .json(&json!({"key": ADMIN_KEY}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
        "Path=/",
        "Secure",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains(ADMIN_KEY));

    // With the session: reads work; a change needs the CSRF token.
    let overview = browser.get("/admin/api/overview").await;
    assert_eq!(overview["version"], env!("CARGO_PKG_VERSION"));
    let response = client
        .post(format!("{url}/admin/api/accounts/gemini/main/disable"))
        .header(header::COOKIE, &browser.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a cross-site form post is refused");
    let (status, view) = browser
        .send(
            Method::POST,
            "/admin/api/accounts/gemini/main/disable",
            None,
        )
        .await;
    assert_eq!((status, view["state"].as_str()), (200, Some("disabled")));
    let (status, _) = browser
        .send(Method::POST, "/admin/api/accounts/gemini/main/enable", None)
        .await;
    assert_eq!(status, 200);

    // Wrong keys are slowed down, then refused for a while (per client).
    let wrong = |client_id: &'static str| {
        client
            .post(format!("{url}/admin/login"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", client_id)
            .json(&json!({"key": "not-the-admin-key"}))
            .send()
    };
    let started = Instant::now();
    let response = wrong("203.0.113.7").await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "a wrong key is slowed down"
    );
    for _ in 0..4 {
        assert_eq!(wrong("203.0.113.7").await.unwrap().status(), 401);
    }
    let response = wrong("203.0.113.7").await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    // Even the right key waits now, from that client; others are not affected.
    let response = client
        .post(format!("{url}/admin/login"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"key": ADMIN_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let response = gateway
        .admin(Method::GET, "/admin/api/overview")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the bearer key still works");

    // Every change: refused without a session (401), and with the session
    // but without its CSRF token (403); nothing happens either way.
    let changes: &[(Method, &str)] = &[
        (Method::POST, "/admin/api/config"),
        (Method::POST, "/admin/api/config/rollback/1"),
        (Method::POST, "/admin/api/config/reset"),
        (Method::PUT, "/admin/api/secrets/CONSOLE_KEY"),
        (Method::DELETE, "/admin/api/secrets/CONSOLE_KEY"),
        (Method::PUT, "/admin/api/plugins/evil"),
        (Method::DELETE, "/admin/api/plugins/gemini"),
        (Method::POST, "/admin/api/accounts/gemini/main/disable"),
        (Method::POST, "/admin/api/try"),
    ];
    for (method, path) in changes {
        let fresh = reqwest::Client::new();
        let body = r#"{"text": "", "value": "bad-key-value"}"#;
        let anonymous = fresh
            .request(method.clone(), format!("{url}{path}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} {path} without a session");
        let no_token = fresh
            .request(method.clone(), format!("{url}{path}"))
            .header(header::COOKIE, &browser.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            no_token.status(),
            403,
            "{method} {path} without the CSRF token"
        );
    }
    let accounts = browser.get("/admin/api/accounts").await;
    assert_eq!(accounts["gemini"]["accounts"][0]["state"], "healthy");
    assert_eq!(browser.get("/admin/api/secrets").await["stored"], json!([]));

    // Signing out ends the session.
    let (status, _) = browser.send(Method::POST, "/admin/logout", None).await;
    assert_eq!(status, 200);
    let response = browser
        .request(Method::GET, "/admin/api/overview")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let logs = gateway.logs();
    assert!(!logs.contains(ADMIN_KEY) && !logs.contains("not-the-admin-key"));
}

#[tokio::test]
async fn pasted_secrets_make_a_failing_account_serve_and_survive_a_restart() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    // The environment's key is rate-limited at once.
    let gateway = gateway(&mock, dir.path(), &["gemini", "misbehave"], "limited-0-env");
    let browser = Browser::sign_in(&gateway).await;
    let (status, _) = chat_status(&gateway, "gemini-2.5-flash").await;
    assert_eq!(status, 429);
    let accounts = browser.get("/admin/api/accounts").await;
    let main = &accounts["gemini"]["accounts"][0];
    assert_eq!(main["state"], "cooling_down", "{main}");
    assert_eq!(main["cooldowns"][0]["model"], "gemini-2.5-flash", "{main}");

    // The console lists what the plugin's accounts read, and whether it is set.
    let secrets = browser.get("/admin/api/secrets").await;
    assert_eq!(secrets["plugins"]["gemini"][0]["name"], "CONSOLE_KEY");
    assert_eq!(secrets["plugins"]["gemini"][0]["set"], true);
    assert_eq!(secrets["plugins"]["gemini"][0]["in_console"], false);

    // The gateway's own keys cannot be set from the console.
    let (status, refused) = browser
        .send(
            Method::PUT,
            "/admin/api/secrets/ADMIN_KEY",
            Some(json!({"value": "x-long-value"})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");

    // Pasting a fresh key serves at once.
    let (status, answer) = browser
        .send(
            Method::PUT,
            "/admin/api/secrets/CONSOLE_KEY",
            Some(json!({"value": PASTED})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let fingerprint = answer["stored"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fingerprint.starts_with("hmac:"));
    let (status, served) = chat_status(&gateway, "gemini-2.5-flash").await;
    assert_eq!((status, served.starts_with("gemini@")), (200, true));
    // The overview counts both requests, the failure too.
    let overview = browser.get("/admin/api/overview").await;
    let window = &overview["windows"]["5m"];
    assert_eq!(window["all"]["requests"], 2, "{overview}");
    assert_eq!(window["all"]["errors"], 1, "{overview}");
    // Both under the model asked for, the failure too.
    assert_eq!(
        window["models"]["gemini-2.5-flash"]["requests"], 2,
        "{overview}"
    );
    assert_eq!(
        window["models"]["gemini-2.5-flash"]["errors"], 1,
        "{overview}"
    );
    assert_eq!(window["accounts"]["gemini/main"]["errors"], 0, "{overview}");
    let accounts = browser.get("/admin/api/accounts").await;
    assert_eq!(accounts["gemini"]["accounts"][0]["state"], "healthy");
    assert_eq!(
        accounts["gemini"]["accounts"][0]["secrets"]["api-key"],
        fingerprint.as_str()
    );

    // Never shown back: not in any answer, page or log.
    for path in [
        "/admin/api/secrets",
        "/admin/api/accounts",
        "/admin/api/overview",
        "/admin/api/plugins",
        "/admin/api/routes",
        "/admin/api/logs",
        "/admin/api/status",
    ] {
        let text = browser.get(path).await.to_string();
        assert!(!text.contains(PASTED), "{path} shows the secret");
    }
    for page in ["/", "/admin/"] {
        let text = gateway
            .client()
            .get(format!("{}{page}", gateway.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(PASTED));
    }
    assert!(!gateway.logs().contains(PASTED));
    // Kept owner-only in the data directory.
    let file = dir.path().join("data/wasmgate-secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    drop(browser);
    gateway.terminate();

    // After a restart with the same data directory, the pasted key still wins.
    let gateway = gateway_again(&mock, dir.path(), "limited-0-env");
    let (status, _) = chat_status(&gateway, "gemini-2.5-flash").await;
    assert_eq!(status, 200);
    let browser = Browser::sign_in(&gateway).await;
    let secrets = browser.get("/admin/api/secrets").await;
    assert_eq!(secrets["stored"][0]["name"], "CONSOLE_KEY");
    assert_eq!(secrets["stored"][0]["fingerprint"], fingerprint.as_str());
    // Deleting it brings the environment's key back.
    let (status, _) = browser
        .send(Method::DELETE, "/admin/api/secrets/CONSOLE_KEY", None)
        .await;
    assert_eq!(status, 200);
    let accounts = browser.get("/admin/api/accounts").await;
    assert_ne!(
        accounts["gemini"]["accounts"][0]["secrets"]["api-key"],
        fingerprint.as_str()
    );
}

fn gateway_again(mock: &MockUpstream, dir: &Path, key: &str) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(&config(mock, TO_MISBEHAVE))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("API_KEY", API_KEY)
        .env("CONSOLE_KEY", key)
        .env("WASMGATE_DATA_DIR", &dir.join("data").display().to_string())
        .env(
            "WASMGATE_PLUGINS_DIR",
            &dir.join("shipped-plugins").display().to_string(),
        )
        .start()
}

#[tokio::test]
async fn configuration_is_validated_applied_kept_and_rolled_back() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway(&mock, dir.path(), &["gemini", "misbehave"], "good-env");
    let browser = Browser::sign_in(&gateway).await;
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("misbehave@")
    );

    let live = browser.get("/admin/api/config").await;
    assert_eq!(live["from"], "shipped");
    let original = live["text"].as_str().unwrap().to_string();
    let edited = original.replace(TO_MISBEHAVE, TO_GEMINI);
    assert_ne!(edited, original);

    // A bad configuration is shown with its line and not applied.
    let bad = format!("{edited}\n[models\n");
    let bad_line = bad.lines().count();
    let check = browser
        .send(
            Method::POST,
            "/admin/api/config/validate",
            Some(json!({"text": bad})),
        )
        .await
        .1;
    assert_eq!(check["valid"], false);
    assert_eq!(check["line"], bad_line, "{check}");
    let (status, error) = browser
        .send(
            Method::POST,
            "/admin/api/config",
            Some(json!({"text": bad})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("line {bad_line}")),
        "{error}"
    );
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("misbehave@")
    );
    // So is one that names an unknown plugin field.
    let unknown = edited.replace(
        "[[plugins.misbehave.accounts]]",
        "[plugins.misbehave]\nalowed = 1\n[[plugins.misbehave.accounts]]",
    );
    let check = browser
        .send(
            Method::POST,
            "/admin/api/config/validate",
            Some(json!({"text": unknown})),
        )
        .await
        .1;
    assert_eq!(check["valid"], false, "{check}");

    // A good one: the diff shows the change; applying it remaps at once.
    let check = browser
        .send(
            Method::POST,
            "/admin/api/config/validate",
            Some(json!({"text": edited})),
        )
        .await
        .1;
    assert_eq!(check["valid"], true, "{check}");
    let diff = check["diff"].as_str().unwrap();
    assert!(
        diff.contains(&format!("- \"alias\" = {TO_MISBEHAVE}")),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("+ \"alias\" = {TO_GEMINI}")),
        "{diff}"
    );
    let (status, applied) = browser
        .send(
            Method::POST,
            "/admin/api/config",
            Some(json!({"text": edited})),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    let (status, served) = chat_status(&gateway, "alias").await;
    assert_eq!(
        (status, served.starts_with("gemini@")),
        (200, true),
        "{served}"
    );
    let live = browser.get("/admin/api/config").await;
    assert_eq!(live["from"], "console");
    assert_eq!(live["text"], edited.as_str());
    let routes = browser.get("/admin/api/routes").await;
    let alias = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pattern"] == "alias")
        .unwrap();
    assert_eq!(alias["targets"][0]["plugin"], "gemini");

    // The history keeps the shipped text and the edit; one click rolls back
    // to the shipped text, and again to the edit.
    let history = browser.get("/admin/api/config/history").await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    let (edited_id, original_id) = (
        versions[0]["id"].as_u64().unwrap(),
        versions[1]["id"].as_u64().unwrap(),
    );
    let version = browser
        .get(&format!("/admin/api/config/history/{original_id}"))
        .await;
    assert_eq!(version["text"], original.as_str());
    let (status, _) = browser
        .send(
            Method::POST,
            &format!("/admin/api/config/rollback/{original_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("misbehave@")
    );
    let (status, _) = browser
        .send(
            Method::POST,
            &format!("/admin/api/config/rollback/{edited_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("gemini@")
    );
    let (status, _) = browser
        .send(Method::POST, "/admin/api/config/rollback/12345", None)
        .await;
    assert_eq!(status, 404);
    drop(browser);
    gateway.terminate();

    // The configuration saved from the console wins after a restart.
    let gateway = gateway_again(&mock, dir.path(), "good-env");
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("gemini@")
    );
    assert!(gateway.logs().contains("saved from the console"));
    let browser = Browser::sign_in(&gateway).await;
    // And "back to the shipped file" returns to that one.
    let (status, _) = browser
        .send(Method::POST, "/admin/api/config/reset", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        chat_status(&gateway, "alias")
            .await
            .1
            .starts_with("misbehave@")
    );
    assert_eq!(browser.get("/admin/api/config").await["from"], "shipped");
}

#[tokio::test]
async fn plugins_are_uploaded_validated_removed_and_kept() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway(&mock, dir.path(), &["gemini"], "good-env");
    let browser = Browser::sign_in(&gateway).await;
    assert_eq!(chat_status(&gateway, "misbehave-echo").await.0, 404);

    // Not a component: refused, nothing kept.
    let response = browser
        .request(Method::PUT, "/admin/api/plugins/broken")
        .body(b"\0asm not really".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        !dir.path()
            .join("data/wasmgate-plugins/broken.wasm")
            .exists()
    );
    // Without the CSRF token: refused (on a connection of its own: the
    // refusal does not read the body, so the connection is not reused).
    let response = reqwest::Client::new()
        .put(format!("{}/admin/api/plugins/misbehave", gateway.url))
        .header(header::COOKIE, &browser.cookie)
        .body(std::fs::read(built_plugin("misbehave")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    let response = browser
        .request(Method::PUT, "/admin/api/plugins/misbehave.wasm")
        .body(std::fs::read(built_plugin("misbehave")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let (status, served) = chat_status(&gateway, "misbehave-echo").await;
    assert_eq!((status, served.starts_with("misbehave@")), (200, true));
    let plugins = browser.get("/admin/api/plugins").await;
    let misbehave = &plugins["plugins"]["misbehave"];
    assert_eq!(misbehave["uploaded"], true);
    assert_eq!(misbehave["live"], true);
    assert!(misbehave["sha256"].as_str().unwrap().len() >= 16);
    assert!(
        misbehave["manifest"]["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "misbehave-echo")
    );
    assert_eq!(plugins["plugins"]["gemini"]["uploaded"], false);
    assert!(
        plugins["plugins"]["gemini"]["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g.as_str().unwrap().contains("127.0.0.1"))
    );
    drop(browser);
    gateway.terminate();

    // Kept across a restart; then removed.
    let gateway = gateway_again(&mock, dir.path(), "good-env");
    assert_eq!(chat_status(&gateway, "misbehave-echo").await.0, 200);
    let browser = Browser::sign_in(&gateway).await;
    let (status, _) = browser
        .send(Method::DELETE, "/admin/api/plugins/gemini", None)
        .await;
    assert_eq!(
        status, 404,
        "a shipped plugin is not removed from the console"
    );
    let (status, _) = browser
        .send(Method::DELETE, "/admin/api/plugins/misbehave", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(chat_status(&gateway, "misbehave-echo").await.0, 404);
}

#[tokio::test]
async fn metrics_need_a_key_and_count_requests() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("API_KEY", API_KEY)
        .env("METRICS_KEY", "scrape-only-key-123")
        .env("CONSOLE_KEY", "good-env")
        .env("WASMGATE_DATA_DIR", &dir.path().display().to_string())
        .start();
    assert_eq!(chat_status(&gateway, "alias").await.0, 200);
    let metrics = |key: Option<&str>| {
        let request = gateway.client().get(format!("{}/metrics", gateway.url));
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
        .send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    assert_eq!(metrics(Some(API_KEY)).await.unwrap().status(), 401);
    let started = Instant::now();
    assert_eq!(metrics(Some("a-guessed-key")).await.unwrap().status(), 401);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "a wrong key is slowed down"
    );
    let text = metrics(Some(ADMIN_KEY))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "wasmgate_chat_requests_total{model=\"alias\",plugin=\"misbehave\",status=\"200\",kind=\"ok\"} 1",
        "wasmgate_time_to_first_event_seconds_count{plugin=\"misbehave\"} 1",
        "wasmgate_accounts{plugin=\"gemini\",state=\"healthy\"} 1",
        "wasmgate_reloads_total 0",
        "# TYPE wasmgate_request_duration_seconds histogram",
        "wasmgate_requests_in_flight{plugin=\"misbehave\"} 0",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    // The instance cap is derived from the machine's memory when unset.
    let cap: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("wasmgate_instances_max "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("wasmgate_instances_max in\n{text}"));
    assert!((32..=4096).contains(&cap), "{cap}");
    // CPU time inside the plugin, and its instances.
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix} in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(value("wasmgate_plugin_cpu_seconds_total{plugin=\"misbehave\"}") > 0.0);
    assert!(value("wasmgate_plugin_instances_total{plugin=\"misbehave\"}") >= 1.0);
    let response = metrics(Some("scrape-only-key-123")).await.unwrap();
    assert_eq!(response.status(), 200);
    // The scrape key opens nothing else.
    let response = gateway
        .client()
        .get(format!("{}/admin/api/overview", gateway.url))
        .bearer_auth("scrape-only-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Every response carries a request id, found in the console's log.
    let response = gateway.chat(&user_request("nope-model", "x", false)).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let logs: Value = gateway
        .admin(Method::GET, &format!("/admin/api/logs?q={id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["requests"][0]["status"], 404, "{logs}");
    assert_eq!(logs["requests"].as_array().unwrap().len(), 1);
    // Warnings are kept with the id of the request they happened in.
    let response = gateway
        .client()
        .post(format!("{}/admin/login", gateway.url))
        .json(&json!({"key": "wrong-admin-key-here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let logs: Value = gateway
        .admin(Method::GET, &format!("/admin/api/logs?q={id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = logs["events"][0]["message"].as_str().unwrap_or_default();
    assert!(
        event.starts_with(&format!("[request {id}]")) && event.contains("wrong key"),
        "{logs}"
    );
    assert!(!logs.to_string().contains("wrong-admin-key-here"));
}

#[tokio::test]
async fn a_space_without_persistent_storage_is_warned_about() {
    let mock = mock().await;
    // On a Space, ./data does not outlive a restart.
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("SPACE_ID", "someone/wasmgate")
        .start();
    let browser = Browser::sign_in(&gateway).await;
    for path in [
        "/admin/api/overview",
        "/admin/api/config",
        "/admin/api/secrets",
    ] {
        let answer = browser.get(path).await;
        assert_eq!(answer["persistent"], false, "{path}: {answer}");
        let note = answer["persistence_note"].as_str().unwrap();
        assert!(note.contains("no persistent storage"), "{note}");
    }
}

#[tokio::test]
async fn the_landing_page_says_what_to_do_without_secrets() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .env("API_KEY", API_KEY)
        .env("WASMGATE_DATA_DIR", &dir.path().display().to_string())
        .start();
    let response = gateway
        .client()
        .get(format!("{}/", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    let base = format!("{}/v1", gateway.url);
    assert!(page.contains(&base), "the base URL {base}");
    assert!(page.contains("misbehave-echo"), "a model served now");
    assert!(
        page.contains("accounts missing") && page.contains("CONSOLE_KEY"),
        "what gemini needs"
    );
    assert!(
        page.contains("set <code>ADMIN_KEY</code>"),
        "how to turn the console on"
    );
    assert!(
        !page.contains("hmac:") && !page.contains("\"a\""),
        "no inventory"
    );
    // Without ADMIN_KEY the console does nothing but say how to turn it on.
    let session: Value = gateway
        .client()
        .get(format!("{}/admin/api/session", gateway.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["admin_enabled"], false);
    let response = gateway
        .client()
        .post(format!("{}/admin/login", gateway.url))
        .json(&json!({"key": "anything-at-all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = gateway
        .client()
        .get(format!("{}/metrics", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "never open without a key");
    // The status page is off by default.
    let response = gateway
        .client()
        .get(format!("{}/status", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_unconfigured_gateway_says_once_per_plugin_what_is_missing() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "gemini-web", "qwen", "vertex"])
        .config(&wasmgate_testkit::shipped_config(&[]))
        .start();
    let logs = gateway.wait_for_log("have no account yet");
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains(" WARN ")).collect();
    for plugin in ["gemini", "gemini-web", "qwen", "vertex"] {
        let about: Vec<&&str> = warnings
            .iter()
            .filter(|l| l.contains(&format!("plugin \"{plugin}\"")))
            .collect();
        assert_eq!(about.len(), 1, "one line about {plugin}: {about:#?}");
    }
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("plugin \"gemini\" has no account: set GEMINI_API_KEYS")),
        "{logs}"
    );
    let next: Vec<&&str> = warnings
        .iter()
        .filter(|l| l.contains("have no account yet") && l.contains("/admin/"))
        .collect();
    assert_eq!(next.len(), 1, "{logs}");
    assert!(!logs.contains("is not set; skipped"), "{logs}");
}

#[tokio::test]
async fn the_public_status_page_shows_models_not_accounts() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .server_option("public-status = true")
        .env("API_KEY", API_KEY)
        .env("CONSOLE_KEY", "good-env-key")
        .env("WASMGATE_DATA_DIR", &dir.path().display().to_string())
        .start();
    assert_eq!(chat_status(&gateway, "alias").await.0, 200);
    let status: Value = gateway
        .client()
        .get(format!("{}/status", gateway.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alias = status["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "alias")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(alias["available"], true);
    assert_eq!(alias["requests_1h"], 1);
    assert_eq!(alias["success_rate_1h"], 1.0);
    let text = status.to_string();
    assert!(!text.contains("main") && !text.contains("sha256") && !text.contains("good-env-key"));
    let page = gateway
        .client()
        .get(format!("{}/status", gateway.url))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Service status") && page.contains("alias"));
}

#[tokio::test]
async fn traces_go_to_an_otlp_collector_when_asked() {
    use std::sync::{Arc, Mutex};
    // A collector: OTLP over HTTP, JSON.
    // (authorization header, body) of every export.
    type Exports = Arc<Mutex<Vec<(Option<String>, Value)>>>;
    let received: Exports = Arc::default();
    let app = {
        let received = received.clone();
        axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string());
                    received
                        .lock()
                        .unwrap()
                        .push((auth, serde_json::from_slice(&body).unwrap()));
                    "{}"
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mock = mock().await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .env("API_KEY", API_KEY)
        .env("CONSOLE_KEY", "good-env")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20collector-token",
        )
        .env("OTEL_SERVICE_NAME", "gateway-under-test")
        .start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = gateway
        .request(Method::POST, "/v1/chat/completions")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&user_request("alias", "hello", true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    response.text().await.unwrap();
    let started = Instant::now();
    let span = loop {
        let found = received.lock().unwrap().iter().find_map(|(auth, body)| {
            let resource = &body["resourceSpans"][0];
            resource["scopeSpans"][0]["spans"]
                .as_array()?
                .iter()
                .find(|s| s["traceId"] == trace)
                .map(|s| (auth.clone(), resource["resource"].clone(), s.clone()))
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no span reached the collector:\n{}",
            gateway.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (auth, resource, span) = span;
    assert_eq!(auth.as_deref(), Some("Bearer collector-token"));
    assert!(
        resource.to_string().contains("gateway-under-test"),
        "{resource}"
    );
    assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(span["name"], "POST /v1/chat/completions");
    let attributes = span["attributes"].to_string();
    for needle in ["gen_ai.request.model", "\"alias\"", "misbehave@", &id] {
        assert!(attributes.contains(needle), "{needle} in {attributes}");
    }
    assert!(!span.to_string().contains(API_KEY) && !span.to_string().contains("hello"));
    let start: u128 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: u128 = span["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(end > start);
}

#[tokio::test]
async fn under_a_path_prefix_the_pages_name_the_prefixed_base_url() {
    let mock = mock().await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "misbehave"])
        .config(&config(&mock, TO_MISBEHAVE))
        .env("API_KEY", API_KEY)
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("PATH_PREFIX", "team")
        .start();
    for path in ["/team", "/team/"] {
        let page = gateway
            .client()
            .get(format!("{}{path}", gateway.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("{}/team/v1", gateway.url)),
            "{path}: {page}"
        );
    }
    for path in [
        "/team/admin/",
        "/team/admin/assets/console.js",
        "/team/admin/api/session",
    ] {
        let response = gateway
            .client()
            .get(format!("{}{path}", gateway.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

/// The overview counts tokens per plugin, model and account over its
/// windows, and counts a failed request under the model it asked for.
#[tokio::test]
async fn the_overview_counts_tokens_and_failures_per_model() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"one\"\n")
        .env("API_KEY", "sk-console-overview")
        .env("ADMIN_KEY", "admin-console-overview")
        .start();
    gateway
        .chat_ok(&user_request("misbehave-echo", "three words here", false))
        .await;
    let (status, _) = gateway
        .chat_stream(&user_request("misbehave-echo", "two words", true))
        .await;
    assert_eq!(status, 200);
    let failed = gateway
        .chat(&user_request("misbehave-trap", "boom", false))
        .await;
    assert_eq!(failed.status(), 502);
    let overview: Value = gateway
        .admin(reqwest::Method::GET, "/admin/api/overview")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let window = &overview["windows"]["5m"];
    let echo = &window["models"]["misbehave-echo"];
    assert_eq!(echo["requests"], 2, "{overview}");
    // misbehave counts a token per word: 3 + 2 in, 3 + 2 out.
    assert_eq!(echo["prompt_tokens"], 5, "{overview}");
    assert_eq!(echo["completion_tokens"], 5, "{overview}");
    assert_eq!(
        window["accounts"]["misbehave/one"]["completion_tokens"], 5,
        "{overview}"
    );
    assert_eq!(
        window["plugins"]["misbehave"]["prompt_tokens"], 5,
        "{overview}"
    );
    let trap = &window["models"]["misbehave-trap"];
    assert_eq!(
        (trap["requests"].as_u64(), trap["errors"].as_u64()),
        (Some(1), Some(1)),
        "{overview}"
    );
}
