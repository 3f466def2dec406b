//! One request's plugin instance: a fresh store, the completion it returned,
//! and the guards around every call into it (deadline, CPU, memory).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ResourceAny;
use wasmtime::{CallHook, Store, UpdateDeadline};

use super::bindings::{
    ChatRequest, Event, ModelInfo, PluginManifest, Provider, ProviderError, ProviderPre,
};
use super::engine::Runtime;
use super::limits::{CpuMeter, MemoryCap};
use super::state::{AccountContext, PluginState};
use crate::capabilities::egress::{EgressHooks, Grants};

/// Why a call into a plugin did not produce a value.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with a typed error.
    #[error("{}", describe(.0))]
    Provider(ProviderError),
    #[error("the plugin did not answer within {0:?}")]
    Deadline(Duration),
    #[error("the plugin used up its CPU time budget of {0:?}")]
    CpuExhausted(Duration),
    #[error("the plugin exceeded its memory limit")]
    MemoryExhausted,
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// A call after an earlier failure: the instance is no longer usable.
    #[error("the plugin instance already failed")]
    Poisoned,
}

/// A typed plugin error in words, for logs and client messages.
pub fn describe(error: &ProviderError) -> String {
    match error {
        ProviderError::Unauthorized(m) => format!("unauthorized: {m}"),
        ProviderError::Forbidden(m) => format!("forbidden: {m}"),
        ProviderError::RateLimited(info) => format!("rate limited: {}", info.message),
        ProviderError::QuotaExhausted(info) => format!("quota exhausted: {}", info.message),
        ProviderError::BadRequest(m) => format!("bad request: {m}"),
        ProviderError::ModelNotFound(m) => format!("model not found: {m}"),
        ProviderError::ContentFiltered(m) => format!("content filtered: {m}"),
        ProviderError::Upstream(u) => {
            format!("upstream error (status {}): {}", u.status, u.message)
        }
        ProviderError::Timeout(m) => format!("upstream timeout: {m}"),
        ProviderError::Internal(m) => format!("plugin error: {m}"),
    }
}

pub struct Session {
    store: Store<PluginState>,
    provider: Provider,
    completion: Option<ResourceAny>,
    poisoned: bool,
    _slot: OwnedSemaphorePermit,
}

impl Session {
    pub(super) async fn start(
        runtime: &Arc<Runtime>,
        pre: &ProviderPre<PluginState>,
        context: AccountContext,
        grants: Arc<Grants>,
    ) -> Result<Session, CallError> {
        let slot = runtime
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CallError::Trap("the runtime is shutting down".into()))?;
        let limits = &runtime.limits;
        let egress = EgressHooks::new(context.plugin.clone(), grants, runtime.egress.clone());
        let state = PluginState::new(
            context,
            egress,
            MemoryCap::new(limits.max_memory_bytes),
            CpuMeter::new(limits.max_cpu),
        );
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.memory);
        store.call_hook(|mut ctx, hook: CallHook| {
            let cpu = &mut ctx.data_mut().cpu;
            if hook.entering_host() {
                cpu.leave_guest();
            } else {
                cpu.enter_guest();
            }
            Ok(())
        });
        // Every tick while the plugin runs: stop it if it is over its CPU
        // budget, else yield so other requests on this worker progress.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            if ctx.data_mut().cpu.over_budget() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let provider = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|err| CallError::Trap(format!("instantiation failed: {err:#}")))?;
        Ok(Session {
            store,
            provider,
            completion: None,
            poisoned: false,
            _slot: slot,
        })
    }

    pub async fn manifest(&mut self, deadline: Duration) -> Result<PluginManifest, CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let result = tokio::time::timeout(deadline, plugin.call_manifest(&mut self.store)).await;
        self.settle(deadline, result)
    }

    pub async fn models(&mut self, deadline: Duration) -> Result<Vec<ModelInfo>, CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let result = tokio::time::timeout(deadline, plugin.call_models(&mut self.store)).await;
        self.settle(deadline, result)?.map_err(CallError::Provider)
    }

    /// Starts the chat; events are then pulled with [`Session::next`].
    pub async fn chat(
        &mut self,
        request: &ChatRequest,
        deadline: Duration,
    ) -> Result<(), CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let result =
            tokio::time::timeout(deadline, plugin.call_chat(&mut self.store, request)).await;
        let completion = self
            .settle(deadline, result)?
            .map_err(CallError::Provider)?;
        self.completion = Some(completion);
        Ok(())
    }

    /// The next event of the answer, `None` at its end.
    pub async fn next(&mut self, deadline: Duration) -> Result<Option<Event>, CallError> {
        self.check()?;
        let Some(completion) = self.completion else {
            return Ok(None);
        };
        let guest = self.provider.wasmgate_provider_plugin().completion();
        let result =
            tokio::time::timeout(deadline, guest.call_next(&mut self.store, completion)).await;
        let next = self.settle(deadline, result)?.map_err(CallError::Provider);
        if matches!(next, Ok(None) | Err(_)) {
            self.completion = None;
        }
        next
    }

    fn check(&self) -> Result<(), CallError> {
        if self.poisoned {
            Err(CallError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Turns the outcome of a guarded call into a value or a classified
    /// failure; any failure poisons the instance.
    fn settle<T>(
        &mut self,
        deadline: Duration,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let error = match result {
            Ok(Ok(value)) => return Ok(value),
            Err(_elapsed) => CallError::Deadline(deadline),
            Ok(Err(err)) => {
                let state = self.store.data();
                if state.cpu.exceeded {
                    CallError::CpuExhausted(state.cpu.budget)
                } else if state.memory.exceeded {
                    CallError::MemoryExhausted
                } else {
                    CallError::Trap(trap_message(&err))
                }
            }
        };
        self.poisoned = true;
        self.completion = None;
        Err(error)
    }
}

/// The trap's own words, without the wasm backtrace.
fn trap_message(err: &wasmtime::Error) -> String {
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => err.to_string(),
    }
}
