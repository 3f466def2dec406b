//! Hot reload with real files, the real watcher and the real server: plugins
//! dropped in, replaced and removed, `plugins.toml` edited — while requests
//! (and long streams) are running.

use std::time::{Duration, Instant};

use futures::StreamExt;
use wasmgate_testkit::reqwest::{Method, Response};
use wasmgate_testkit::{Gateway, Value, built_plugin, parse_sse, streamed_text, user_request};

/// How long a test waits for a change to show. The gateway normally follows
/// within a second; the bench measures it. This only bounds a broken run.
const PATIENCE: Duration = Duration::from_secs(15);

const ADMIN_KEY: &str = "admin-secret";

fn config(alias_target: &str) -> String {
    format!(
        r#"
[[plugins.misbehave.accounts]]
id = "a"
[models]
"alias" = {{ plugin = "misbehave", model = "{alias_target}" }}
"#
    )
}

fn start(plugins: &[&str]) -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(plugins)
        .config(&config("misbehave-echo"))
        .env("ADMIN_KEY", ADMIN_KEY)
        .start()
}

/// Puts a built plugin into the gateway's `plugins/` as `name.wasm`, the way
/// a deploy would: written aside, then renamed into place.
fn install(gateway: &Gateway, built: &str, name: &str) {
    let dir = gateway.plugins_dir();
    let tmp = dir.join(format!(".{name}.wasm.partial"));
    std::fs::copy(built_plugin(built), &tmp).unwrap();
    std::fs::rename(tmp, dir.join(format!("{name}.wasm"))).unwrap();
}

fn served_by(response: &Response) -> String {
    response
        .headers()
        .get("x-wasmgate-plugin")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Polls until `check` holds, or panics after [`PATIENCE`].
async fn eventually<F, Fut>(what: &str, gateway: &Gateway, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{what} did not happen within {PATIENCE:?}\n--- gateway log ---\n{}",
        gateway.logs()
    );
}

async fn status(gateway: &Gateway) -> Value {
    gateway.admin_get("/admin/api/status").await
}

/// Starts a slow stream (one word every 100 ms) and reads until its first word.
async fn start_slow_stream(
    gateway: &Gateway,
    words: usize,
) -> (String, impl futures::Stream<Item = Vec<u8>>, String) {
    let text: Vec<String> = (0..words).map(|i| format!("w{i}")).collect();
    let response = gateway
        .chat(&user_request("misbehave-slow", &text.join(" "), true))
        .await;
    assert_eq!(response.status(), 200);
    let version = served_by(&response);
    let mut body = response.bytes_stream().map(|chunk| chunk.unwrap().to_vec());
    let mut received = String::new();
    while !streamed_text(&parse_sse(&received)).contains("w0") {
        received.push_str(std::str::from_utf8(&body.next().await.unwrap()).unwrap());
    }
    (received, body, version)
}

async fn finish_stream(
    mut received: String,
    mut body: impl futures::Stream<Item = Vec<u8>> + Unpin,
) -> Vec<Value> {
    while let Some(chunk) = body.next().await {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    parse_sse(&received)
}

#[tokio::test]
async fn a_plugin_dropped_into_plugins_is_served() {
    let gateway = start(&[]);
    let before = gateway
        .chat(&user_request("misbehave-echo", "hi", false))
        .await;
    assert_eq!(before.status(), 404);

    // A plain copy: the gateway must not load the file half-written.
    std::fs::copy(
        built_plugin("misbehave"),
        gateway.plugins_dir().join("misbehave.wasm"),
    )
    .unwrap();
    eventually("the new plugin's models are served", &gateway, || async {
        gateway
            .chat(&user_request("misbehave-echo", "hi", false))
            .await
            .status()
            == 200
    })
    .await;
    let list: Value = gateway
        .request(Method::GET, "/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.to_string().contains("misbehave-echo"), "{list}");
}

#[tokio::test]
async fn replacing_a_plugin_keeps_running_streams_and_serves_the_new_version_next() {
    let gateway = start(&["misbehave"]);
    let (received, body, version) = start_slow_stream(&gateway, 20).await;
    assert_eq!(version, "misbehave@0.1.0");

    install(&gateway, "misbehave-next", "misbehave");
    eventually("the new version serves new requests", &gateway, || async {
        served_by(
            &gateway
                .chat(&user_request("misbehave-echo", "x", false))
                .await,
        ) == "misbehave@0.2.0"
    })
    .await;

    // The stream that started on 0.1.0 finishes intact.
    let frames = finish_stream(received, Box::pin(body)).await;
    let expected: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    assert_eq!(streamed_text(&frames), expected.join(" "));
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn removing_a_plugin_removes_its_models_once_its_streams_end() {
    let gateway = start(&["misbehave"]);
    let (received, body, _) = start_slow_stream(&gateway, 15).await;

    std::fs::remove_file(gateway.plugins_dir().join("misbehave.wasm")).unwrap();
    eventually("the removed plugin's models are gone", &gateway, || async {
        let response = gateway
            .chat(&user_request("misbehave-echo", "x", false))
            .await;
        if response.status() != 404 {
            return false;
        }
        let body: Value = response.json().await.unwrap();
        body["error"]["code"] == "model_not_found"
    })
    .await;

    let frames = finish_stream(received, Box::pin(body)).await;
    let expected: Vec<String> = (0..15).map(|i| format!("w{i}")).collect();
    assert_eq!(
        streamed_text(&frames),
        expected.join(" "),
        "the running stream was not cut"
    );
}

#[tokio::test]
async fn editing_models_remaps_a_name() {
    let gateway = start(&["misbehave"]);
    let answer = gateway
        .chat_ok(&user_request("alias", "remap me", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "remap me");

    gateway.rewrite_config(&config("misbehave-snoop"));
    eventually("the alias points at the new model", &gateway, || {
        alias_is_remapped(&gateway)
    })
    .await;
}

/// Whether `alias` reaches `misbehave-snoop` (its answers start `env=[`), as
/// `config("misbehave-snoop")` says, rather than the echo.
async fn alias_is_remapped(gateway: &Gateway) -> bool {
    let answer = gateway
        .chat_ok(&user_request("alias", "token", false))
        .await;
    answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("env=[")
}

#[tokio::test]
async fn bad_changes_leave_the_last_good_state_serving_and_show_in_the_status() {
    let gateway = start(&["misbehave"]);
    let live = status(&gateway).await;
    assert_eq!(live["plugins"]["misbehave"]["version"], "0.1.0", "{live}");
    assert!(live["config"]["error"].is_null(), "{live}");

    // Invalid TOML.
    gateway.rewrite_config("[models\n\"alias\" = \"misbehave\"\n");
    eventually("the config error shows", &gateway, || async {
        !status(&gateway).await["config"]["error"].is_null()
    })
    .await;
    gateway
        .chat_ok(&user_request("alias", "still served", false))
        .await;

    // A corrupt component.
    std::fs::write(
        gateway.plugins_dir().join("misbehave.wasm"),
        b"\0asm\x0d\0\x01\0 definitely not a component",
    )
    .unwrap();
    eventually("the plugin error shows", &gateway, || async {
        !status(&gateway).await["plugins"]["misbehave"]["error"].is_null()
    })
    .await;
    let broken = status(&gateway).await;
    assert!(
        broken["config"]["error"]
            .as_str()
            .unwrap()
            .contains("plugins.toml:"),
        "{broken}"
    );
    assert_eq!(
        broken["plugins"]["misbehave"]["version"], "0.1.0",
        "the last good version stays live: {broken}"
    );
    let answer = gateway
        .chat(&user_request("alias", "still served", false))
        .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(served_by(&answer), "misbehave@0.1.0");

    // Fixing both makes the new state live.
    gateway.rewrite_config(&config("misbehave-echo"));
    install(&gateway, "misbehave-next", "misbehave");
    eventually("the fixed state is live", &gateway, || async {
        let now = status(&gateway).await;
        now["config"]["error"].is_null()
            && now["plugins"]["misbehave"]["error"].is_null()
            && now["plugins"]["misbehave"]["version"] == "0.2.0"
    })
    .await;
    let answer = gateway.chat(&user_request("alias", "fixed", false)).await;
    assert_eq!(served_by(&answer), "misbehave@0.2.0");
}

#[tokio::test]
async fn the_status_needs_the_admin_key() {
    let gateway = start(&["misbehave"]);
    let url = format!("{}/admin/api/status", gateway.url);
    let anonymous = gateway.client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = gateway
        .client()
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let without = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .start();
    let off = without
        .client()
        .get(format!("{}/admin/api/status", without.url))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 403, "no ADMIN_KEY: the admin API is off");
}

#[tokio::test]
async fn a_configuration_that_would_stop_a_live_plugin_is_not_made_live() {
    let granted = r#"
[plugins.gemini]
allowed-hosts = ["generativelanguage.googleapis.com"]
[[plugins.gemini.accounts]]
id = "key"
secrets = { api-key = { env = "SOME_GEMINI_KEY" } }
[models]
"gemini-*" = "gemini"
"#;
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(granted)
        .env("SOME_GEMINI_KEY", "k")
        .env("ADMIN_KEY", ADMIN_KEY)
        .start();
    let listed = || async {
        let list: Value = gateway
            .request(Method::GET, "/v1/models")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list.to_string().contains("gemini-2.5-flash")
    };
    assert!(listed().await);

    // The plugin's manifest needs generativelanguage.googleapis.com.
    gateway.rewrite_config(&granted.replace(r#"["generativelanguage.googleapis.com"]"#, "[]"));
    eventually("the refusal shows", &gateway, || async {
        !status(&gateway).await["config"]["error"].is_null()
    })
    .await;
    let now = status(&gateway).await;
    assert!(
        now["config"]["error"]
            .as_str()
            .unwrap()
            .contains("generativelanguage.googleapis.com"),
        "{now}"
    );
    assert!(
        listed().await,
        "the last good configuration keeps serving the plugin"
    );
}

/// A reload pass that panics must not end hot reload. The input is a real
/// one: an `expires-offset` whose hours overflow its parser's arithmetic (a
/// panic in the debug build the tests run; in a release build the value is
/// refused). Before the watcher caught a pass's panic, the reload task died
/// with it: the gateway kept serving the old state, but no later edit applied.
#[tokio::test]
async fn a_reload_pass_that_panics_does_not_end_hot_reload() {
    let gateway = start(&["misbehave"]);
    let overflowing = r#"
[[plugins.misbehave.accounts]]
id = "a"
[[plugins.misbehave.accounts]]
id = "seeded"
for-each = { json-array = "SEEDED_ACCOUNTS", expires-offset = "+99999999:00" }
[models]
"alias" = { plugin = "misbehave", model = "misbehave-echo" }
"#;
    gateway.rewrite_config(overflowing);
    eventually("the pass over the bad value ends", &gateway, || async {
        gateway.logs().contains("panicked at")
            || !status(&gateway).await["config"]["error"].is_null()
    })
    .await;
    let answer = gateway
        .chat_ok(&user_request("alias", "still here", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "still here");

    gateway.rewrite_config(&config("misbehave-snoop"));
    eventually("a later good edit applies", &gateway, || {
        alias_is_remapped(&gateway)
    })
    .await;
}

/// An editor or a slow copy writing `plugins.toml` in place, in two steps:
/// the first part parses on its own (the account is there, the `[models]`
/// route is not yet), the rest follows half a second later. The part must
/// never be applied: the route answers all along, and the log shows one
/// reload, of the whole file.
#[tokio::test]
async fn a_config_file_written_in_two_steps_is_applied_whole() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};

    let gateway = start(&["misbehave"]);
    let header = std::fs::read_to_string(gateway.dir().join(".server-section")).unwrap();
    let whole = format!("{header}{}", config("misbehave-snoop"));
    let (first, rest) = whole.split_at(whole.find("[models]").unwrap());
    let path = gateway.dir().join("plugins.toml");

    let written = AtomicBool::new(false);
    let write = async {
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(first.as_bytes()).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        file.write_all(rest.as_bytes()).unwrap();
        drop(file);
        written.store(true, Ordering::SeqCst);
    };
    // Asks for the route all through the edit, until the whole file is live.
    let ask = async {
        let mut refusals = Vec::new();
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            let response = gateway.chat(&user_request("alias", "token", false)).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            if status != 200 {
                refusals.push(format!("{status}: {text}"));
            } else if written.load(Ordering::SeqCst) && text.contains("env=[") {
                return refusals;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the whole file did not apply within {PATIENCE:?}\n--- gateway log ---\n{}",
            gateway.logs()
        );
    };
    let ((), refusals) = tokio::join!(write, ask);
    assert!(
        refusals.is_empty(),
        "the route was refused while the file was half written: {refusals:?}\n--- gateway log ---\n{}",
        gateway.logs()
    );
    let log = gateway.wait_for_log("configuration reloaded");
    assert_eq!(
        log.matches("configuration reloaded").count(),
        1,
        "one reload, of the whole file:\n{log}"
    );
}
