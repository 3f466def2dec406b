//! wasmgate provider for the Qwen web chat.
//!
//! Two account kinds, chosen by the secrets an account has:
//! - `cookie` + `xsrf-token`: the Chinese tongyi site (what Qwen-2api uses),
//!   which streams cumulative snapshots;
//! - `token`: chat.qwen.ai, which streams phased increments.
//!
//! The flows are written against the SDK's `Platform` and tested natively
//! on its `NativeHost` against the mock upstream; `component` (wasm only)
//! runs them on `WasiHost`.

pub mod account;
pub mod chat;
#[cfg(target_arch = "wasm32")]
mod component;
pub mod errors;
pub mod ids;
pub mod increments;
pub mod intl;
pub mod jwt;
pub mod models;
pub mod prompt;
#[cfg(test)]
mod prop;
pub mod pump;
pub mod snapshot;
pub mod tongyi;
