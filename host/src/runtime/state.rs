//! What a plugin instance's store holds: its WASI context (empty: no env, no
//! args, no files), its resource table, its egress hooks, the account it runs
//! on, and its resource meters.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::limits::{CpuMeter, MemoryCap};
use crate::capabilities::egress::EgressHooks;
use crate::capabilities::state_store::StateStore;
use crate::config::Account;

/// The account a request runs on, with what its capabilities need.
#[derive(Clone)]
pub struct AccountContext {
    pub plugin: Arc<str>,
    pub account: Account,
    pub state: Arc<StateStore>,
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: EgressHooks,
    pub(crate) context: AccountContext,
    pub(super) memory: MemoryCap,
    pub(super) cpu: CpuMeter,
}

impl PluginState {
    pub(super) fn new(
        context: AccountContext,
        egress: EgressHooks,
        memory: MemoryCap,
        cpu: CpuMeter,
    ) -> Self {
        PluginState {
            // Built with nothing: no environment, no arguments, empty stdin,
            // stdout and stderr discarded, and no preopened directories.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            egress,
            context,
            memory,
            cpu,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for PluginState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}
