//! What a plugin instance is given, one capability per module. Each module
//! implements the host side of one imported interface.

pub mod egress;
mod guest_log;
pub mod proxy;
pub mod redact;
mod secrets;
mod settings;
pub mod state_store;

use crate::runtime::PluginState;
use crate::runtime::bindings::wasmgate::provider::types;

impl types::Host for PluginState {}
