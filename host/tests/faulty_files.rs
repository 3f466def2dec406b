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
