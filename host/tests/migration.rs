//! A user of each seed project switches to wasmgate keeping their Space
//! secrets and their clients' settings. Each test plays one such user: the
//! seed's own environment variable names and values, the shipped
//! `plugins.toml` (pointed at a mock upstream by `base-url`, as behind a
//! mirror), every shipped plugin loaded, and the client habits of that
//! seed's users (model names, where the key goes, base URL shape, a
//! browser's preflight).

use futures::StreamExt;
use wasmgate_testkit::{
    Gateway, GatewayBuilder, Value, json, parse_sse, shipped_config, shipped_plugins,
    streamed_text, user_request,
};

/// A gateway on the shipped configuration with every shipped plugin, the
/// named plugins' accounts pointed at mocks.
fn shipped(base_urls: &[(&str, &str)]) -> GatewayBuilder {
    let plugins = shipped_plugins();
    let names: Vec<&str> = plugins.iter().map(String::as_str).collect();
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&names)
        .config(&shipped_config(base_urls))
}

/// The plugin that served a response, from `x-wasmgate-plugin`.
fn served_by(response: &wasmgate_testkit::reqwest::Response) -> String {
    let label = response
        .headers()
        .get("x-wasmgate-plugin")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    label.split('@').next().unwrap_or_default().to_string()
}

/// The ids `GET /v1/models` lists, with their `owned_by`.
async fn listed(gateway: &Gateway, path: &str, key: &str) -> Vec<(String, String)> {
    let response = gateway
        .client()
        .get(format!("{}{path}", gateway.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    wasmgate_testkit::listed_models(&response.json().await.unwrap())
}

#[tokio::test]
async fn a_gemi2api_user_keeps_cookies_key_and_model_names() {
    let mock = mock_gemini_web::spawn(mock_gemini_web::MockOptions::default()).await;
    let gateway = shipped(&[("gemini-web", &mock.base_url)])
        .env("SECURE_1PSID", mock_gemini_web::DEFAULT_PSID)
        .env("SECURE_1PSIDTS", mock_gemini_web::DEFAULT_PSIDTS)
        .env("API_KEY", "sk-gemi2api-user-key")
        .start();

    // The names Gemi2Api-Server's users send reach the web plugin, the only
    // one with credentials, though `gemini-*` also names the API plugins.
    for model in ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview"] {
        let response = gateway.chat(&user_request(model, "Say hi", false)).await;
        assert_eq!(response.status(), 200, "{model}");
        assert_eq!(served_by(&response), "gemini-web", "{model}");
        let body: Value = response.json().await.unwrap();
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(!text.is_empty(), "{model}: {body}");
    }
    let (status, frames) = gateway
        .chat_stream(&user_request("gemini-2.5-flash", "Say hi", true))
        .await;
    assert_eq!(status, 200);
    assert!(!streamed_text(&frames).is_empty(), "{frames:?}");

    // The model list shows what can be served now: the web plugin's names,
    // nothing of plugins without accounts.
    let models = listed(&gateway, "/v1/models", "sk-gemi2api-user-key").await;
    assert!(
        models
            .iter()
            .any(|(id, owner)| id.starts_with("gemini-") && owner == "gemini-web"),
        "{models:?}"
    );
    assert!(
        models.iter().all(|(_, owner)| owner == "gemini-web"),
        "only plugins with accounts are listed: {models:?}"
    );
    let all = listed(&gateway, "/v1/models?all=true", "sk-gemi2api-user-key").await;
    assert!(
        all.iter().any(|(_, owner)| owner == "qwen") && all.len() > models.len(),
        "?all=true lists every plugin's names: {all:?}"
    );
    let logs = gateway.logs();
    assert!(logs.contains("callers' keys from API_KEY"), "{logs}");
}

#[tokio::test]
async fn a_hajimi_user_keeps_key_pool_password_and_base_url() {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
    let gateway = shipped(&[("gemini", &mock.base_url)])
        // hajimi's numbered extra variable, with its separators.
        .env("GEMINI_API_KEYS", "good-a1;good-a2")
        .env("GEMINI_API_KEYS_2", "good-b1\ngood-b2")
        .env("PASSWORD", "hajimi-long-password")
        .start();
    let key = "hajimi-long-password";

    // An OpenAI client with hajimi's base URL without `/v1`.
    let response = gateway
        .client()
        .post(format!("{}/chat/completions", gateway.url))
        .bearer_auth(key)
        .json(&user_request("gemini-2.5-flash", "Say hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(served_by(&response), "gemini");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Say hi");

    // The key as Google's clients send it.
    for request in [
        gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.url))
            .header("x-goog-api-key", key),
        gateway
            .client()
            .post(format!("{}/v1/chat/completions?key={key}", gateway.url)),
    ] {
        let response = request
            .json(&user_request("gemini-2.5-pro", "Again", false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let wrong = gateway
        .client()
        .post(format!("{}/v1/chat/completions", gateway.url))
        .header("x-goog-api-key", "123")
        .json(&user_request("gemini-2.5-pro", "Again", false))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Every key of both variables is an account, and requests rotate over them.
    for n in 0..8 {
        let response = gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.url))
            .bearer_auth(key)
            .json(&user_request("gemini-2.5-flash", &format!("n{n}"), false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let keys: std::collections::BTreeSet<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.is_generation())
        .filter_map(|r| r.key)
        .collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["good-a1", "good-a2", "good-b1", "good-b2"]
    );
    let logs = gateway.logs();
    assert!(
        logs.contains("PASSWORD") && logs.contains("hajimi"),
        "the log says which variable holds the callers' key: {logs}"
    );
    assert!(!logs.contains(key), "the key is never logged");
}

#[tokio::test]
async fn hajimis_default_password_is_refused_with_a_clear_message() {
    let output = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .config(&shipped_config(&[]))
        .env("GEMINI_API_KEYS", "good-1")
        .env("PASSWORD", "123")
        .start_failing();
    assert!(
        output.contains("PASSWORD") && output.contains("well-known"),
        "{output}"
    );
}

#[tokio::test]
async fn a_qwen2api_user_keeps_numbered_accounts_master_key_and_dotenv() {
    let mock = mock_qwen::spawn(mock_qwen::MockOptions {
        cn_accounts: vec![
            mock_qwen::CnAccount::new("cn-a", "ticket=mock-cn-a", "xsrf-a"),
            mock_qwen::CnAccount::new("cn-b", "ticket=mock-cn-b", "xsrf-b"),
        ],
        ..Default::default()
    })
    .await;
    // Qwen-2api read its settings from a `.env` file; accounts beyond the
    // third count too.
    let gateway = shipped(&[("qwen", &mock.base_url)])
        .file(
            ".env",
            "# Qwen-2api settings\nAPI_MASTER_KEY=sk-qwen2api-master\nCN_ACCOUNT_1_COOKIE=\"ticket=mock-cn-a\"\n",
        )
        .env("CN_ACCOUNT_1_XSRF_TOKEN", "xsrf-a")
        .env("CN_ACCOUNT_4_COOKIE", "ticket=mock-cn-b")
        .env("CN_ACCOUNT_4_XSRF_TOKEN", "xsrf-b")
        .start();
    let send = |model: &str, stream: bool| {
        gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.url))
            .bearer_auth("sk-qwen2api-master")
            .json(&user_request(model, "Say hi", stream))
            .send()
    };
    for _ in 0..4 {
        let response = send("qwen-max", false).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(served_by(&response), "qwen");
        let body: Value = response.json().await.unwrap();
        assert!(
            !body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let response = send("qwen-plus", true).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(!streamed_text(&parse_sse(&body)).is_empty(), "{body}");

    let used: std::collections::BTreeSet<String> = mock
        .requests()
        .into_iter()
        .filter_map(|r| r.account)
        .collect();
    assert!(
        used.contains("cn-a") && used.contains("cn-b"),
        "both numbered accounts serve: {used:?}"
    );
    let logs = gateway.logs();
    assert!(logs.contains("from .env"), "{logs}");
    assert!(logs.contains("API_MASTER_KEY"), "{logs}");
}

#[tokio::test]
async fn a_business2api_user_keeps_accounts_config_prefix_and_browser_clients() {
    let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions {
        accounts: (1..=3)
            .map(mock_gemini_business::MockAccount::numbered)
            .collect(),
        ..Default::default()
    })
    .await;
    // The seed's ACCOUNTS_CONFIG: four usable elements would be three from
    // the mock plus one switched off, and one that is broken.
    let mut elements: Vec<Value> = (0..3)
        .map(|i| mock.account(i).to_accounts_config_entry())
        .collect();
    let mut off = mock.account(0).to_accounts_config_entry();
    off["id"] = json!("switched-off");
    off["disabled"] = json!(true);
    elements.push(off);
    elements.push(json!({"id": "half-pasted", "csesidx": "42"}));
    elements[2]["expires_at"] = json!("2099-12-31 23:59:59");
    let data_before = r#"[{"seed": "gemini-business2api's own accounts file"}]"#;
    let gateway = shipped(&[("gemini-business", &mock.base_url)])
        .env("ACCOUNTS_CONFIG", &Value::from(elements).to_string())
        .env("API_KEY", "sk-business-user-key")
        .env("PATH_PREFIX", "my-secret-path")
        .env("ADMIN_KEY", "admin-key-for-business-user")
        .file("data/accounts.json", data_before)
        .start();

    // The base URL with the seed's prefix keeps working, and so does the root.
    for path in [
        "/my-secret-path/v1/chat/completions",
        "/v1/chat/completions",
    ] {
        for model in ["gemini-auto", "gemini-2.5-flash"] {
            let response = gateway
                .client()
                .post(format!("{}{path}", gateway.url))
                .bearer_auth("sk-business-user-key")
                .json(&user_request(model, "Say hi", false))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} {model}");
            assert_eq!(served_by(&response), "gemini-business", "{path} {model}");
        }
    }
    let models = listed(
        &gateway,
        "/my-secret-path/v1/models",
        "sk-business-user-key",
    )
    .await;
    assert!(
        models.iter().any(|(id, _)| id == "gemini-auto"),
        "{models:?}"
    );

    // A browser client (LobeChat's client mode) sends a preflight first.
    let preflight = gateway
        .client()
        .request(
            wasmgate_testkit::reqwest::Method::OPTIONS,
            format!("{}/my-secret-path/v1/chat/completions", gateway.url),
        )
        .header("origin", "https://chat.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let response = gateway
        .client()
        .post(format!(
            "{}/my-secret-path/v1/chat/completions",
            gateway.url
        ))
        .header("origin", "https://chat.example.com")
        .bearer_auth("sk-business-user-key")
        .json(&user_request("gemini-auto", "From a page", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // The admin surface never answers a page.
    let admin = gateway
        .client()
        .request(
            wasmgate_testkit::reqwest::Method::OPTIONS,
            format!("{}/admin/api/accounts", gateway.url),
        )
        .header("origin", "https://chat.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(admin.headers().get("access-control-allow-origin").is_none());

    // Each element became an account under its own id; the switched-off
    // and the broken ones are named in the log, never silently dropped.
    let served: std::collections::BTreeSet<String> = mock
        .requests()
        .into_iter()
        .filter_map(|r| r.account)
        .collect();
    assert_eq!(served.len(), 3, "{served:?}");
    let logs = gateway.logs();
    for needle in ["switched-off", "disabled", "half-pasted", "secure_c_ses"] {
        assert!(logs.contains(needle), "{needle} in {logs}");
    }
    let status: Value = gateway
        .admin(wasmgate_testkit::reqwest::Method::GET, "/admin/api/status")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("half-pasted") && warnings.contains("switched-off"),
        "the admin view names them too: {warnings}"
    );
    // The seed's own file in the shared data directory is left alone;
    // wasmgate writes files of its own next to it.
    let data = gateway.dir().join("data");
    let ours = data.join("wasmgate-accounts.json");
    for _ in 0..100 {
        if ours.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ours.exists(),
        "account health is saved under a name of our own"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("accounts.json")).unwrap(),
        data_before
    );
}

/// Gemi2Api-Server answered unknown names with its default model; with
/// `default` a route does that, and without it the caller gets a 404. A
/// plugin that does not know a name passes the request to the route's next.
#[tokio::test]
async fn unknown_names_get_the_default_model_only_where_configured() {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = {{ api-key = {{ env = "TEST_GEMINI_KEY" }} }}
settings = {{ base-url = "{}" }}

[models]
"lenient-*" = {{ plugin = "gemini", model = "*", default = "gemini-2.5-flash" }}
"strict-*" = {{ plugin = "gemini", model = "*" }}
"either-*" = [{{ plugin = "gemini", model = "unheard-of-*" }}, {{ plugin = "gemini", model = "*" }}]
"#,
            mock.base_url
        ))
        .env("TEST_GEMINI_KEY", "good-1")
        .env("API_KEY", "sk-test-lenient-routes")
        .start();
    let asked = |mock: &mock_gemini::MockUpstream| -> Vec<String> {
        mock.requests()
            .into_iter()
            .filter(|r| r.is_generation())
            .filter_map(|r| r.model)
            .collect()
    };

    let body = gateway
        .chat_ok(&user_request("lenient-no-such-model", "Say hi", false))
        .await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Say hi");
    assert_eq!(asked(&mock), ["no-such-model", "gemini-2.5-flash"]);

    let response = gateway
        .chat(&user_request("strict-no-such-model", "Say hi", false))
        .await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "model_not_found", "{error}");

    let body = gateway
        .chat_ok(&user_request("either-gemini-2.5-pro", "Again", false))
        .await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Again");
    let asked = asked(&mock);
    assert_eq!(
        &asked[asked.len() - 2..],
        ["unheard-of-gemini-2.5-pro", "gemini-2.5-pro"]
    );
    // A model the plugin does not know is the request's problem, not the
    // account's: the one key is still healthy.
    let models = listed(&gateway, "/v1/models", "sk-test-lenient-routes").await;
    assert!(!models.is_empty());
}

/// Upstream model lists change faster than a plugin's built-in table: the
/// model list shows what the upstream lists now, fetched off the request
/// path with one of the plugin's accounts.
#[tokio::test]
async fn the_model_list_follows_the_upstreams_live_list() {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions {
        models: ["gemini-2.5-flash", "gemini-9-ultra-preview"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    })
    .await;
    let gateway = shipped(&[("gemini", &mock.base_url)])
        .env("GEMINI_API_KEYS", "good-1")
        .env("API_KEY", "sk-hajimi-live-list")
        .start();
    let mut models = Vec::new();
    for _ in 0..100 {
        models = listed(&gateway, "/v1/models", "sk-hajimi-live-list").await;
        if models.iter().any(|(id, _)| id == "gemini-9-ultra-preview") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        models.contains(&("gemini-9-ultra-preview".to_string(), "gemini".to_string())),
        "{models:?}"
    );
    let body = gateway
        .chat_ok(&user_request("gemini-9-ultra-preview", "Say hi", false))
        .await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Say hi");
}

/// A newcomer's first start on the shipped file: its `[models]` routes every
/// model id that more than one shipped plugin declares, so the log has no
/// clash to warn about; without such a route the clash is reported.
#[tokio::test]
async fn the_shipped_file_routes_every_model_its_plugins_share() {
    // Start-up warnings come before the gateway listens, and `start` waits
    // for that.
    let logs = shipped(&[]).start().logs();
    assert!(!logs.contains("both declare"), "{logs}");

    let unrouted = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini", "vertex"])
        .start();
    let logs = unrouted.wait_for_log("both declare");
    assert!(
        logs.contains("both declare the model \"gemini-2.5-flash\""),
        "{logs}"
    );
}
