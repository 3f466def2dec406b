//! The linker: exactly what a plugin may import, interface by interface.
//!
//! wasmtime's bundled `add_to_linker` helpers also link the filesystem and
//! sockets, so nothing is linked wholesale. Rust's std makes every plugin
//! import `wasi:cli` (environment, exit, stdio, terminals); those are linked
//! to the store's empty WASI context, so they exist but give nothing away. A
//! plugin that imports the filesystem or sockets fails to load.

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, random};
use wasmtime_wasi::random::WasiRandom;

use super::bindings::wasmgate::provider as api;
use super::state::PluginState;

pub fn build(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    type S = PluginState;
    let mut linker = Linker::<S>::new(engine);
    let l = &mut linker;

    wasmtime_wasi_io::add_to_linker_async(l)?;
    clocks::wall_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)?;
    clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)?;
    random::random::add_to_linker::<S, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    // std's HashMap seeds itself from these.
    random::insecure::add_to_linker::<S, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<S, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)?;

    // Inert: backed by an empty WasiCtx.
    cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_output::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;

    // wasmgate's own capabilities.
    api::secrets::add_to_linker::<S, HasSelf<S>>(l, |s| s)?;
    api::config::add_to_linker::<S, HasSelf<S>>(l, |s| s)?;
    api::state::add_to_linker::<S, HasSelf<S>>(l, |s| s)?;
    api::log::add_to_linker::<S, HasSelf<S>>(l, |s| s)?;
    api::types::add_to_linker::<S, HasSelf<S>>(l, |s| s)?;
    Ok(linker)
}
