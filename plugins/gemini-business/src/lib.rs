//! wasmgate provider for Gemini Business: the Discovery Engine widget API
//! behind `business.gemini.google`, reached with an account's browser
//! session cookies.
//!
//! Per request: read the account (cookies, `csesidx`, `config_id`, optional
//! `expires_at`, either as separate secrets or as one element of the seed's
//! `ACCOUNTS_CONFIG`), get a signing key from `getoxsrf` and sign an HS256
//! JWT (cached in state for 270 s of its 300), create a session, upload
//! attachments, ask with `widgetStreamAssist`, and turn the streamed JSON
//! array into events. The protocol logic lives in plain modules tested
//! natively; every flow reaches the host through the SDK's
//! [`Platform`](wasmgate_plugin_sdk::Platform) (`WasiHost` in the component,
//! the SDK's native test host in `tests/`).

pub mod account;
pub mod answer;
pub mod array_stream;
pub mod chat;
pub mod completion;
pub mod errors;
pub mod jwt;
pub mod models;
pub mod oxsrf;
pub mod prompt;
pub mod provider;
pub mod settings;
pub mod upstream;
pub mod wire;

// Natively (tests) the component exports are left out: their symbol names
// (`…wasmgate:provider/plugin@0.1.0#…`) do not link into a native cdylib.
#[cfg(target_arch = "wasm32")]
wasmgate_plugin_sdk::export_provider!(GeminiBusiness);
#[cfg(target_arch = "wasm32")]
use provider::GeminiBusiness;
