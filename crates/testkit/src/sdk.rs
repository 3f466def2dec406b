//! The official client SDKs (OpenAI, Anthropic, Google GenAI for Node),
//! installed from `tests/sdk/package-lock.json`, running a script against a
//! gateway: a front door is tested the way its users' tools call it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `tests/sdk`, with its packages installed (`npm ci`, once per test binary).
///
/// Outside CI a machine without node skips the SDK tests (the function
/// returns `None` and says why); under CI (`CI` set) that is a failure.
pub fn sdk_dir() -> Option<PathBuf> {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let dir = crate::workspace().join("tests/sdk");
        if Command::new("node").arg("--version").output().is_err() {
            return Err("node is not installed".into());
        }
        if !dir.join("node_modules/.package-lock.json").exists() {
            let installed = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                return Err(format!("cd {} && npm ci failed", dir.display()));
            }
        }
        Ok(dir)
    });
    match ready {
        Ok(dir) => Some(dir.clone()),
        Err(why) if std::env::var_os("CI").is_some() => panic!("SDK tests cannot run: {why}"),
        Err(why) => {
            eprintln!("skipping an SDK test: {why}");
            None
        }
    }
}

/// What a script printed, and whether it succeeded.
pub struct ScriptRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ScriptRun {
    /// The last line of stdout parsed as JSON: scripts print their findings there.
    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.success,
            "the SDK script failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the script's last line is not JSON ({e}): {line}"))
    }
}

/// Runs `tests/sdk/<script>` with node, `base_url` (the gateway's address,
/// e.g. `http://127.0.0.1:PORT`) in `GATEWAY_URL` and `vars` in its
/// environment. `None` when the SDKs are unavailable outside CI.
pub fn run_script(script: &str, base_url: &str, vars: &[(&str, &str)]) -> Option<ScriptRun> {
    let dir = sdk_dir()?;
    let output = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("GATEWAY_URL", base_url)
        .envs(vars.iter().copied())
        .output()
        .expect("running node");
    Some(ScriptRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
