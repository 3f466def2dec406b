//! Running plugins: one wasmtime engine, components compiled once and cached,
//! and a fresh sandboxed instance per request.

pub mod bindings;
pub mod cache;
mod contract;
mod engine;
mod limits;
mod linker;
pub mod phases;
mod plugin;
mod session;
mod state;

pub use engine::{Runtime, RuntimeLimits};
pub use plugin::{LoadError, LoadedPlugin};
pub use session::{CallError, Session};
pub use state::{AccountContext, PluginState};
