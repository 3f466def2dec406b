//! The health of every account the gateway has seen, keyed by plugin,
//! account id and a fingerprint of the account's credentials: an operator
//! who replaces a refused key starts the new one healthy, and removing a key
//! from an `env-list` (which renumbers the ids) never hands one key's health
//! to another. The book outlives registries (a reload keeps each
//! account's health) and is written to `wasmgate-accounts.json` in the data
//! directory, so cooldowns and broken credentials are still known after a
//! restart.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::health::Health;

/// One account's health and the requests it is serving now.
#[derive(Default)]
pub struct AccountHealth {
    health: Mutex<Health>,
    pub(super) in_flight: AtomicU32,
}

impl AccountHealth {
    pub fn lock(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Plugin, account id, credentials fingerprint.
type Key = (String, String, String);

/// Counters alone (requests, tokens) are written at most this often; a
/// change of health is written at the next save.
const COUNTERS_EVERY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct HealthBook {
    accounts: Mutex<HashMap<Key, Arc<AccountHealth>>>,
    /// Set by every change of health; cleared when the file is written.
    dirty: AtomicBool,
    /// Set when only counters changed.
    counted: AtomicBool,
    last_save: Mutex<Option<Instant>>,
}

#[derive(Serialize, Deserialize)]
struct StoredHealth {
    plugin: String,
    account: String,
    /// A truncated SHA-256 of the credentials, never the credentials.
    credentials: String,
    health: Health,
}

impl HealthBook {
    /// The health record of an account, created healthy on first sight.
    pub fn health_of(&self, plugin: &str, account: &str, credentials: &str) -> Arc<AccountHealth> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .entry((
                plugin.to_string(),
                account.to_string(),
                credentials.to_string(),
            ))
            .or_default()
            .clone()
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Only counters changed: worth saving, not at once.
    pub fn mark_counted(&self) {
        self.counted.store(true, Ordering::Release);
    }

    /// The book saved in `path`, or an empty one.
    pub fn load(path: &Path) -> Self {
        let stored: Vec<StoredHealth> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(path = %path.display(), "ignoring an unreadable account-health file: {err}");
                crate::persist::keep_corrupt(path);
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let accounts = stored
            .into_iter()
            .map(|s| {
                let health = AccountHealth {
                    health: Mutex::new(s.health),
                    in_flight: AtomicU32::new(0),
                };
                ((s.plugin, s.account, s.credentials), Arc::new(health))
            })
            .collect();
        HealthBook {
            accounts: Mutex::new(accounts),
            ..HealthBook::default()
        }
    }

    /// Writes every account's health to `path` if it changed, or if counters
    /// changed and were last written a while ago (or `finally`, at shutdown).
    pub fn save_if_changed(&self, path: &Path, finally: bool) -> std::io::Result<()> {
        let mut last_save = self.last_save.lock().unwrap_or_else(|e| e.into_inner());
        let counters_due = finally || last_save.is_none_or(|at| at.elapsed() >= COUNTERS_EVERY);
        let counted = counters_due && self.counted.swap(false, Ordering::AcqRel);
        if !self.dirty.swap(false, Ordering::AcqRel) && !counted {
            return Ok(());
        }
        *last_save = Some(Instant::now());
        let stored: Vec<StoredHealth> = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            let mut stored: Vec<StoredHealth> = accounts
                .iter()
                .map(|((plugin, account, credentials), health)| StoredHealth {
                    plugin: plugin.clone(),
                    account: account.clone(),
                    credentials: credentials.clone(),
                    health: health.lock().clone(),
                })
                .collect();
            stored.sort_by(|a, b| {
                (&a.plugin, &a.account, &a.credentials).cmp(&(
                    &b.plugin,
                    &b.account,
                    &b.credentials,
                ))
            });
            stored
        };
        let bytes = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        let result = crate::persist::write_private(path, &bytes);
        if result.is_err() {
            self.mark_dirty();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::health::Condition;

    #[test]
    fn health_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.json");
        let book = HealthBook::default();
        book.health_of("gemini", "key-1", "f1").lock().condition =
            Condition::BreakerOpen { until: 123_456 };
        book.health_of("gemini", "key-2", "f2").lock().requests = 7;
        book.mark_dirty();
        book.save_if_changed(&path, false).unwrap();

        let loaded = HealthBook::load(&path);
        assert_eq!(
            loaded.health_of("gemini", "key-1", "f1").lock().condition,
            Condition::BreakerOpen { until: 123_456 }
        );
        assert_eq!(loaded.health_of("gemini", "key-2", "f2").lock().requests, 7);
        assert_eq!(
            loaded
                .health_of("gemini", "key-1", "new key")
                .lock()
                .condition,
            Condition::Healthy,
            "other credentials under the same id start healthy"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
