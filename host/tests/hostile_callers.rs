//! What a caller can and cannot make the gateway do: a web page that reaches
//! a developer's keyless gateway, and a caller fishing for the operator's
//! inventory in error messages.

use wasmgate_testkit::{Gateway, Value, user_request};

fn keyless_gateway() -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .start()
}

/// Without a key the gateway serves this machine only; a web page in a local
/// browser is on this machine too, so it must not get in through a name that
/// resolves to 127.0.0.1 (DNS rebinding) or a cross-site form post.
#[tokio::test]
async fn a_keyless_gateway_refuses_web_pages_and_foreign_host_names() {
    let gateway = keyless_gateway();
    let url = format!("{}/v1/chat/completions", gateway.url);
    let body = user_request("misbehave-echo", "hello", false).to_string();
    let client = gateway.client();

    let local = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200, "a local client is served");

    let rebound = client
        .post(&url)
        .header("host", "attacker.example:7860")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "a foreign Host is refused");

    let cross_site = client
        .post(&url)
        .header("origin", "https://attacker.example")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "a foreign page is refused");
    let error: Value = cross_site.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API_KEY")
    );

    // What an HTML form can send without a preflight.
    let form = client
        .post(&url)
        .header("origin", "http://localhost:3000")
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "a non-JSON body is refused");

    let preflight = client
        .request(wasmgate_testkit::reqwest::Method::OPTIONS, &url)
        .header("origin", "https://attacker.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no origin is allowed by default without keys"
    );
}

/// A 502 tells the caller how each try ended, not which accounts or
/// variables the operator has: those go to the log, under the request's id.
#[tokio::test]
async fn failures_name_no_account_ids_or_variables_to_the_caller() {
    let mock = mock_gemini::spawn(mock_gemini::MockOptions::default()).await;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .plugin_as("gemini", "gemini-spare")
        .config(&format!(
            r#"
[plugins.gemini]
[[plugins.gemini.accounts]]
id = "operator-account-alpha"
secrets = {{ api-key = {{ env = "OPERATOR_KEY_ALPHA" }} }}
settings = {{ base-url = "{url}" }}
[[plugins.gemini.accounts]]
id = "operator-account-beta"
secrets = {{ api-key = {{ env = "OPERATOR_KEY_BETA" }} }}
settings = {{ base-url = "{url}" }}

[plugins.gemini-spare]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini-spare.accounts]]
id = "operator-account-unset"
secrets = {{ api-key = {{ env = "OPERATOR_SECRET_VARIABLE" }} }}
settings = {{ base-url = "{url}" }}

[models]
"refused-*" = {{ plugin = "gemini", model = "*" }}
"orphan" = "gemini-spare"
"#,
            url = mock.base_url
        ))
        .env("OPERATOR_KEY_ALPHA", "bad-alpha-key-value")
        .env("OPERATOR_KEY_BETA", "bad-beta-key-value")
        .env("API_KEY", "sk-hostile-callers")
        .start();
    for model in ["refused-gemini-2.5-flash", "orphan"] {
        let response = gateway.chat(&user_request(model, "go", false)).await;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .expect("every answer carries its request id")
            .to_str()
            .unwrap()
            .to_string();
        let text = response.text().await.unwrap();
        assert_eq!(status, 502, "{model}: {text}");
        for inventory in ["operator-account", "OPERATOR_", "key-value"] {
            assert!(!text.contains(inventory), "{model}: {inventory} in {text}");
        }
        let logs = gateway.wait_for_log(&format!("id={request_id}"));
        assert!(
            logs.contains(&format!("id={request_id}")),
            "the log carries the request id {request_id}: {logs}"
        );
    }
    // The operator finds the accounts and what to set in the log.
    let logs = gateway.logs();
    assert!(logs.contains("operator-account-alpha") && logs.contains("OPERATOR_SECRET_VARIABLE"));
    assert!(!logs.contains("key-value"), "never the secrets themselves");
}
