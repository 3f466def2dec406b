//! Setting up a Hugging Face Space is one step: `scripts/space-init` writes
//! the Space's README (its front matter is the Space's settings) and a
//! Dockerfile that runs the image `.github/workflows/image.yml` publishes, or
//! the whole source for a Space that builds it.

use std::path::Path;
use std::process::Command;

use wasmgate_testkit::workspace;

fn space_init(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(workspace().join("scripts/space-init"))
        .arg(dir)
        .args(args)
        .env_remove("WASMGATE_IMAGE")
        .output()
        .expect("running scripts/space-init")
}

/// The `key: value` lines of a README's front matter.
fn front_matter(readme: &str) -> Vec<(String, String)> {
    let body = readme
        .strip_prefix("---\n")
        .expect("the README starts with front matter");
    let end = body.find("\n---\n").expect("the front matter ends");
    body[..end]
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_space_readme(dir: &Path) {
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let settings = front_matter(&readme);
    for (key, value) in [("sdk", "docker"), ("app_port", "7860")] {
        assert!(
            settings.iter().any(|(k, v)| k == key && v == value),
            "{key}: {value} in {settings:?}"
        );
    }
}

#[test]
fn a_space_that_runs_the_published_image() {
    let dir = tempfile::tempdir().unwrap();
    let output = space_init(dir.path(), &["--image", "ghcr.io/someone/wasmgate:0.1"]);
    assert!(output.status.success(), "{output:?}");
    assert_space_readme(dir.path());
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    let from: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from, ["FROM ghcr.io/someone/wasmgate:0.1"]);
    // Nothing to compile: the Space holds just these two files.
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["Dockerfile", "README.md"]);

    let bad = space_init(dir.path(), &["--image", "not an image; rm -rf /"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an image reference"));
}

#[test]
fn the_default_image_is_what_the_workflow_publishes() {
    let workflow =
        std::fs::read_to_string(workspace().join(".github/workflows/image.yml")).unwrap();
    assert!(workflow.contains("IMAGE: ghcr.io/${{ github.repository_owner }}/wasmgate"));
    assert!(workflow.contains("tags: [\"v*\"]"));
    for platform in ["linux/amd64", "linux/arm64"] {
        assert!(workflow.contains(platform), "{platform}");
    }
    let dir = tempfile::tempdir().unwrap();
    let output = space_init(dir.path(), &[]);
    if output.status.success() {
        // A checkout of a GitHub repository: the owner's published image.
        let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
        let from = dockerfile.lines().find(|l| l.starts_with("FROM ")).unwrap();
        assert!(
            from.starts_with("FROM ghcr.io/") && from.ends_with("/wasmgate:latest"),
            "{from}"
        );
    } else {
        // Any other checkout (CI's clone): it says what to pass.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--image ghcr.io/OWNER/wasmgate:TAG"),
            "{stderr}"
        );
    }
}

#[test]
fn a_space_that_builds_from_source() {
    let dir = tempfile::tempdir().unwrap();
    let output = space_init(dir.path(), &["--from-source"]);
    assert!(output.status.success(), "{output:?}");
    assert_space_readme(dir.path());
    let root = workspace();
    for file in [
        "Dockerfile",
        "plugins.toml",
        "scripts/build-dist",
        "Cargo.toml",
    ] {
        assert_eq!(
            std::fs::read(dir.path().join(file)).unwrap(),
            std::fs::read(root.join(file)).unwrap(),
            "{file}"
        );
    }
    assert!(!dir.path().join("target").exists());
}
