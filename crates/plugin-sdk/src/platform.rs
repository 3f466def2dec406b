//! Everything a plugin asks of its host, as one trait.
//!
//! A plugin writes its flows against [`Platform`] and hands them
//! [`WasiHost`] inside the component. Its native tests hand them
//! [`NativeHost`](crate::native::NativeHost) instead (feature `native`): real
//! HTTP to a mock upstream on loopback, in-memory state, fixed secrets and
//! settings, and a clock the test moves. The same code runs in both.

use crate::http::{HttpError, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// What a plugin's flows need from outside.
pub trait Platform {
    /// Sends a request and returns once the response head arrived; the body
    /// streams from the [`Response`].
    fn send(&self, request: Request) -> Result<Response, HttpError>;
    /// A secret of the current account; `None` when unset or empty.
    fn secret(&self, name: &str) -> Option<String>;
    /// A non-secret setting of the current account; `None` when unset or
    /// empty.
    fn setting(&self, name: &str) -> Option<String>;
    /// The id of the current account, as `plugins.toml` names it.
    fn account_id(&self) -> String;
    /// The plugin's key/value store for this account.
    fn state_get(&self, key: &str) -> Option<String>;
    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn state_delete(&self, key: &str);
    /// Wall-clock milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// A monotonic clock in nanoseconds (for measuring, never for dates).
    fn monotonic_ns(&self) -> u64;
    /// Waits (between retries).
    fn sleep_ms(&self, ms: u64);
    fn random_u64(&self) -> u64;
    fn log(&self, level: Level, message: &str);

    /// Wall-clock Unix seconds.
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// The origin requests go to: the account's `base-url` setting when the
    /// operator set one (a proxy, a test upstream), else the public
    /// `default`. Never ends with a slash.
    fn base_url(&self, default: &str) -> String {
        self.setting("base-url")
            .unwrap_or_else(|| default.to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// The component's host: `wasi:http`, the `wasmgate:provider` imports and
/// the world's own `wasi:clocks` and `wasi:random` (not std's, whose
/// interface versions the host need not link).
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiHost;

impl Platform for WasiHost {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        request.send()
    }

    fn secret(&self, name: &str) -> Option<String> {
        crate::host::secret(name)
    }

    fn setting(&self, name: &str) -> Option<String> {
        crate::host::setting(name)
    }

    fn account_id(&self) -> String {
        crate::host::account_id()
    }

    fn state_get(&self, key: &str) -> Option<String> {
        crate::host::store::get(key)
    }

    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        crate::host::store::set(key, value, ttl_seconds)
    }

    fn state_delete(&self, key: &str) {
        crate::host::store::delete(key)
    }

    fn now_ms(&self) -> u64 {
        let now = crate::bindings::wasi::clocks::wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }

    fn monotonic_ns(&self) -> u64 {
        crate::bindings::wasi::clocks::monotonic_clock::now()
    }

    fn sleep_ms(&self, ms: u64) {
        crate::bindings::wasi::clocks::monotonic_clock::subscribe_duration(
            ms.saturating_mul(1_000_000),
        )
        .block();
    }

    fn random_u64(&self) -> u64 {
        crate::host::random_u64()
    }

    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Debug => crate::host::debug(message),
            Level::Info => crate::host::info(message),
            Level::Warn => crate::host::warn(message),
            Level::Error => crate::host::error(message),
        }
    }
}
