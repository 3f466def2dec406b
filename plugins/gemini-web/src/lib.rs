//! The Gemini web app (gemini.google.com) as a wasmgate provider.
//!
//! Each request: restore the account's cookie jar from the state store,
//! rotate `__Secure-1PSIDTS` if due, get the page values (cached, or read
//! from `/app`), upload attachments, fold the conversation into one prompt
//! of a fresh chat, send StreamGenerate, and stream the cumulative snapshots
//! out as deltas.
//!
//! Everything but [`component`] is plain Rust over the SDK's
//! [`Platform`](wasmgate_plugin_sdk::platform::Platform) trait, so it runs
//! natively in tests (against the mock upstream, over the SDK's native test
//! host).

// Protocol pieces (pure).
pub mod assembler;
pub mod cookies;
pub mod delta;
pub mod display_text;
pub mod endpoints;
pub mod envelope;
pub mod failures;
pub mod framing;
pub mod generate_request;
pub mod images;
pub mod json_path;
pub mod models;
pub mod page;
pub mod prompt;
pub mod rotation;
pub mod rpc;
pub mod snapshot;
pub mod upload;

// Flows over the platform.
pub mod account;
pub mod answer;
pub mod chat;
pub mod session;

// The wasm component: the flows over the SDK's WasiHost. It also compiles
// natively, where nothing exports it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod component;

// A native cdylib cannot carry the component's export names.
#[cfg(target_arch = "wasm32")]
use component::GeminiWeb;
#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(GeminiWeb);
