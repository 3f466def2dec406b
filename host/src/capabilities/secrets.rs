//! `wasmgate:provider/secrets`: the current account's secrets, and no other's.

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::secrets;

impl secrets::Host for PluginState {
    fn get(&mut self, name: String) -> Option<String> {
        self.context
            .account
            .secrets
            .get(&name)
            .map(|value| value.expose().to_string())
    }
}
