//! The container image, tested without Docker: `scripts/build-dist` builds
//! exactly what the image's `/app` holds, and this test starts that artifact
//! the way the image's `CMD` does — the environment, working directory and
//! paths read from the `Dockerfile` itself, the app folder read-only, a
//! writable data folder as the working directory, secrets as environment
//! variables — and talks to it over HTTP, with the shipped `plugins.toml`
//! pointed at a mock Gemini API. A second, fast test checks that the
//! `Dockerfile` and the script stay in step.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use wasmgate_testkit::{Value, json, reqwest, user_request, workspace};

/// What the image's runtime stage says about how the server runs.
const APP: &str = "/app";
/// The artifacts `scripts/build-dist` lays out, which the image must carry.
const ARTIFACTS: [&str; 4] = ["wasmgate", "plugins", "cache", "plugins.toml"];

#[tokio::test]
async fn the_dist_starts_like_the_image_from_its_cache_and_serves() {
    let dist = build_dist();
    let plugins = plugin_crates();
    check_layout(&dist, &plugins);

    let image = Dockerfile::read().runtime();
    let mock = mock_gemini::spawn(Default::default()).await;
    let root = Scratch::new("deploy");
    let app = root.path().join("app");
    copy_dir(&dist, &app);
    make_read_only(&app);
    let before = snapshot(&app);
    let data = root.path().join("home");
    std::fs::create_dir_all(&data).unwrap();
    let config = root.path().join("config/plugins.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, shipped_config_against(&mock.base_url)).unwrap();

    // The image's environment and command, with its paths moved into the
    // scratch folders; then what a Space adds: its port and its secrets.
    let relocate = |value: &str| image.relocate(value, &app, &data);
    let port = free_port();
    let mut env: Vec<(String, String)> = image
        .env
        .iter()
        .map(|(k, v)| (k.clone(), relocate(v)))
        .collect();
    env.retain(|(k, _)| k != "PORT" && k != "WASMGATE_CONFIG");
    env.push(("PORT".into(), port.to_string()));
    env.push(("WASMGATE_CONFIG".into(), config.display().to_string()));
    env.push(("API_KEY".into(), API_KEY.into()));
    env.push(("GEMINI_API_KEYS".into(), "good-1".into()));
    let mut command: Vec<String> = image.cmd.iter().map(|a| relocate(a)).collect();
    if running_as_root() {
        // Root writes through `a-w`: run as the image's user, as a Space does.
        let user = image.stage.last("USER").expect("a USER");
        let uid: u32 = user.parse().expect("a numeric USER");
        std::os::unix::fs::chown(&data, Some(uid), Some(uid)).unwrap();
        let mut as_user: Vec<String> = ["setpriv", "--clear-groups"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        as_user.push(format!("--reuid={uid}"));
        as_user.push(format!("--regid={uid}"));
        as_user.push("--".into());
        command.splice(0..0, as_user);
    }
    let server = Server::start(&command, &data, &env);
    eprintln!("ready {:?} after start", server.ready_after);
    assert!(
        server.ready_after < Duration::from_secs(5),
        "ready in {:?}",
        server.ready_after
    );

    // Every plugin came from the cache: nothing compiled at start.
    let log = server.log();
    let loaded: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("plugin loaded"))
        .collect();
    assert_eq!(loaded.len(), plugins.len(), "plugins loaded:\n{log}");
    for plugin in &plugins {
        let line = loaded
            .iter()
            .find(|l| l.contains(&format!("plugin={plugin}@")))
            .unwrap_or_else(|| panic!("plugin {plugin} not loaded:\n{log}"));
        assert!(
            line.contains("compiled=\"cached\""),
            "{plugin} was compiled at start: {line}"
        );
    }
    assert!(!log.contains("plugin not loaded"), "{log}");

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap().trim(), "ok");

    let anonymous = client
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "API_KEY guards the API");

    let list = |query: &'static str| {
        let client = client.clone();
        let url = format!("{base}/v1/models{query}");
        async move {
            let models: Value = client
                .get(url)
                .bearer_auth(API_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            wasmgate_testkit::listed_models(&models)
        }
    };
    // Every route of the shipped file names something a loaded plugin serves…
    let everything = list("?all=true").await;
    for route in shipped_exact_routes() {
        assert!(
            everything.iter().any(|(id, _)| *id == route),
            "{route} is routed by plugins.toml but not listed: {everything:?}"
        );
    }
    // …and the plain list holds what the credentials set can serve now:
    // only the Gemini API has keys here.
    let now = list("").await;
    assert!(
        now.contains(&("gemini-2.5-flash".to_string(), "gemini".to_string())),
        "{now:?}"
    );
    assert!(now.iter().all(|(_, owner)| owner == "gemini"), "{now:?}");

    let response = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(API_KEY)
        .json(&user_request(
            "gemini-2.5-flash",
            "Say hi from a Space",
            false,
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}\n--- log ---\n{}", server.log());
    let completion: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "echo: Say hi from a Space"
    );
    assert_eq!(mock.generation_keys(), ["good-1"]);

    let mut body = user_request("gemini-2.5-flash", "stream it", true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    let frames = wasmgate_testkit::parse_sse(&streamed.text().await.unwrap());
    assert_eq!(wasmgate_testkit::streamed_text(&frames), "echo: stream it");

    let log = server.stop();
    for secret in [API_KEY, "good-1"] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    assert_eq!(
        snapshot(&app),
        before,
        "the server wrote into its app folder"
    );
}

#[test]
fn the_dockerfile_and_the_build_script_stay_in_step() {
    let dockerfile = Dockerfile::read();
    let root = workspace();
    let script = std::fs::read_to_string(root.join("scripts/build-dist")).unwrap();

    // The builder runs the script, and only the script builds.
    let builder = dockerfile
        .stages
        .iter()
        .find(|s| s.runs("scripts/build-dist"))
        .expect("a stage runs scripts/build-dist");
    let dist = builder.build_dist_output().expect("scripts/build-dist DIR");
    assert!(
        builder.base.starts_with("rust:"),
        "the builder is the official Rust image: {}",
        builder.base
    );
    let builder = builder.name.clone();
    for stage in &dockerfile.stages {
        for run in stage.all("RUN") {
            assert!(
                !run.contains("cargo ") && !run.contains("wasmgate precompile"),
                "build steps belong in scripts/build-dist, not in the Dockerfile: {run}"
            );
        }
    }

    // What the script lays out is what the image carries, where the image
    // says it is.
    let produced: BTreeSet<String> = script
        .split("$stage/")
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect();
    let expected: BTreeSet<String> = ARTIFACTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        produced, expected,
        "scripts/build-dist's layout changed: update ARTIFACTS and the Dockerfile"
    );
    let runtime = dockerfile.runtime();
    for artifact in ARTIFACTS {
        assert!(
            runtime.copies_from_builder(&builder, &dist, artifact),
            "the runtime stage does not copy {dist}/{artifact} to {APP}/{artifact}"
        );
    }
    assert_eq!(runtime.cmd, [format!("{APP}/wasmgate")]);
    let env = |name: &str| {
        runtime
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        env("WASMGATE_CONFIG"),
        Some(format!("{APP}/plugins.toml").as_str())
    );
    assert_eq!(
        env("WASMGATE_PLUGINS_DIR"),
        Some(format!("{APP}/plugins").as_str())
    );
    assert_eq!(
        env("WASMGATE_CACHE_DIR"),
        Some(format!("{APP}/cache").as_str())
    );

    // The Space's contract: port 7860, uid 1000, a writable working directory.
    assert_eq!(env("PORT"), Some("7860"));
    assert_eq!(runtime.stage.last("EXPOSE").as_deref(), Some("7860"));
    assert_eq!(runtime.stage.last("USER").as_deref(), Some("1000"));
    let workdir = runtime.stage.last("WORKDIR").expect("a WORKDIR");
    assert!(
        !workdir.starts_with(APP),
        "the working directory holds state; it cannot be the read-only app folder"
    );
    assert!(
        runtime.stage.all("COPY").any(|copy| {
            let (flags, paths) = split_flags(copy);
            flags.contains(&("chown".to_string(), "1000:1000".to_string()))
                && paths
                    .last()
                    .is_some_and(|dest| workdir.starts_with(dest.trim_end_matches('/')))
        }),
        "the working directory {workdir} is created owned by uid 1000"
    );

    // Every plugin crate is built: the script hands plugins/*/ to
    // build-plugins with no selection of its own.
    let build_plugins = std::fs::read_to_string(root.join("scripts/build-plugins")).unwrap();
    assert!(script.contains("scripts/build-plugins"));
    assert!(script.contains("-u WASMGATE_ONLY") && script.contains("-u WASMGATE_TEST_PLUGINS"));
    assert!(build_plugins.contains("\"$root\"/plugins/*/"));
    for plugin in plugin_crates() {
        for (name, text) in [("build-dist", &script), ("build-plugins", &build_plugins)] {
            assert!(
                !text.contains(&format!("plugin-{plugin}")),
                "scripts/{name} names the plugin {plugin}: the list must come from plugins/*/"
            );
        }
    }
    assert!(
        script.contains("wasm32-wasip2"),
        "the script installs the wasm target"
    );
}

const API_KEY: &str = "sk-deployment-test";

// ── the dist ──────────────────────────────────────────────────────────────────

/// `scripts/build-dist target/dist`, in its own target directory so it never
/// waits on the cargo running the tests (the first run is a full release
/// build). Test processes running at once build one at a time.
fn build_dist() -> PathBuf {
    let root = workspace();
    let out = root.join("target/dist");
    std::fs::create_dir_all(root.join("target")).unwrap();
    let lock = std::fs::File::create(root.join("target/dist.lock")).unwrap();
    lock.lock().expect("locking the dist build");
    let started = Instant::now();
    let output = Command::new(root.join("scripts/build-dist"))
        .arg(&out)
        .env("CARGO_TARGET_DIR", root.join("target/dist-build"))
        .output()
        .expect("running scripts/build-dist");
    assert!(
        output.status.success(),
        "scripts/build-dist failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("scripts/build-dist took {:?}", started.elapsed());
    out
}

/// The plugin names of `plugins/*/Cargo.toml` (package `plugin-<name>`).
fn plugin_crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("plugins"))
        .unwrap()
        .filter_map(|entry| {
            let manifest = entry.ok()?.path().join("Cargo.toml");
            let text = std::fs::read_to_string(manifest).ok()?;
            let table: toml::Table = text.parse().ok()?;
            let package = table.get("package")?.get("name")?.as_str()?;
            Some(
                package
                    .strip_prefix("plugin-")
                    .unwrap_or(package)
                    .to_string(),
            )
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
}

fn check_layout(dist: &Path, plugins: &[String]) {
    let mut top: Vec<String> = names_in(dist);
    top.sort();
    let mut expected: Vec<String> = ARTIFACTS.iter().map(|a| a.to_string()).collect();
    expected.sort();
    assert_eq!(top, expected, "the dist holds exactly the image's /app");

    use std::os::unix::fs::PermissionsExt as _;
    let binary = std::fs::metadata(dist.join("wasmgate")).unwrap();
    assert!(
        binary.permissions().mode() & 0o111 != 0,
        "wasmgate is executable"
    );

    let mut wasm = names_in(&dist.join("plugins"));
    wasm.sort();
    let mut expected: Vec<String> = plugins.iter().map(|p| format!("{p}.wasm")).collect();
    expected.sort();
    assert_eq!(wasm, expected, "one component per plugin crate");

    let cached = names_in(&dist.join("cache"))
        .iter()
        .filter(|n| n.ends_with(".cwasm"))
        .count();
    assert_eq!(cached, plugins.len(), "every plugin precompiled");

    assert_eq!(
        std::fs::read_to_string(dist.join("plugins.toml")).unwrap(),
        std::fs::read_to_string(workspace().join("plugins.toml")).unwrap(),
        "the shipped plugins.toml, unchanged"
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let total: u64 = walk(dist).iter().map(|p| size(p)).sum();
    eprintln!(
        "dist: wasmgate {} bytes, total {} bytes",
        size(&dist.join("wasmgate")),
        total
    );
}

// ── the configuration ─────────────────────────────────────────────────────────

/// The shipped `plugins.toml`, unchanged except that the gemini plugin's
/// accounts talk to the mock instead of Google.
fn shipped_config_against(base_url: &str) -> String {
    let text = std::fs::read_to_string(workspace().join("plugins.toml")).unwrap();
    let mut config: toml::Table = text.parse().expect("the shipped plugins.toml parses");
    let accounts = config
        .get_mut("plugins")
        .and_then(|p| p.get_mut("gemini"))
        .and_then(|g| g.get_mut("accounts"))
        .and_then(|a| a.as_array_mut())
        .expect("the shipped plugins.toml configures gemini accounts");
    for account in accounts {
        let account = account.as_table_mut().unwrap();
        let settings = account
            .entry("settings")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        settings
            .as_table_mut()
            .unwrap()
            .insert("base-url".into(), toml::Value::String(base_url.into()));
    }
    toml::to_string(&config).unwrap()
}

/// The model names `[models]` routes exactly (no glob).
fn shipped_exact_routes() -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("plugins.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    config
        .get("models")
        .and_then(|m| m.as_table())
        .map(|models| {
            models
                .keys()
                .filter(|k| !k.contains('*'))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

// ── the Dockerfile ────────────────────────────────────────────────────────────

struct Dockerfile {
    stages: Vec<Stage>,
}

struct Stage {
    /// `AS <name>`, else its index.
    name: String,
    base: String,
    /// (keyword in upper case, the rest of the instruction).
    instructions: Vec<(String, String)>,
}

/// What the last stage says about running the server.
struct Runtime {
    stage: Stage,
    env: Vec<(String, String)>,
    cmd: Vec<String>,
}

impl Dockerfile {
    fn read() -> Dockerfile {
        let text = std::fs::read_to_string(workspace().join("Dockerfile")).unwrap();
        Dockerfile::parse(&text)
    }

    fn parse(text: &str) -> Dockerfile {
        let mut stages: Vec<Stage> = Vec::new();
        for (keyword, rest) in instructions(text) {
            if keyword == "FROM" {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let base = words
                    .iter()
                    .find(|w| !w.starts_with("--"))
                    .unwrap()
                    .to_string();
                let name = match words.iter().position(|w| w.eq_ignore_ascii_case("as")) {
                    Some(at) => words[at + 1].to_string(),
                    None => stages.len().to_string(),
                };
                stages.push(Stage {
                    name,
                    base,
                    instructions: Vec::new(),
                });
            } else {
                stages
                    .last_mut()
                    .expect("an instruction before FROM")
                    .instructions
                    .push((keyword, rest));
            }
        }
        assert!(stages.len() >= 2, "a multi-stage build");
        Dockerfile { stages }
    }

    fn runtime(mut self) -> Runtime {
        let stage = self.stages.pop().unwrap();
        let mut env = Vec::new();
        for value in stage.all("ENV") {
            env.extend(parse_env(value));
        }
        let cmd: Vec<String> = serde_json::from_str(stage.last("CMD").expect("a CMD").as_str())
            .expect("CMD in exec form");
        Runtime { stage, env, cmd }
    }
}

impl Stage {
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions
            .iter()
            .filter(move |(k, _)| k == keyword)
            .map(|(_, rest)| rest.as_str())
    }

    fn last(&self, keyword: &str) -> Option<String> {
        self.all(keyword).last().map(str::to_string)
    }

    fn runs(&self, command: &str) -> bool {
        self.all("RUN").any(|run| run.contains(command))
    }

    /// The directory `scripts/build-dist` is given.
    fn build_dist_output(&self) -> Option<String> {
        self.all("RUN").find_map(|run| {
            let after = run.split("scripts/build-dist").nth(1)?;
            after.split_whitespace().next().map(str::to_string)
        })
    }
}

impl Runtime {
    /// Whether some `COPY --from=<builder>` brings `<dist>/<artifact>` to
    /// `/app/<artifact>`, root-owned (so the server cannot change it).
    fn copies_from_builder(&self, builder: &str, dist: &str, artifact: &str) -> bool {
        self.stage.all("COPY").any(|copy| {
            let (flags, paths) = split_flags(copy);
            let from_builder = flags.iter().any(|(k, v)| k == "from" && v == builder);
            let chowned = flags.iter().any(|(k, _)| k == "chown");
            let Some((dest, sources)) = paths.split_last() else {
                return false;
            };
            let dest = dest.trim_end_matches('/');
            from_builder
                && !chowned
                && sources.iter().any(|source| {
                    let source = source.trim_end_matches('/');
                    (source == dist && dest == APP)
                        || (source == format!("{dist}/{artifact}")
                            && (dest == APP || dest == format!("{APP}/{artifact}")))
                })
        })
    }

    /// Moves an image path into the test's folders: `/app/…` into `app`, the
    /// working directory into `data`.
    fn relocate(&self, value: &str, app: &Path, data: &Path) -> String {
        let workdir = self.stage.last("WORKDIR").unwrap_or_default();
        if let Some(rest) = value.strip_prefix(APP) {
            return format!("{}{rest}", app.display());
        }
        if !workdir.is_empty()
            && let Some(rest) = value.strip_prefix(&workdir)
        {
            return format!("{}{rest}", data.display());
        }
        value.to_string()
    }
}

/// Instructions with continuation lines joined and comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut result = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, rest) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                result.push((keyword.to_ascii_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    result
}

/// `ENV A=1 B="two"` (or the legacy `ENV A 1`).
fn parse_env(value: &str) -> Vec<(String, String)> {
    if !value.split_whitespace().next().unwrap_or("").contains('=') {
        let (name, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        return vec![(name.to_string(), rest.trim().to_string())];
    }
    value
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// `--from=x --chown=1000:1000 a b dest` → flags and paths.
fn split_flags(args: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut flags = Vec::new();
    let mut paths = Vec::new();
    for word in args.split_whitespace() {
        match word.strip_prefix("--") {
            Some(flag) => {
                let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
                flags.push((k.to_string(), v.to_string()));
            }
            None => paths.push(word.to_string()),
        }
    }
    (flags, paths)
}

// ── the server process ────────────────────────────────────────────────────────

/// The dist's binary, running; killed when dropped.
struct Server {
    child: Child,
    log: Arc<(Mutex<String>, Condvar)>,
    ready_after: Duration,
}

impl Server {
    /// Starts `command` in `cwd` with only `PATH` and `env`, and waits for
    /// "listening on http://".
    fn start(command: &[String], cwd: &Path, env: &[(String, String)]) -> Server {
        let mut process = Command::new(&command[0]);
        process
            .args(&command[1..])
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = process.spawn().expect("starting the dist's wasmgate");
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
                    text.push_str(&strip_ansi(&line));
                    text.push('\n');
                    changed.notify_all();
                }
            });
        }
        let (text, changed) = &*log;
        let (text, timeout) = changed
            .wait_timeout_while(text.lock().unwrap(), Duration::from_secs(60), |t| {
                !t.contains("listening on http://") && !t.contains("wasmgate: ")
            })
            .unwrap();
        let ready_after = started.elapsed();
        if timeout.timed_out() || !text.contains("listening on http://") {
            let _ = child.kill();
            panic!("the dist's gateway did not start:\n{text}");
        }
        drop(text);
        Server {
            child,
            log,
            ready_after,
        }
    }

    fn log(&self) -> String {
        self.log.0.lock().unwrap().clone()
    }

    /// Stops it (SIGTERM, as a container stop does) and returns its log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "exit on SIGTERM: {status}");
                return self.log();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no exit within 10 s of SIGTERM:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drops terminal colour sequences (`ESC [ … m`): the image's logs are
/// whatever the default formatter writes, and the assertions read text.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ── files ─────────────────────────────────────────────────────────────────────

/// A scratch folder under `target/`, removed (read-only parts included) when
/// dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = workspace().join(format!("target/tmp/{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        set_writable(&self.0, true);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `chmod -R a-w`. (Root ignores it, hence the snapshot comparison too.)
fn make_read_only(dir: &Path) {
    set_writable(dir, false);
}

fn set_writable(path: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    let mode = if writable {
        mode | 0o200
    } else {
        mode & !0o222
    };
    if writable {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            set_writable(&entry.path(), writable);
        }
    }
    if !writable {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}

/// Every file and folder under `dir` (itself included) with its size and
/// modification time: any write shows.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let meta = std::fs::metadata(dir).unwrap();
    let mut entries = vec![(dir.to_path_buf(), meta.len(), meta.modified().unwrap())];
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            entries.extend(snapshot(&entry.unwrap().path()));
        }
    }
    entries.sort();
    entries
}
