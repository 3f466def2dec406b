//! wasmgate: an OpenAI-compatible LLM gateway whose upstream providers are
//! sandboxed WebAssembly components.
//!
//! - [`config`] — `plugins.toml`, typed and validated.
//! - [`runtime`] — the wasmtime engine, plugin loading, per-request sessions.
//! - [`capabilities`] — what a plugin instance may use (egress, secrets, state, log).
//! - [`registry`] — loaded plugins with their accounts, grants and routes.
//! - [`pool`] — account pools: selection, health, cooldowns, breakers.
//! - [`reload`] and [`watcher`] — hot reload of `plugins.toml` and `plugins/`.
//! - [`dispatch`] — running a chat request over accounts and fallbacks.
//! - [`api`] — the OpenAI HTTP surface.
//! - [`server`] — start-up; [`environment`] — variables and `.env`;
//!   [`listener`] — the accept loop and its limits.
//! - [`persist`] — the gateway's files in its data directory.
//! - [`clock`] — Unix time.
//! - [`console`] — the admin console, landing page, status page, `/metrics`;
//!   [`metrics`] — request counters; [`secrets_store`] — secrets pasted in it.

pub mod api;
pub mod capabilities;
pub mod clock;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod environment;
pub mod fingerprint;
pub mod idle_trim;
pub mod lanes;
pub mod listener;
pub mod live_models;
pub mod media;
pub mod metrics;
pub mod otlp;
pub mod persist;
pub mod pool;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod secrets_store;
pub mod server;
pub mod watcher;
