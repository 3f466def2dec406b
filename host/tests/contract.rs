//! The plugin contract's version travels with the plugin: a plugin built for
//! another version is refused at load with a message that names both, and
//! the gateway goes on serving the plugins it can.

use wasmgate_testkit::{Gateway, built_plugin, user_request};

/// `bytes` with every `from` replaced by `to` (same length, so the binary
/// stays well-formed).
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut found = 0;
    let mut at = 0;
    while let Some(pos) = out[at..].windows(from.len()).position(|w| w == from) {
        out[at + pos..at + pos + from.len()].copy_from_slice(to);
        at += pos + from.len();
        found += 1;
    }
    assert!(found > 0, "{} not found", String::from_utf8_lossy(from));
    out
}

fn gateway() -> Gateway {
    Gateway::builder(env!("CARGO_BIN_EXE_wasmgate"))
        .plugins(&["misbehave"])
        .config("[[plugins.misbehave.accounts]]\nid = \"one\"\n")
        .env("API_KEY", "sk-contract-tests")
        .start()
}

/// Drops `bytes` in as `plugins/<name>.wasm` and waits for the verdict.
/// Dropped in as `name`, a component for contract 0.1.0 is refused with
/// both versions named, and the gateway keeps serving.
async fn refused_naming_both(gateway: &Gateway, name: &str, bytes: &[u8]) {
    let logs = drop_in(gateway, name, bytes);
    assert!(
        logs.contains("built for plugin contract 0.1.0, and this gateway speaks 0.2.0"),
        "{logs}"
    );
    gateway
        .chat_ok(&user_request("misbehave-echo", "still here", false))
        .await;
}

fn drop_in(gateway: &Gateway, name: &str, bytes: &[u8]) -> String {
    let tmp = gateway.dir().join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(tmp, gateway.plugins_dir().join(format!("{name}.wasm"))).unwrap();
    gateway.wait_for_log(&format!("{name}.wasm cannot be served"))
}

#[tokio::test]
async fn a_plugin_recording_another_contract_version_is_refused_naming_both() {
    let gateway = gateway();
    let current = std::fs::read(built_plugin("misbehave")).unwrap();
    // What the SDK of an older contract records in the binary.
    let old = replaced(
        &current,
        b"wasmgate:contract-version0.2.0",
        b"wasmgate:contract-version0.1.0",
    );
    refused_naming_both(&gateway, "older", &old).await;
}

/// A component from another toolchain records no section; the version in
/// the name of the interface it exports says the same.
#[tokio::test]
async fn a_plugin_exporting_another_contract_version_is_refused_naming_both() {
    let gateway = gateway();
    let current = std::fs::read(built_plugin("misbehave")).unwrap();
    let unrecorded = replaced(
        &current,
        b"wasmgate:contract-version",
        b"some-other:custom-section",
    );
    let old = replaced(
        &unrecorded,
        b"wasmgate:provider/plugin@0.2.0",
        b"wasmgate:provider/plugin@0.1.0",
    );
    refused_naming_both(&gateway, "foreign", &old).await;
}
