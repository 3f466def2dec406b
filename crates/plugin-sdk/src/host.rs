//! Thin wrappers over the capabilities the host gives a plugin.

use crate::bindings::wasmgate::provider::{config, log as host_log, secrets, state};

/// A secret of the current account, e.g. `secret("api-key")`.
pub fn secret(name: &str) -> Option<String> {
    secrets::get(name).filter(|value| !value.is_empty())
}

/// A non-secret setting of the current account.
pub fn setting(name: &str) -> Option<String> {
    config::get(name).filter(|value| !value.is_empty())
}

/// The id of the current account, as `plugins.toml` names it.
pub fn account_id() -> String {
    config::account_id()
}

/// The origin requests go to: the account's `base-url` setting when the
/// operator set one (a proxy, a test upstream), else the public `default`.
/// Never ends with a slash.
pub fn base_url(default: &str) -> String {
    setting("base-url")
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The plugin's key/value store for this account.
pub mod store {
    use super::state;

    pub fn get(key: &str) -> Option<String> {
        state::get(key)
    }

    pub fn set(key: &str, value: &str, ttl_seconds: Option<u32>) {
        state::set(key, value, ttl_seconds)
    }

    pub fn delete(key: &str) {
        state::delete(key)
    }
}

/// 64 random bits from the host.
pub fn random_u64() -> u64 {
    crate::bindings::wasi::random::random::get_random_u64()
}

pub fn debug(message: &str) {
    host_log::log(host_log::Level::Debug, message)
}

pub fn info(message: &str) {
    host_log::log(host_log::Level::Info, message)
}

pub fn warn(message: &str) {
    host_log::log(host_log::Level::Warn, message)
}

pub fn error(message: &str) {
    host_log::log(host_log::Level::Error, message)
}
