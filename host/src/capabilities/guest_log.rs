//! `wasmgate:provider/log`: a plugin's log lines, into the host's log, tagged
//! with the plugin and account, with the account's secrets masked.

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::log::{self, Level};

/// Longest log line a plugin may write.
const MAX_LINE: usize = 4096;

impl log::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        for secret in self.context.account.secrets.values() {
            let secret = secret.expose();
            if secret.len() >= 4 && message.contains(secret) {
                message = message.replace(secret, "***");
            }
        }
        let plugin = &*self.context.plugin;
        let account = &self.context.account.id;
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, account, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, account, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, account, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, account, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, account, "{message}"),
        }
    }
}
