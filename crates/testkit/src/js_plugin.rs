//! The JavaScript provider plugin (`plugins-js/openai-js`), built with
//! componentize-js from npm and served by a real gateway.
//!
//! The component carries a whole JS engine (≈13 MB), so its first compile
//! is slow: it is built once per test binary (when its sources are newer
//! than the last build), compiled once into the shared compile cache while
//! other tests wait, and every gateway after that loads it from the cache.
//!
//! `.ci/run` installs the npm packages. Under CI (`CI` set) a missing node
//! or npm fails the tests; on a developer's machine without them they are
//! skipped with a loud message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::{Gateway, GatewayBuilder, workspace};

/// The plugin's name (its `.wasm` file's name).
pub const JS_PLUGIN: &str = "openai-js";

/// How long the first compile may take: under a minute with the debug
/// gateway's optimised Cranelift, but a busy two-core machine takes longer.
const FIRST_COMPILE: Duration = Duration::from_secs(30 * 60);
/// Loading from the compile cache takes seconds.
const CACHED_LOAD: Duration = Duration::from_secs(120);

/// The plugin's component, built into `target/testkit/js/` when its sources
/// are newer than the last build (componentize-js does not build
/// byte-identical output twice, and each new file is a new compile).
/// `None` when it cannot be built outside CI.
pub fn built_js_plugin() -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(path) => Some(path.clone()),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the JS plugin tests cannot run under CI: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n!!!!!!!! SKIPPED a JS plugin test: {why}. CI runs it; see plugins-js/openai-js. !!!!!!!!\n"
            );
            None
        }
    }
}

fn build() -> Result<PathBuf, String> {
    let source = workspace().join("plugins-js").join(JS_PLUGIN);
    let out = workspace().join(format!("target/testkit/js/{JS_PLUGIN}.wasm"));
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is not installed".into());
    }
    if !source.join("node_modules/.package-lock.json").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&source)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Err(format!("cd {} && npm ci failed", source.display()));
        }
    }
    let inputs = [
        source.join("src"),
        source.join("build.mjs"),
        source.join("package-lock.json"),
        workspace().join("wit"),
    ];
    if newest(&inputs) > modified(&out) {
        let output = Command::new("node")
            .arg("build.mjs")
            .arg(&out)
            .current_dir(&source)
            .output()
            .expect("running node");
        // A broken plugin is a failure everywhere, not a skip.
        assert!(
            output.status.success(),
            "building the JS plugin failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(out)
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest modification time of these files and everything under these
/// directories.
fn newest(paths: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        newest = newest.max(modified(&path));
        if let Ok(entries) = std::fs::read_dir(&path) {
            pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    newest
}

/// Drops the component into the gateway's `plugins/`, as an operator would
/// (a rename, so the gateway never reads half a file), and waits until the
/// gateway has loaded it; returns its "plugin loaded" log line.
pub async fn drop_in(gateway: &Gateway, component: &Path, patience: Duration) -> String {
    let partial = gateway.dir().join(format!(".{JS_PLUGIN}.wasm.partial"));
    std::fs::copy(component, &partial).unwrap();
    std::fs::rename(
        &partial,
        gateway.plugins_dir().join(format!("{JS_PLUGIN}.wasm")),
    )
    .unwrap();
    let started = Instant::now();
    loop {
        let logs = gateway.logs();
        if let Some(line) = logs
            .lines()
            .find(|l| l.contains("plugin loaded") && l.contains(JS_PLUGIN))
        {
            return line.to_string();
        }
        assert!(
            !logs.contains("plugin not loaded"),
            "the gateway refused the JS plugin:\n{logs}"
        );
        assert!(
            started.elapsed() < patience,
            "the JS plugin did not load within {patience:?}:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first compile, done once per test binary into the shared compile
/// cache, while the other tests wait for it rather than compiling alongside.
async fn compile_once(binary: &Path, component: &Path) {
    static COMPILED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    COMPILED
        .get_or_init(|| async {
            let gateway = Gateway::builder(binary.to_str().unwrap()).start();
            let started = Instant::now();
            let line = drop_in(&gateway, component, FIRST_COMPILE).await;
            eprintln!(
                "{JS_PLUGIN}.wasm ({} MiB) loaded in {:.1?}: {line}",
                std::fs::metadata(component).unwrap().len() >> 20,
                started.elapsed()
            );
        })
        .await;
}

impl GatewayBuilder {
    /// Starts the gateway and drops the JS plugin in (compiled into the
    /// shared cache first); the gateway with the plugin's "plugin loaded"
    /// log line. `None` when the plugin cannot be built outside CI.
    pub async fn start_with_js_plugin(self) -> Option<(Gateway, String)> {
        let component = built_js_plugin()?;
        compile_once(&self.binary, &component).await;
        let gateway = self.start();
        let line = drop_in(&gateway, &component, CACHED_LOAD).await;
        Some((gateway, line))
    }
}
