//! `wasmgate:provider/config`: the current account's non-secret settings.

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::config;

impl config::Host for PluginState {
    fn get(&mut self, name: String) -> Option<String> {
        self.context.account.settings.get(&name).cloned()
    }

    fn account_id(&mut self) -> String {
        self.context.account.id.clone()
    }
}
