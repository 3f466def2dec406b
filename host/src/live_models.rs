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
/// When a list was fetched (or a fetch began), and the ids (none if the
/// fetch failed or is under way).
type Fetched = (Instant, Option<Vec<String>>);

#[derive(Default)]
pub struct LiveModels {
    lists: Mutex<HashMap<PluginKey, Fetched>>,
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
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let (known, due) = match lists.get(&key) {
            Some((at, Some(ids))) => (Some(ids.clone()), at.elapsed() >= FRESH_FOR),
            Some((at, None)) => (None, at.elapsed() >= RETRY_AFTER),
            None => (None, true),
        };
        if due {
            // Marked before the fetch, so concurrent listings start one fetch.
            let keep = known.clone();
            lists.insert(key.clone(), (Instant::now(), keep));
            let (this, runtime, entry) = (self.clone(), runtime.clone(), entry.clone());
            tokio::spawn(async move {
                let fetched = fetch(&runtime, &entry).await;
                let mut lists = this.lists.lock().unwrap_or_else(|e| e.into_inner());
                match fetched {
                    Some(ids) => {
                        lists.insert(key, (Instant::now(), Some(ids)));
                    }
                    None => {
                        // Keep an older list if there was one; try again later.
                        let older = lists.get(&key).and_then(|(_, ids)| ids.clone());
                        let at = Instant::now() - FRESH_FOR.saturating_sub(RETRY_AFTER);
                        lists.insert(
                            key,
                            (if older.is_some() { at } else { Instant::now() }, older),
                        );
                    }
                }
            });
        }
        known
    }
}

/// Runs `models()` on the plugin with its first account that can serve.
async fn fetch(runtime: &Arc<Runtime>, entry: &PluginEntry) -> Option<Vec<String>> {
    let account = entry.pool.first_serving()?;
    let context = AccountContext::new(entry.plugin.name.clone(), account, runtime.state.clone());
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
