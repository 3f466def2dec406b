//! What the end-to-end tests share: the plugins built from source, and a
//! running gateway (the real `wasmgate` binary, a real `plugins.toml`, on an
//! ephemeral loopback port) to talk to over real HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

pub mod js_plugin;
pub mod sdk;

pub use reqwest;
pub use serde_json::{Value, json};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Every provider plugin the repository ships (`plugins/*`).
pub fn shipped_plugins() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("plugins"))
        .expect("plugins/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The shipped `plugins.toml` as a test gateway's configuration: without its
/// `[server]` section (the harness writes its own), with every account of
/// each named plugin pointed at a mock by `base-url`, as an operator behind a
/// mirror would. Everything else (routes, variable names) is as shipped.
pub fn shipped_config(base_urls: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(workspace().join("plugins.toml")).expect("plugins.toml");
    let mut table: toml::Table = text.parse().expect("the shipped plugins.toml parses");
    table.remove("server");
    let plugins = table
        .get_mut("plugins")
        .and_then(|p| p.as_table_mut())
        .expect("[plugins]");
    for (plugin, url) in base_urls {
        let accounts = plugins
            .get_mut(*plugin)
            .and_then(|p| p.get_mut("accounts"))
            .and_then(|a| a.as_array_mut())
            .unwrap_or_else(|| panic!("no [[plugins.{plugin}.accounts]] in plugins.toml"));
        for account in accounts {
            let account = account.as_table_mut().unwrap();
            let settings = account
                .entry("settings")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            settings
                .as_table_mut()
                .unwrap()
                .insert("base-url".into(), toml::Value::String(url.to_string()));
        }
    }
    toml::to_string(&table).expect("serialising plugins.toml")
}

/// The named plugins (from `plugins/*` or `tests/plugins/*`) built from
/// source to components, in a directory of `<name>.wasm` files. Each plugin is
/// built once per test process (cargo makes later builds no-ops), and only the
/// plugins a test asks for, so one plugin's breakage fails only its own tests.
/// The build uses its own target directory, so it never waits on the
/// `cargo test` that runs us.
pub fn built_plugins(names: &[String]) -> &'static Path {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let root = workspace();
    let out = DIR.get_or_init(|| {
        let out = root.join("target/testkit/plugins");
        std::fs::create_dir_all(&out).expect("creating target/testkit");
        out
    });
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&String> = names.iter().filter(|n| !built.contains(n)).collect();
    if missing.is_empty() {
        return out;
    }
    // Test binaries may run in parallel processes: build one at a time.
    let lock = std::fs::File::create(root.join("target/testkit/build.lock")).expect("lock file");
    lock.lock().expect("locking the plugin build");
    let only: Vec<&str> = missing.iter().map(|n| n.as_str()).collect();
    let output = Command::new(root.join("scripts/build-plugins"))
        .arg(out)
        .env("WASMGATE_TEST_PLUGINS", "1")
        .env("WASMGATE_ONLY", only.join(" "))
        .env("CARGO_TARGET_DIR", root.join("target/testkit/wasm"))
        .output()
        .expect("running scripts/build-plugins");
    assert!(
        output.status.success(),
        "building the plugins {only:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    drop(lock);
    built.extend(missing.into_iter().cloned());
    out
}

/// The built component of one plugin (see [`built_plugins`]).
pub fn built_plugin(name: &str) -> PathBuf {
    built_plugins(&[name.to_string()]).join(format!("{name}.wasm"))
}

/// How to start a gateway.
pub struct GatewayBuilder {
    binary: PathBuf,
    plugins: Vec<String>,
    config: String,
    server: Vec<String>,
    env: Vec<(String, String)>,
    cache_dir: Option<PathBuf>,
    files: Vec<(PathBuf, String)>,
    renamed: Vec<(String, String)>,
}

impl GatewayBuilder {
    /// A file written into the gateway's working directory before it starts
    /// (e.g. `.env`, or `data/…` to find in its data directory).
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((PathBuf::from(path), contents.to_string()));
        self
    }

    /// A compile cache of its own (default: one shared by all tests).
    pub fn cache_dir(mut self, dir: &Path) -> Self {
        self.cache_dir = Some(dir.to_path_buf());
        self
    }

    /// Copies the built plugin `name` into `plugins/` as `<file_name>.wasm`,
    /// as an operator dropping in a file of another name would.
    pub fn plugin_as(mut self, name: &str, file_name: &str) -> Self {
        self.renamed.push((name.to_string(), file_name.to_string()));
        self
    }

    /// Copies these built plugins into the gateway's `plugins/`.
    pub fn plugins(mut self, names: &[&str]) -> Self {
        self.plugins.extend(names.iter().map(|n| n.to_string()));
        self
    }

    /// The body of `plugins.toml`, without a `[server]` section.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = toml.to_string();
        self
    }

    /// An extra `[server]` line, e.g. `max-body-bytes = 1000`.
    pub fn server_option(mut self, line: &str) -> Self {
        self.server.push(line.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Starts a gateway that must refuse to start; returns what it printed.
    pub fn start_failing(self) -> String {
        let (mut child, log, _dir) = self.spawn();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for wasmgate") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the gateway kept running:\n{}", log.0.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success(), "the gateway started but should not have");
        // Give the log readers a moment to drain the pipes.
        std::thread::sleep(Duration::from_millis(200));
        log.0.lock().unwrap().clone()
    }

    /// Starts the gateway and waits until it listens.
    pub fn start(self) -> Gateway {
        let api_key = self
            .env
            .iter()
            .find(|(k, _)| k == "API_KEY")
            .map(|(_, v)| v.split(',').next().unwrap_or_default().to_string());
        let admin_key = self
            .env
            .iter()
            .find(|(k, _)| k == "ADMIN_KEY")
            .map(|(_, v)| v.clone());
        let (mut child, log, dir) = self.spawn();
        let url = {
            let (text, changed) = &*log;
            let text = text.lock().unwrap();
            let (text, timeout) = changed
                .wait_timeout_while(text, Duration::from_secs(120), |t| {
                    !t.contains("listening on http://") && !t.contains("wasmgate: ")
                })
                .unwrap();
            let found = text.find("listening on http://");
            match found {
                Some(at) if !timeout.timed_out() => {
                    let rest = &text[at + "listening on ".len()..];
                    rest.split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap()
                        .to_string()
                }
                _ => {
                    let _ = child.kill();
                    panic!("the gateway did not start:\n{text}");
                }
            }
        };
        Gateway {
            url,
            api_key,
            admin_key,
            child,
            log,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    #[allow(clippy::type_complexity)]
    fn spawn(self) -> (Child, Arc<(Mutex<String>, Condvar)>, tempfile::TempDir) {
        let mut wanted = self.plugins.clone();
        wanted.extend(self.renamed.iter().map(|(name, _)| name.clone()));
        let built = built_plugins(&wanted);
        let dir = tempfile::tempdir().expect("temp dir");
        let plugins_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins_dir).unwrap();
        for (name, file_name) in &self.renamed {
            std::fs::copy(
                built.join(format!("{name}.wasm")),
                plugins_dir.join(format!("{file_name}.wasm")),
            )
            .unwrap_or_else(|e| panic!("no built plugin {name}: {e}"));
        }
        for (path, contents) in &self.files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        for name in &self.plugins {
            let from = built.join(format!("{name}.wasm"));
            std::fs::copy(&from, plugins_dir.join(format!("{name}.wasm")))
                .unwrap_or_else(|e| panic!("no built plugin {}: {e}", from.display()));
        }
        let cache = self
            .cache_dir
            .clone()
            .unwrap_or_else(|| workspace().join("target/testkit/cache"));
        let mut toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplugins-dir = {:?}\ncache-dir = {:?}\n",
            plugins_dir.display().to_string(),
            cache.display().to_string()
        );
        for line in &self.server {
            toml.push_str(line);
            toml.push('\n');
        }
        let header = toml.clone();
        toml.push_str(&self.config);
        let config_path = dir.path().join("plugins.toml");
        std::fs::write(dir.path().join(".server-section"), &header).unwrap();
        std::fs::write(&config_path, toml).unwrap();

        let mut command = Command::new(&self.binary);
        command
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("WASMGATE_CONFIG", &config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("starting wasmgate");
        let log = Arc::new((Mutex::new(String::new()), Condvar::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let (text, changed) = &*log;
                    let mut text = text.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                    changed.notify_all();
                }
            });
        }
        (child, log, dir)
    }
}

/// A running gateway; stopped when dropped.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    api_key: Option<String>,
    admin_key: Option<String>,
    child: Child,
    log: Arc<(Mutex<String>, Condvar)>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// The gateway's process id, e.g. to read `/proc/<pid>/…`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's working directory (its `data/` is its data directory).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// The gateway's `plugins/` directory (watched: files dropped there load).
    pub fn plugins_dir(&self) -> PathBuf {
        self._dir.path().join("plugins")
    }

    /// Replaces the body of its `plugins.toml` (the `[server]` section the
    /// harness wrote is kept), atomically as an editor saving would.
    pub fn rewrite_config(&self, toml: &str) {
        let header = std::fs::read_to_string(self._dir.path().join(".server-section")).unwrap();
        let tmp = self._dir.path().join(".plugins.toml.tmp");
        std::fs::write(&tmp, format!("{header}{toml}")).unwrap();
        std::fs::rename(tmp, self._dir.path().join("plugins.toml")).unwrap();
    }

    /// A gateway running the given `wasmgate` binary (pass
    /// `env!("CARGO_BIN_EXE_wasmgate")`).
    pub fn builder(binary: &str) -> GatewayBuilder {
        GatewayBuilder {
            binary: PathBuf::from(binary),
            plugins: Vec::new(),
            config: String::new(),
            server: Vec::new(),
            env: Vec::new(),
            cache_dir: None,
            files: Vec::new(),
            renamed: Vec::new(),
        }
    }

    /// Everything the gateway has logged so far.
    pub fn logs(&self) -> String {
        self.log.0.lock().unwrap().clone()
    }

    /// The log once it contains `needle` (the log is read from the gateway's
    /// output by a thread, so a line may land just after a response), or
    /// whatever it holds after five seconds.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let (text, changed) = &*self.log;
        let text = text.lock().unwrap();
        let (text, _) = changed
            .wait_timeout_while(text, Duration::from_secs(5), |t| !t.contains(needle))
            .unwrap();
        text.clone()
    }

    /// The callers' key the harness configured, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to a path, with the gateway's key when it has one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.url));
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `POST /v1/chat/completions` with a JSON body.
    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/v1/chat/completions")
            .json(body)
            .send()
            .await
            .expect("sending a chat request")
    }

    /// `GET /v1/models` as the caller: the ids it lists.
    pub async fn model_ids(&self) -> Vec<String> {
        let list: Value = self
            .request(reqwest::Method::GET, "/v1/models")
            .send()
            .await
            .expect("GET /v1/models")
            .json()
            .await
            .expect("a JSON model list");
        model_ids(&list)
    }

    /// Sends `body` (streamed or not, as it says), which must succeed: the
    /// answer's text and its annotations (from the message, or from the
    /// stream's deltas).
    pub async fn answer_with_annotations(&self, body: &Value) -> (String, Vec<Value>) {
        if body["stream"] == true {
            let (status, frames) = self.chat_stream(body).await;
            assert_eq!(status, 200, "{frames:?}");
            let annotations = frames
                .iter()
                .filter_map(|frame| frame["choices"][0]["delta"]["annotations"].as_array())
                .flatten()
                .cloned()
                .collect();
            (streamed_text(&frames), annotations)
        } else {
            let completion = self.chat_ok(body).await;
            let message = &completion["choices"][0]["message"];
            let annotations = message["annotations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let text = message["content"].as_str().unwrap_or_default().to_string();
            (text, annotations)
        }
    }

    /// A non-streaming chat that must succeed; returns the completion.
    pub async fn chat_ok(&self, body: &Value) -> Value {
        let response = self.chat(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(
            status,
            200,
            "chat failed: {text}\n--- gateway log ---\n{}",
            self.logs()
        );
        serde_json::from_str(&text).unwrap()
    }

    /// A streaming chat: the parsed `data:` payloads, in order, up to `[DONE]`
    /// (which is returned as the string `"[DONE]"`).
    pub async fn chat_stream(&self, body: &Value) -> (reqwest::StatusCode, Vec<Value>) {
        let response = self.chat(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, parse_sse(&text))
    }
}

impl Gateway {
    /// Resets every account's health through the admin API, as an operator
    /// would: for tests that run unrelated failure scenarios one after the
    /// other on the same accounts. The gateway needs an `ADMIN_KEY`.
    pub async fn reset_accounts(&self) {
        let pools = self.accounts().await;
        for (plugin, pool) in pools.as_object().unwrap() {
            for account in pool["accounts"].as_array().unwrap() {
                let id = account["id"].as_str().unwrap();
                let path = format!("/admin/api/accounts/{plugin}/{id}/reset");
                let response = self
                    .admin(reqwest::Method::POST, &path)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "resetting {plugin}/{id}");
            }
        }
    }

    /// `GET /admin/api/accounts`: every plugin's pool and its accounts' state.
    /// The gateway needs an `ADMIN_KEY`.
    pub async fn accounts(&self) -> Value {
        self.admin_get("/admin/api/accounts").await
    }

    /// The JSON of an admin API `GET` (with the gateway's `ADMIN_KEY`).
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A request to the admin API with the gateway's `ADMIN_KEY`.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let key = self
            .admin_key
            .as_deref()
            .expect("the admin API needs the gateway started with an ADMIN_KEY");
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// Stops the gateway as a platform would (SIGTERM), waits for it to exit
    /// and returns what it logged.
    pub fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if std::time::Instant::now() > deadline {
                panic!("the gateway did not stop on SIGTERM:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        self.logs()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `data:` payloads of an SSE body; `[DONE]` becomes a JSON string.
pub fn parse_sse(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| {
            if data == "[DONE]" {
                Value::String("[DONE]".into())
            } else {
                serde_json::from_str(data).unwrap_or_else(|e| panic!("bad SSE data {data:?}: {e}"))
            }
        })
        .collect()
}

/// The text of a streamed answer: its `content` deltas joined.
/// `(id, owned_by)` of every model in an OpenAI model list.
pub fn listed_models(list: &Value) -> Vec<(String, String)> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a model list: {list}"))
        .iter()
        .map(|m| {
            let text = |field: &str| m[field].as_str().unwrap_or_default().to_string();
            (text("id"), text("owned_by"))
        })
        .collect()
}

/// The ids in an OpenAI model list.
pub fn model_ids(list: &Value) -> Vec<String> {
    listed_models(list).into_iter().map(|(id, _)| id).collect()
}

/// Whether every reasoning delta of a stream comes before its first piece of
/// text (thoughts first, then the answer, as clients show them).
pub fn reasoning_comes_first(frames: &[Value]) -> bool {
    let delta = |f: &Value, field: &str| f["choices"][0]["delta"][field].clone();
    let last_reasoning = frames
        .iter()
        .rposition(|f| delta(f, "reasoning_content").is_string());
    let first_text = frames
        .iter()
        .position(|f| delta(f, "content").as_str().is_some_and(|t| !t.is_empty()));
    match (last_reasoning, first_text) {
        (Some(reasoning), Some(text)) => reasoning < text,
        _ => false,
    }
}

pub fn streamed_text(frames: &[Value]) -> String {
    frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// A one-message user request.
pub fn user_request(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// A streamed chat that must end, cleanly or not, within 30 s (a stream never
/// hangs): its status and frames.
pub async fn bounded_stream(gateway: &Gateway, body: &Value) -> (u16, Vec<Value>) {
    let (status, frames) = tokio::time::timeout(Duration::from_secs(30), gateway.chat_stream(body))
        .await
        .expect("the stream ends, it does not hang");
    (status.as_u16(), frames)
}

/// A request that must fail: its status, `Retry-After`, and JSON body.
pub async fn failure(gateway: &Gateway, body: &Value) -> (u16, Option<u64>, Value) {
    let response = tokio::time::timeout(Duration::from_secs(30), gateway.chat(body))
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, retry_after, body)
}

/// The reasoning of a streamed answer: its `reasoning_content` deltas joined.
pub fn streamed_reasoning(frames: &[Value]) -> String {
    frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect()
}

/// How many frames carry some answer text.
pub fn text_pieces(frames: &[Value]) -> usize {
    frames
        .iter()
        .filter(|f| {
            f["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count()
}

/// The finish reason of a streamed answer, if one arrived.
pub fn finish_reason(frames: &[Value]) -> Option<&str> {
    frames
        .iter()
        .find_map(|f| f["choices"][0]["finish_reason"].as_str())
}
