//! Fingerprints of secrets: enough to tell two values apart (in the admin
//! API, in `wasmgate-accounts.json`), nothing to recover one from. They are
//! keyed — HMAC-SHA-256 with a random key of this installation, kept
//! owner-only in the data directory — because a bare hash of a short or
//! guessable secret (a six-digit code, a dictionary word) can be reversed by
//! trying every candidate.

use std::path::Path;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The key's file in the data directory.
pub const KEY_FILE: &str = "wasmgate-fingerprint-key";

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Loads this installation's key from `data_dir`, creating it the first time;
/// without a data directory the key lives as long as the process.
pub fn install(data_dir: Option<&Path>) {
    let key = data_dir.and_then(|dir| {
        let path = dir.join(KEY_FILE);
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Some(key);
        }
        let key = random_key();
        match crate::persist::write_private(&path, &key) {
            Ok(()) => Some(key),
            Err(err) => {
                tracing::warn!(path = %path.display(), "cannot keep the fingerprint key: {err}");
                None
            }
        }
    });
    let _ = KEY.set(key.unwrap_or_else(random_key));
}

fn key() -> &'static [u8; 32] {
    KEY.get_or_init(random_key)
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut key));
    if filled.is_err() {
        // No urandom: still unique per process, if not secret from a local user.
        let seed = format!(
            "{:?}{}{:?}",
            std::time::SystemTime::now(),
            std::process::id(),
            std::thread::current().id()
        );
        key.copy_from_slice(&Sha256::digest(seed.as_bytes()));
    }
    key
}

/// HMAC-SHA-256 (RFC 2104) of `parts`, each followed by a zero byte.
fn keyed(parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut padded = [0u8; BLOCK];
    padded[..32].copy_from_slice(key());
    let mut inner = Sha256::new();
    inner.update(padded.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
        inner.update([0]);
    }
    let mut outer = Sha256::new();
    outer.update(padded.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How one secret is shown: `hmac:xxxxxxxx… (N chars)`.
pub fn mask(secret: &str) -> String {
    format!(
        "hmac:{}… ({} chars)",
        hex(&keyed(&[secret.as_bytes()])[..4]),
        secret.chars().count()
    )
}

/// Identifies a set of named secrets (an account's credentials).
pub fn credentials<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut secrets: Vec<(&str, &str)> = secrets.into_iter().collect();
    secrets.sort_unstable();
    let parts: Vec<&[u8]> = secrets
        .iter()
        .flat_map(|(name, value)| [name.as_bytes(), value.as_bytes()])
        .collect();
    hex(&keyed(&parts)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_shape_and_masks_tell_values_apart() {
        let a = mask("123456");
        let b = mask("123457");
        assert!(a.starts_with("hmac:") && a.ends_with("(6 chars)"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, mask("123456"));
        // Not the bare hash a guesser could compare against.
        let bare: String = hex(&Sha256::digest(b"123456")[..4]);
        assert!(!a.contains(&bare));
        let one = credentials([("a", "x"), ("b", "y")]);
        assert_eq!(one, credentials([("b", "y"), ("a", "x")]));
        assert_ne!(one, credentials([("a", "x"), ("b", "z")]));
    }
}
