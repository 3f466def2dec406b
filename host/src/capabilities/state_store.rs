//! `wasmgate:provider/state`: a small key/value store per (plugin, account),
//! for tokens, rotated cookies and page values.
//!
//! It lives in memory and, when the gateway has a data directory, is written
//! to `wasmgate-state.json` there (owner-only permissions: it holds credentials such as
//! rotated cookies) shortly after each change and read back at start, so an
//! account keeps its rotated cookies and tokens across restarts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::state;

/// Bounds that keep one plugin from filling the host's memory and its disk:
/// the whole store is rewritten after a change, so what one account may keep
/// is bounded in bytes, not only in entries.
const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 256 * 1024;
const MAX_ENTRIES_PER_ACCOUNT: usize = 1024;
/// Keys and values of one (plugin, account) together.
pub const MAX_BYTES_PER_ACCOUNT: usize = 1024 * 1024;

/// Why a `set` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateRefused {
    #[error("a state key or value is too large (at most {MAX_KEY} and {} KiB)", MAX_VALUE >> 10)]
    TooLarge,
    #[error("more than {MAX_ENTRIES_PER_ACCOUNT} state entries for one account")]
    TooMany,
    #[error("more than {} KiB of state for one account", MAX_BYTES_PER_ACCOUNT >> 10)]
    TooMuch,
}

type Scope = (String, String);

#[derive(Default)]
pub struct StateStore {
    scopes: Mutex<HashMap<Scope, HashMap<String, Entry>>>,
    /// Set by every change; cleared when the file is written.
    dirty: AtomicBool,
}

/// An entry as `wasmgate-state.json` holds it.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    plugin: String,
    account: String,
    key: String,
    value: String,
    /// Unix seconds.
    expires: Option<u64>,
}

struct Entry {
    value: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// The longest a saved entry is kept: a plugin's ttl is at most `u32` seconds.
pub const LONGEST_TTL_SECS: u64 = u32::MAX as u64;

impl StateStore {
    pub fn get(&self, plugin: &str, account: &str, key: &str) -> Option<String> {
        let scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let entry = scopes
            .get(&(plugin.to_string(), account.to_string()))?
            .get(key)?;
        entry.live(Instant::now()).then(|| entry.value.clone())
    }

    pub fn set(
        &self,
        plugin: &str,
        account: &str,
        key: &str,
        value: String,
        ttl: Option<Duration>,
    ) -> Result<(), StateRefused> {
        let refused = |why: StateRefused| {
            tracing::warn!(plugin, account, "state entry refused: {why}");
            Err(why)
        };
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return refused(StateRefused::TooLarge);
        }
        let now = Instant::now();
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let scope = scopes
            .entry((plugin.to_string(), account.to_string()))
            .or_default();
        let expires = ttl.map(|ttl| now + ttl);
        if let Some(old) = scope.get(key)
            && old.value == value
            && ttl.is_none()
            && old.expires.is_none()
        {
            // Unchanged: nothing to rewrite on disk.
            return Ok(());
        }
        if scope.len() >= MAX_ENTRIES_PER_ACCOUNT && !scope.contains_key(key) {
            scope.retain(|_, entry| entry.live(now));
            if scope.len() >= MAX_ENTRIES_PER_ACCOUNT {
                return refused(StateRefused::TooMany);
            }
        }
        let size = |k: &str, e: &Entry| k.len() + e.value.len();
        let mut used: usize = scope.iter().map(|(k, e)| size(k, e)).sum();
        used -= scope.get(key).map_or(0, |e| size(key, e));
        if used + key.len() + value.len() > MAX_BYTES_PER_ACCOUNT {
            scope.retain(|_, entry| entry.live(now));
            let used: usize = scope
                .iter()
                .filter(|(k, _)| k.as_str() != key)
                .map(|(k, e)| size(k, e))
                .sum();
            if used + key.len() + value.len() > MAX_BYTES_PER_ACCOUNT {
                return refused(StateRefused::TooMuch);
            }
        }
        scope.insert(key.to_string(), Entry { value, expires });
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Moves a scope saved under a bare account id (before scopes carried a
    /// credentials fingerprint) to `scope`, unless `scope` exists already.
    pub fn adopt(&self, plugin: &str, account: &str, scope: &str) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let legacy = (plugin.to_string(), account.to_string());
        let current = (plugin.to_string(), scope.to_string());
        if !scopes.contains_key(&legacy) || scopes.contains_key(&current) {
            return;
        }
        if let Some(entries) = scopes.remove(&legacy) {
            scopes.insert(current, entries);
            self.dirty.store(true, Ordering::Release);
        }
    }

    pub fn delete(&self, plugin: &str, account: &str, key: &str) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(scope) = scopes.get_mut(&(plugin.to_string(), account.to_string())) {
            scope.remove(key);
        }
        self.dirty.store(true, Ordering::Release);
    }

    /// The store saved in `path`, or an empty one if there is none yet. An
    /// unreadable file is kept as a `.corrupt` copy; absurd expiry times are
    /// brought back to [`LONGEST_TTL_SECS`].
    pub fn load(path: &Path) -> Self {
        let store = StateStore::default();
        let entries: Vec<StoredEntry> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(path = %path.display(), "ignoring an unreadable state file: {err}");
                crate::persist::keep_corrupt(path);
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let (now, unix) = (Instant::now(), crate::clock::unix_seconds());
        let mut scopes = store.scopes.lock().unwrap_or_else(|e| e.into_inner());
        for stored in entries {
            let expires = match stored.expires {
                Some(at) if at <= unix => continue,
                // A time no clock reaches (a hand-edited or damaged file):
                // kept for the longest a plugin may ask, not a panic.
                Some(at) => Some(
                    now.checked_add(Duration::from_secs(at - unix))
                        .filter(|_| at - unix <= LONGEST_TTL_SECS)
                        .unwrap_or_else(|| {
                            tracing::warn!(
                                path = %path.display(),
                                "a state entry expires in the far future; kept for {LONGEST_TTL_SECS} s"
                            );
                            now + Duration::from_secs(LONGEST_TTL_SECS)
                        }),
                ),
                None => None,
            };
            scopes
                .entry((stored.plugin, stored.account))
                .or_default()
                .insert(
                    stored.key,
                    Entry {
                        value: stored.value,
                        expires,
                    },
                );
        }
        drop(scopes);
        store
    }

    /// Writes the live entries to `path` if anything changed since the last write.
    pub fn save_if_changed(&self, path: &Path) -> std::io::Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let (now, unix) = (Instant::now(), crate::clock::unix_seconds());
        let entries: Vec<StoredEntry> = {
            let scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
            scopes
                .iter()
                .flat_map(|((plugin, account), scope)| {
                    scope
                        .iter()
                        .filter(|(_, e)| e.live(now))
                        .map(move |(key, entry)| StoredEntry {
                            plugin: plugin.clone(),
                            account: account.clone(),
                            key: key.clone(),
                            value: entry.value.clone(),
                            expires: entry
                                .expires
                                .map(|at| unix + at.saturating_duration_since(now).as_secs()),
                        })
                })
                .collect()
        };
        let result =
            crate::persist::write_private(path, &serde_json::to_vec(&entries).unwrap_or_default());
        if result.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        result
    }
}

impl state::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        let ctx = &self.context;
        ctx.state.get(&ctx.plugin, &ctx.state_scope, &key)
    }

    fn set(
        &mut self,
        key: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<()> {
        let ttl = ttl_seconds.map(|secs| Duration::from_secs(secs.into()));
        let ctx = &self.context;
        let stored = ctx
            .state
            .set(&ctx.plugin, &ctx.state_scope, &key, value, ttl);
        if let Err(why) = stored {
            // Stops the plugin: its request fails as over budget.
            self.over_budget = Some(why.to_string());
            wasmtime::bail!("{why}");
        }
        Ok(())
    }

    fn delete(&mut self, key: String) {
        let ctx = &self.context;
        ctx.state.delete(&ctx.plugin, &ctx.state_scope, &key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_load_but_expired_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("wasmgate-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let store = StateStore::default();
        store
            .set("p", "a", "cookie", "rotated".into(), None)
            .unwrap();
        store
            .set(
                "p",
                "a",
                "token",
                "short".into(),
                Some(Duration::from_secs(3600)),
            )
            .unwrap();
        store
            .set("p", "a", "gone", "x".into(), Some(Duration::ZERO))
            .unwrap();
        store.save_if_changed(&path).unwrap();
        let loaded = StateStore::load(&path);
        assert_eq!(loaded.get("p", "a", "cookie").as_deref(), Some("rotated"));
        assert_eq!(loaded.get("p", "a", "token").as_deref(), Some("short"));
        assert_eq!(loaded.get("p", "a", "gone"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn one_account_keeps_at_most_its_byte_budget() {
        let store = StateStore::default();
        let value = "v".repeat(MAX_VALUE);
        let mut kept = 0;
        for i in 0..MAX_ENTRIES_PER_ACCOUNT {
            match store.set("p", "a", &format!("k{i}"), value.clone(), None) {
                Ok(()) => kept += 1,
                Err(why) => {
                    assert_eq!(why, StateRefused::TooMuch);
                    break;
                }
            }
        }
        assert!(kept * MAX_VALUE <= MAX_BYTES_PER_ACCOUNT, "{kept}");
        // Replacing a value within the budget still works; another account
        // has its own budget.
        store.set("p", "a", "k0", "small".into(), None).unwrap();
        store.set("p", "b", "k0", value, None).unwrap();
    }

    #[test]
    fn a_scope_saved_under_a_bare_account_id_moves_once() {
        let store = StateStore::default();
        store
            .set("web", "acct", "cookie", "v1".into(), None)
            .unwrap();
        store.adopt("web", "acct", "acct#aaaa");
        assert_eq!(
            store.get("web", "acct#aaaa", "cookie").as_deref(),
            Some("v1")
        );
        assert_eq!(store.get("web", "acct", "cookie"), None);
        // An existing scope is never overwritten by an old one.
        store
            .set("web", "acct", "cookie", "stale".into(), None)
            .unwrap();
        store.adopt("web", "acct", "acct#aaaa");
        assert_eq!(
            store.get("web", "acct#aaaa", "cookie").as_deref(),
            Some("v1")
        );
    }

    #[test]
    fn scopes_are_separate_and_entries_expire() {
        let store = StateStore::default();
        store.set("p", "a", "token", "A".into(), None).unwrap();
        store
            .set("p", "b", "token", "B".into(), Some(Duration::ZERO))
            .unwrap();
        assert_eq!(store.get("p", "a", "token").as_deref(), Some("A"));
        assert_eq!(store.get("p", "b", "token"), None, "expired");
        assert_eq!(store.get("q", "a", "token"), None, "other plugin");
        store.delete("p", "a", "token");
        assert_eq!(store.get("p", "a", "token"), None);
    }
}
