//! `wasmgate:provider/log`: a plugin's log lines, into the host's log, tagged
//! with the plugin and account — redacted (secrets masked, CR/LF escaped,
//! length capped; see [`super::redact`]) and rate-limited per plugin, so a
//! plugin can neither forge log lines nor flood the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::redact::MAX_LOG_BYTES;
use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::log::{self, Level};

/// Lines a plugin may write in a burst, and per second after that.
const BURST_LINES: f64 = 200.0;
const LINES_PER_SECOND: f64 = 20.0;

/// One plugin's allowance of log lines.
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Lines dropped since the last one written.
    dropped: u64,
}

impl Bucket {
    /// Whether a line may be written now, and how many were dropped before it.
    fn take(&mut self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * LINES_PER_SECOND).min(BURST_LINES);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.dropped))
        } else {
            self.dropped += 1;
            None
        }
    }
}

/// Per plugin, across its instances: many instances of one plugin share it.
fn allowance(plugin: &Arc<str>, now: Instant) -> Option<u64> {
    static BUCKETS: Mutex<Option<HashMap<Arc<str>, Bucket>>> = Mutex::new(None);
    let mut buckets = BUCKETS.lock().unwrap_or_else(|e| e.into_inner());
    buckets
        .get_or_insert_with(HashMap::new)
        .entry(plugin.clone())
        .or_insert(Bucket {
            tokens: BURST_LINES,
            at: now,
            dropped: 0,
        })
        .take(now)
}

impl log::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        // Its CPU is the plugin's: the call runs within its metered poll.
        self.write_log(level, &message);
    }
}

impl PluginState {
    fn write_log(&self, level: Level, message: &str) {
        let Some(dropped) = allowance(&self.context.plugin, Instant::now()) else {
            return;
        };
        let message = self.redact(message, MAX_LOG_BYTES);
        let plugin = &*self.context.plugin;
        let account = &self.context.account.id;
        if dropped > 0 {
            tracing::warn!(
                target: "plugin",
                plugin,
                "{dropped} log lines of this plugin were dropped (over {LINES_PER_SECOND} lines/s)"
            );
        }
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, account, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, account, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, account, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, account, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, account, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_lines_are_dropped_and_counted() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: BURST_LINES,
            at: start,
            dropped: 0,
        };
        let written = (0..1000).filter(|_| bucket.take(start).is_some()).count();
        assert_eq!(written, BURST_LINES as usize);
        // A second later some are allowed again, the first says what was lost.
        assert_eq!(
            bucket.take(start + Duration::from_secs(1)),
            Some(1000 - BURST_LINES as u64)
        );
    }
}
