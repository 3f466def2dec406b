//! `wasmgate:provider/state`: a small key/value store per (plugin, account),
//! for tokens, rotated cookies and page values. In memory for now.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::state;

/// Bounds that keep one plugin from filling the host's memory.
const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 256 * 1024;
const MAX_ENTRIES_PER_ACCOUNT: usize = 1024;

type Scope = (String, String);

#[derive(Default)]
pub struct StateStore {
    scopes: Mutex<HashMap<Scope, HashMap<String, Entry>>>,
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
    ) {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            tracing::warn!(
                plugin,
                account,
                "state entry refused: key or value too large"
            );
            return;
        }
        let now = Instant::now();
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let scope = scopes
            .entry((plugin.to_string(), account.to_string()))
            .or_default();
        if scope.len() >= MAX_ENTRIES_PER_ACCOUNT && !scope.contains_key(key) {
            scope.retain(|_, entry| entry.live(now));
            if scope.len() >= MAX_ENTRIES_PER_ACCOUNT {
                tracing::warn!(plugin, account, "state entry refused: too many entries");
                return;
            }
        }
        scope.insert(
            key.to_string(),
            Entry {
                value,
                expires: ttl.map(|ttl| now + ttl),
            },
        );
    }

    pub fn delete(&self, plugin: &str, account: &str, key: &str) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(scope) = scopes.get_mut(&(plugin.to_string(), account.to_string())) {
            scope.remove(key);
        }
    }
}

impl state::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        let ctx = &self.context;
        ctx.state.get(&ctx.plugin, &ctx.account.id, &key)
    }

    fn set(&mut self, key: String, value: String, ttl_seconds: Option<u32>) {
        let ctx = &self.context;
        let ttl = ttl_seconds.map(|secs| Duration::from_secs(secs.into()));
        ctx.state
            .set(&ctx.plugin, &ctx.account.id, &key, value, ttl);
    }

    fn delete(&mut self, key: String) {
        let ctx = &self.context;
        ctx.state.delete(&ctx.plugin, &ctx.account.id, &key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_separate_and_entries_expire() {
        let store = StateStore::default();
        store.set("p", "a", "token", "A".into(), None);
        store.set("p", "b", "token", "B".into(), Some(Duration::ZERO));
        assert_eq!(store.get("p", "a", "token").as_deref(), Some("A"));
        assert_eq!(store.get("p", "b", "token"), None, "expired");
        assert_eq!(store.get("q", "a", "token"), None, "other plugin");
        store.delete("p", "a", "token");
        assert_eq!(store.get("p", "a", "token"), None);
    }
}
