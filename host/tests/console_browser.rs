//! The admin console in a real headless Chromium: the gateway and the mock
//! Gemini API run here, and `tests/browser/console.mjs` (playwright-core
//! driving Debian's `/usr/bin/chromium`) signs in, watches an account fail
//! and cool down, pastes a new key and sees it serve, uploads a plugin and
//! calls it, edits a route, is refused a bad configuration with its line,
//! rolls back, reads the logs and signs out. Screenshots of every page land
//! in `target/console-screenshots/`.
//!
//! `.ci/run` installs Chromium and the script's npm packages. Under CI
//! (`CI` set) a missing browser, Node or package fails the test; on a
//! developer's machine without them it is skipped with a loud message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mock_gemini::MockOptions;
use wasmgate_testkit::{Gateway, built_plugin, workspace};

const ADMIN_KEY: &str = "browser-admin-key-0123";
const PASTED: &str = "good-browser-pasted-key-77";

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What is missing to run the browser, if anything.
fn missing_tools(scripts: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !scripts.join("node_modules/playwright-core").exists() {
        // Install from the lock file, as .ci/run does.
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(scripts)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Some(format!(
                "playwright-core is not installed (cd {} && npm ci)",
                scripts.display()
            ));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    let root = workspace();
    let scripts = root.join("tests/browser");
    if let Some(missing) = missing_tools(&scripts) {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run under CI: {missing}");
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED the console browser test: {missing}. CI runs it; see tests/browser/. !!!!!!!!\n"
        );
        return;
    }
    let mock = mock_gemini::spawn(MockOptions {
        chunk_delay: Duration::from_millis(1),
        limited_retry_delay: Duration::from_secs(600),
        ..MockOptions::default()
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
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
"alias" = {{ plugin = "gemini", model = "gemini-2.5-flash" }}
"gemini-*" = "gemini"
"#,
            base = mock.base_url
        ))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("API_KEY", "sk-browser-caller-key")
        // The environment's key: rate-limited by the mock at once.
        .env("CONSOLE_KEY", "limited-0-from-env")
        .env("WASMGATE_DATA_DIR", &data.path().display().to_string())
        .start();
    // The same console on a Space without persistent storage.
    let ephemeral = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["gemini"])
        .config(&format!(
            "[[plugins.gemini.accounts]]\nid = \"main\"\nsecrets = {{ api-key = {{ env = \"CONSOLE_KEY\" }} }}\nsettings = {{ base-url = \"{}\" }}\n",
            mock.base_url
        ))
        .env("ADMIN_KEY", ADMIN_KEY)
        .env("SPACE_ID", "someone/wasmgate")
        .start();
    let plugin = built_plugin("misbehave");
    let shots = root.join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let run = |url: String, mode: &'static str| {
        let (script, plugin, shots) = (scripts.join("console.mjs"), plugin.clone(), shots.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg(script)
                .arg(url)
                .arg(plugin)
                .arg(&shots)
                .arg(mode)
                .env("CONSOLE_ADMIN_KEY", ADMIN_KEY)
                .env("CONSOLE_PASTED_SECRET", PASTED)
                .env("CHROMIUM", chromium())
                .output()
                .expect("running node")
        })
    };
    for (gateway, mode) in [(&gateway, "operate"), (&ephemeral, "persistence")] {
        let output = run(gateway.url.clone(), mode).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "the browser run ({mode}) failed (screenshots in target/console-screenshots/):\n{stdout}\n{stderr}\n--- gateway log ---\n{}",
            gateway.logs()
        );
        assert!(stdout.contains("every step passed"), "{stdout}");
    }
    assert!(!ephemeral.logs().contains("secret set from the console"));
    // What the browser did went through the gateway: the secret never in its log.
    let log = gateway.logs();
    assert!(!log.contains(PASTED), "the pasted key is in the log");
    assert!(log.contains("secret set from the console"), "{log}");
    assert!(
        log.contains("configuration applied from the console"),
        "{log}"
    );
}
