//! Files the gateway reads that are broken or hostile: it starts anyway,
//! says what it did, and never loses or follows what it finds.

use wasmgate_testkit::{Gateway, user_request};

/// An account-health file that cannot be read is kept aside as a copy
/// before a fresh one is written over it.
#[tokio::test]
async fn a_corrupt_data_file_is_kept_as_a_copy_and_replaced() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"one\"\n")
        .file("data/wasmgate-accounts.json", "{ half a file")
        .env("API_KEY", "sk-faulty-files")
        .start();
    gateway
        .chat_ok(&user_request("misbehave-echo", "hello", false))
        .await;
    let data = gateway.dir().join("data");
    let logs = gateway.wait_for_log("kept a copy of the unreadable file");
    assert!(
        logs.contains("kept a copy of the unreadable file"),
        "{logs}"
    );
    let copies: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wasmgate-accounts.json.corrupt-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(
        std::fs::read_to_string(data.join(&copies[0])).unwrap(),
        "{ half a file"
    );
}

/// A link planted where the gateway used to write its file aside is not
/// followed: what it points at is left alone.
#[cfg(unix)]
#[tokio::test]
async fn a_planted_link_in_the_data_directory_is_not_followed() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"one\"\n")
        .env("API_KEY", "sk-faulty-files")
        .start();
    let data = gateway.dir().join("data");
    for name in ["wasmgate-state.json.tmp", "wasmgate-accounts.json.tmp"] {
        let _ = std::fs::remove_file(data.join(name));
        std::os::unix::fs::symlink(&victim, data.join(name)).unwrap();
    }
    // `remember` writes the plugin's state; a request changes account health.
    gateway
        .chat_ok(&user_request("misbehave-remember", "a note", false))
        .await;
    let saved = data.join("wasmgate-state.json");
    for _ in 0..50 {
        if saved.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(saved.exists(), "the state was saved");
    assert!(
        !std::fs::symlink_metadata(&saved)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// Entries of `plugins/` that are not plugin files — a FIFO (which would
/// block the reader for good), a huge file — are skipped with a word, and
/// the rest serve.
#[cfg(unix)]
#[tokio::test]
async fn fifos_and_huge_files_in_plugins_are_skipped() {
    let scratch = tempfile::tempdir().unwrap();
    let fifo = scratch.path().join("fifo.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let huge = scratch.path().join("huge.wasm");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .env("API_KEY", "sk-faulty-files")
        .start();
    // Dropped in while it runs, as an operator (or an intruder) would.
    std::os::unix::fs::symlink(&fifo, gateway.plugins_dir().join("fifo.wasm")).unwrap();
    std::os::unix::fs::symlink(&huge, gateway.plugins_dir().join("huge.wasm")).unwrap();
    let logs = gateway.wait_for_log("not a regular file");
    assert!(logs.contains("not a regular file"), "{logs}");
    let logs = gateway.wait_for_log("larger than");
    assert!(logs.contains("larger than 64 MiB"), "{logs}");
    // The reload task still works: a new plugin file is picked up.
    std::fs::copy(
        gateway.plugins_dir().join("misbehave.wasm"),
        gateway.plugins_dir().join("second.wasm"),
    )
    .unwrap();
    let logs = gateway.wait_for_log("plugin=second@");
    assert!(logs.contains("plugin=second@"), "{logs}");
    gateway
        .chat_ok(&user_request("misbehave-echo", "still here", false))
        .await;
}

/// A state file with an expiry no clock reaches (hand-edited or damaged)
/// does not stop the gateway: the entry is kept for the longest a plugin may
/// ask, and said so.
#[tokio::test]
async fn a_state_entry_expiring_beyond_any_clock_is_tamed() {
    let gateway = Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"one\"\n")
        .file(
            "data/wasmgate-state.json",
            r#"[{"plugin":"misbehave","account":"one","key":"memo","value":"from the file","expires":18446744073709551615}]"#,
        )
        .env("API_KEY", "sk-faulty-files")
        .start();
    assert!(gateway.logs().contains("expires in the far future"));
    let answer = gateway
        .chat_ok(&user_request("misbehave-remember", "next", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "from the file");
}
