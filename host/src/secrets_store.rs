//! Secrets pasted in the admin console: variables (by the names
//! `plugins.toml` reads, e.g. `SECURE_1PSID` or `CN_ACCOUNT_2_COOKIE`) kept
//! in `wasmgate-secrets.json` in the data directory, readable by the owner
//! only. They are merged into the environment the plugins' accounts are read
//! from, over the process's variables: a refreshed cookie pasted in the
//! console wins over a stale Space secret. Values are never shown back or
//! logged; only a fingerprint is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::clock::unix_seconds;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "wasmgate-secrets.json";

/// Variables the console may not set: the gateway's own keys.
const REFUSED: &[&str] = &[
    "API_KEY",
    "API_MASTER_KEY",
    "PASSWORD",
    "HF_TOKEN",
    "ADMIN_KEY",
];

#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    value: String,
    /// Unix seconds.
    updated: u64,
}

/// What the console shows of a stored secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecretInfo {
    pub name: String,
    /// `hmac:xxxxxxxx… (N chars)`: tells two values apart, reveals nothing.
    pub fingerprint: String,
    pub updated: u64,
}

#[derive(Default)]
pub struct SecretsStore {
    /// `None`: kept in memory only (no data directory).
    path: Option<PathBuf>,
    values: RwLock<BTreeMap<String, Stored>>,
}

impl SecretsStore {
    /// Reads the store in `dir` (or an empty one in memory without a dir).
    /// A file that cannot be read is reported and left alone.
    pub fn load(dir: Option<&Path>) -> Self {
        let path = dir.map(|d| d.join(FILE_NAME));
        let values = match &path {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(values) => values,
                    Err(err) => {
                        // Kept aside: the next save would write over it.
                        crate::persist::keep_corrupt(path);
                        tracing::error!(path = %path.display(), "ignoring the console's secrets file: it is not valid JSON (line {})", err.line());
                        BTreeMap::new()
                    }
                },
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(err) => {
                    tracing::error!(path = %path.display(), "cannot read the console's secrets file: {err}");
                    BTreeMap::new()
                }
            },
            None => BTreeMap::new(),
        };
        SecretsStore {
            path,
            values: RwLock::new(values),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.read()
            .get(name)
            .map(|s| s.value.clone())
            .filter(|v| !v.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// Every stored name with its fingerprint, never a value.
    pub fn list(&self) -> Vec<SecretInfo> {
        self.read()
            .iter()
            .map(|(name, stored)| SecretInfo {
                name: name.clone(),
                fingerprint: fingerprint(&stored.value),
                updated: stored.updated,
            })
            .collect()
    }

    /// Stores (or replaces) a variable and writes the file.
    pub fn set(&self, name: &str, value: &str) -> Result<SecretInfo, String> {
        check_name(name)?;
        let value = value.trim();
        if value.is_empty() {
            return Err("the value is empty: delete the variable instead".into());
        }
        let stored = Stored {
            value: value.to_string(),
            updated: unix_seconds(),
        };
        let mut values = self.write();
        let previous = values.insert(name.to_string(), stored.clone());
        if let Err(err) = self.save(&values) {
            match previous {
                Some(previous) => values.insert(name.to_string(), previous),
                None => values.remove(name),
            };
            return Err(err);
        }
        Ok(SecretInfo {
            name: name.to_string(),
            fingerprint: fingerprint(&stored.value),
            updated: stored.updated,
        })
    }

    /// Forgets a variable; `false` when it was not stored.
    pub fn remove(&self, name: &str) -> Result<bool, String> {
        let mut values = self.write();
        let Some(previous) = values.remove(name) else {
            return Ok(false);
        };
        if let Err(err) = self.save(&values) {
            values.insert(name.to_string(), previous);
            return Err(err);
        }
        Ok(true)
    }

    fn save(&self, values: &BTreeMap<String, Stored>) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(values).map_err(|e| e.to_string())?;
        crate::persist::write_private(path, &bytes)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Stored>> {
        self.values.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Stored>> {
        self.values.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the console may set this variable.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return Err(format!(
            "{name:?} is not a variable name (capital letters, digits and _)"
        ));
    }
    if REFUSED.contains(&name) || name.starts_with("WASMGATE_") {
        return Err(format!(
            "{name} is the gateway's own setting; set it in the environment"
        ));
    }
    Ok(())
}

/// Enough to tell two values apart, nothing to recover one from (keyed:
/// see [`crate::fingerprint`]), and the same as the admin API shows.
pub fn fingerprint(value: &str) -> String {
    crate::fingerprint::mask(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_a_reload_and_the_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretsStore::load(Some(dir.path()));
        let info = store.set("SECURE_1PSID", " cookie-value \n").unwrap();
        assert!(!info.fingerprint.contains("cookie-value"));
        assert!(store.set("ADMIN_KEY", "x").is_err());
        assert!(store.set("lower", "x").is_err());
        let again = SecretsStore::load(Some(dir.path()));
        assert_eq!(again.get("SECURE_1PSID").as_deref(), Some("cookie-value"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert!(again.remove("SECURE_1PSID").unwrap());
        assert_eq!(
            SecretsStore::load(Some(dir.path())).get("SECURE_1PSID"),
            None
        );
    }

    #[test]
    fn an_unreadable_file_is_kept_aside_before_it_is_written_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{ half").unwrap();
        let store = SecretsStore::load(Some(dir.path()));
        store.set("QWEN_TOKEN", "t").unwrap();
        let copies: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{FILE_NAME}.corrupt-")))
            .collect();
        assert_eq!(copies.len(), 1, "{copies:?}");
        let copy = std::fs::read_to_string(dir.path().join(&copies[0])).unwrap();
        assert_eq!(copy, "{ half");
    }
}
