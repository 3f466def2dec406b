//! What the plugin asks of its host besides HTTP, as a trait so the flow
//! runs natively in tests.

use wasmgate_plugin_sdk::host;

pub trait Env {
    fn secret(&self, name: &str) -> Option<String>;
    fn setting(&self, name: &str) -> Option<String>;
    fn state_get(&self, key: &str) -> Option<String>;
    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn state_delete(&self, key: &str);
    /// Wall-clock Unix seconds.
    fn now(&self) -> u64;
    fn debug(&self, message: &str);
    fn warn(&self, message: &str);
    /// Waits (the backoff between download attempts).
    fn sleep_ms(&self, ms: u64);
}

/// The gateway's capabilities, through the SDK.
pub struct HostEnv;

impl Env for HostEnv {
    fn secret(&self, name: &str) -> Option<String> {
        host::secret(name)
    }

    fn setting(&self, name: &str) -> Option<String> {
        host::setting(name)
    }

    fn state_get(&self, key: &str) -> Option<String> {
        host::store::get(key)
    }

    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        host::store::set(key, value, ttl_seconds)
    }

    fn state_delete(&self, key: &str) {
        host::store::delete(key)
    }

    /// Through the world's own `wasi:clocks/wall-clock` import rather than
    /// std's, whose interface version the host need not link.
    fn now(&self) -> u64 {
        wasmgate_plugin_sdk::bindings::wasi::clocks::wall_clock::now().seconds
    }

    fn debug(&self, message: &str) {
        host::debug(message)
    }

    fn warn(&self, message: &str) {
        host::warn(message)
    }

    fn sleep_ms(&self, ms: u64) {
        use wasmgate_plugin_sdk::bindings::wasi::clocks::monotonic_clock;
        monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }
}
