//! The models each plugin says its upstream offers now (its `models()`
//! export), for `GET /v1/models`: upstream lists change (models retire, new
//! ones appear) faster than a plugin's built-in table. Lists are fetched off
//! the request path, at most every [`FRESH_FOR`], with one of the plugin's
//! usable accounts; until a list arrives, or when fetching fails, the
//! manifest's table stands.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::registry::PluginEntry;
use crate::runtime::{AccountContext, Runtime};

/// How long a fetched list is used before it is fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(600);
/// How long a failed fetch waits before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// How long one fetch may take.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

/// A plugin by name and content hash.
type PluginKey = (String, String);

/// What is known of one plugin's list.
struct Known {
    /// The last list fetched, if any.
    ids: Option<Vec<String>>,
    /// When to fetch again (set before a fetch starts, so concurrent
    /// listings start one).
    next: Instant,
}

#[derive(Default)]
pub struct LiveModels {
    lists: Mutex<HashMap<PluginKey, Known>>,
}

impl LiveModels {
    /// The plugin's live list if one is known; starts a fetch when the list
    /// is missing or stale.
    pub fn ids(
        self: &Arc<Self>,
        runtime: &Arc<Runtime>,
        entry: &Arc<PluginEntry>,
    ) -> Option<Vec<String>> {
        let key = (entry.plugin.name.to_string(), entry.plugin.hash.clone());
        let now = Instant::now();
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let known = lists.entry(key.clone()).or_insert(Known {
            ids: None,
            next: now,
        });
        if known.next <= now {
            // Until this fetch ends, nobody starts another.
            known.next = now + FETCH_DEADLINE + RETRY_AFTER;
            let (this, runtime, entry) = (self.clone(), runtime.clone(), entry.clone());
            tokio::spawn(async move {
                let fetched = fetch(&runtime, &entry).await;
                let mut lists = this.lists.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(known) = lists.get_mut(&key) {
                    // A failure keeps the older list, and tries again sooner.
                    known.next = Instant::now()
                        + if fetched.is_some() {
                            FRESH_FOR
                        } else {
                            RETRY_AFTER
                        };
                    if fetched.is_some() {
                        known.ids = fetched;
                    }
                }
            });
        }
        known.ids.clone()
    }
}

/// Runs `models()` on the plugin with its first account that can serve.
async fn fetch(runtime: &Arc<Runtime>, entry: &PluginEntry) -> Option<Vec<String>> {
    let (account, scope) = entry.pool.first_serving()?;
    let context = AccountContext::new(
        entry.plugin.name.clone(),
        account,
        runtime.state.clone(),
        &scope,
    );
    let mut session = entry
        .plugin
        .session(runtime, context, entry.grants.clone())
        .await
        .ok()?;
    match session.models(FETCH_DEADLINE).await {
        Ok(models) => Some(models.into_iter().map(|m| m.id).collect()),
        Err(err) => {
            tracing::info!(
                plugin = &*entry.plugin.name,
                "live model list unavailable: {err}"
            );
            None
        }
    }
}
