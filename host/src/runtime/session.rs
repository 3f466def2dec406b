//! One request's plugin instance: a fresh store, the completion it returned,
//! and the guards around every call into it (deadline, CPU, memory).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ResourceAny;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{
    ChatRequest, Event, ModelInfo, PluginManifest, Provider, ProviderError, ProviderPre, RetryInfo,
    UpstreamFailure,
};
use super::engine::Runtime;
use super::limits::{CpuMeter, MemoryCap};
use super::phases::{self, Phase};
use super::state::{AccountContext, MAX_FIELDS_BYTES, MAX_WASI_RESOURCES, PluginState};
use crate::capabilities::egress::{EgressHooks, Grants};
use crate::capabilities::redact::MAX_ERROR_BYTES;

/// What an event costs the answer budget beyond its payload, so that an
/// endless stream of empty events runs out too.
const EVENT_OVERHEAD: usize = 64;

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
    /// It made the host spend more than it may on its behalf (answer size,
    /// state, HTTP resources or requests in flight).
    #[error("the plugin went over its budget: {0}")]
    OverBudget(String),
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// A call after an earlier failure: the instance is no longer usable.
    #[error("the plugin instance already failed")]
    Poisoned,
    /// Every instance slot stayed taken for as long as a request may wait.
    #[error("the gateway is at its instance limit; no slot came free within {0:?}")]
    Busy(Duration),
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
    /// Events of the last batch the plugin yielded, not handed out yet.
    pending: VecDeque<Event>,
    poisoned: bool,
    /// Bytes of answer produced so far, against `max_answer_bytes`.
    answer_bytes: usize,
    max_answer_bytes: usize,
    /// Calls of `next()` made into the guest so far.
    pulls: u32,
    /// When the last event was handed out, for the phase timing.
    handed_out_at: Option<Instant>,
    /// The instance's CPU meter (its state holds the same one).
    cpu: CpuMeter,
    _slot: OwnedSemaphorePermit,
}

/// The CPU time the guest ran, for the phase timing.
impl Drop for Session {
    fn drop(&mut self) {
        if phases::enabled() {
            phases::record(Phase::GuestCpu, self.store.data().cpu.used());
        }
    }
}

impl Session {
    pub(super) async fn start(
        runtime: &Arc<Runtime>,
        pre: &ProviderPre<PluginState>,
        context: AccountContext,
        grants: Arc<Grants>,
    ) -> Result<Session, CallError> {
        let instantiating = phases::start();
        // A slot is waited for, but not forever: a crowd of slow requests
        // makes the rest fail fast with a 503 rather than queue without end.
        let wait = runtime.limits.max_slot_wait;
        let slot = match tokio::time::timeout(wait, runtime.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err(CallError::Trap("the runtime is shutting down".into())),
            Err(_) => return Err(CallError::Busy(wait)),
        };
        let limits = &runtime.limits;
        let egress = EgressHooks::new(context.plugin.clone(), grants);
        let state = PluginState::new(
            context,
            egress,
            MemoryCap::new(limits.max_memory_bytes),
            CpuMeter::new(limits.max_cpu),
        );
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.memory);
        // Every tick while the plugin runs: stop it if it is over its CPU
        // budget, else yield so other requests on this lane progress (the
        // yield ends the metered poll: waiting to run again is not charged).
        // Tokio's own yield runs again only after the runtime has looked for
        // I/O: a plain wake-up would put the plugin straight back in the run
        // queue, and a single-threaded runtime (a lane) that always has a
        // task to run looks at its sockets only every few dozen polls.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if ctx.data().cpu.over_budget() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        let meter = store.data().cpu.clone();
        let provider = match meter.meter(pre.instantiate_async(&mut store)).await {
            Ok(provider) => provider,
            Err(_) if store.data().memory.exceeded => return Err(CallError::MemoryExhausted),
            Err(err) => {
                let said = format!("instantiation failed: {err:#}");
                return Err(CallError::Trap(store.data().redact(&said, MAX_ERROR_BYTES)));
            }
        };
        phases::finish(Phase::Instantiate, instantiating);
        Ok(Session {
            cpu: meter,
            store,
            provider,
            completion: None,
            pending: VecDeque::new(),
            poisoned: false,
            answer_bytes: 0,
            max_answer_bytes: limits.max_answer_bytes,
            pulls: 0,
            handed_out_at: None,
            _slot: slot,
        })
    }

    pub async fn manifest(&mut self, deadline: Duration) -> Result<PluginManifest, CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let result = self
            .cpu
            .meter_within(deadline, plugin.call_manifest(&mut self.store))
            .await;
        self.settle(deadline, result)
    }

    pub async fn models(&mut self, deadline: Duration) -> Result<Vec<ModelInfo>, CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let result = self
            .cpu
            .meter_within(deadline, plugin.call_models(&mut self.store))
            .await;
        self.settle_typed(deadline, result)
    }

    /// Starts the chat; events are then pulled with [`Session::next`].
    pub async fn chat(
        &mut self,
        request: &ChatRequest,
        deadline: Duration,
    ) -> Result<(), CallError> {
        self.check()?;
        let plugin = self.provider.wasmgate_provider_plugin();
        let started = phases::start();
        let result = self
            .cpu
            .meter_within(deadline, plugin.call_chat(&mut self.store, request))
            .await;
        phases::finish(Phase::Chat, started);
        let completion = self.settle_typed(deadline, result)?;
        self.completion = Some(completion);
        Ok(())
    }

    /// The next event of the answer, `None` at its end. The plugin yields
    /// events in batches (all it has read); they are handed out one by one.
    pub async fn next(&mut self, deadline: Duration) -> Result<Option<Event>, CallError> {
        if let Some(handed_out_at) = self.handed_out_at.take() {
            phases::record(Phase::BetweenEvents, handed_out_at.elapsed());
        }
        let next = self.pull(deadline).await;
        if let Ok(Some(_)) = &next {
            self.handed_out_at = phases::start();
        }
        next
    }

    /// Whether events the plugin already handed over wait to be taken: the
    /// next [`Session::next`] returns at once, without calling the plugin.
    pub fn has_buffered_events(&self) -> bool {
        !self.pending.is_empty()
    }

    /// [`Session::next`] without the phase timing.
    async fn pull(&mut self, deadline: Duration) -> Result<Option<Event>, CallError> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(Some(event));
        }
        self.check()?;
        let Some(completion) = self.completion else {
            return Ok(None);
        };
        let guest = self.provider.wasmgate_provider_plugin().completion();
        let started = phases::start();
        let result = self
            .cpu
            .meter_within(deadline, guest.call_next(&mut self.store, completion))
            .await;
        let phase = if self.pulls == 0 {
            Phase::FirstEvent
        } else {
            Phase::NextEvent
        };
        phases::finish(phase, started);
        self.pulls += 1;
        let batch = match self.settle_typed(deadline, result) {
            Ok(batch) if !batch.is_empty() => batch,
            other => {
                self.completion = None;
                return other.map(|_| None);
            }
        };
        // Counted whether the answer is streamed or collected whole.
        let weight = batch.iter().map(event_size).fold(0, usize::saturating_add);
        self.answer_bytes = self.answer_bytes.saturating_add(weight);
        if self.answer_bytes > self.max_answer_bytes {
            self.completion = None;
            return Err(self.fail(CallError::OverBudget(format!(
                "its answer is larger than {} MiB",
                self.max_answer_bytes >> 20
            ))));
        }
        self.pending = batch.into();
        Ok(self.pending.pop_front())
    }

    fn check(&self) -> Result<(), CallError> {
        if self.poisoned {
            Err(CallError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// [`Session::settle`] for a call that returns a typed error.
    ///
    /// This is where text the plugin wrote enters the host: a typed error's
    /// messages are redacted here, once, for every place that shows or keeps
    /// them (the caller, the log, the admin API, `wasmgate-accounts.json`).
    fn settle_typed<T>(
        &mut self,
        deadline: Duration,
        result: Result<wasmtime::Result<Result<T, ProviderError>>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        self.settle(deadline, result)?
            .map_err(|error| CallError::Provider(redact_error(self.store.data(), error)))
    }

    /// Turns the outcome of a guarded call into a value or a classified
    /// failure; any failure poisons the instance.
    fn settle<T>(
        &mut self,
        deadline: Duration,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let state = self.store.data();
        // A budget overrun fails the request whatever the plugin made of it.
        if let Some(what) = state.overrun() {
            return Err(self.fail(CallError::OverBudget(what)));
        }
        let error = match result {
            Ok(Ok(value)) => return Ok(value),
            Err(_elapsed) => CallError::Deadline(deadline),
            Ok(Err(err)) => {
                if state.cpu.exceeded() {
                    CallError::CpuExhausted(state.cpu.budget())
                } else if state.memory.exceeded {
                    CallError::MemoryExhausted
                } else if let Some(what) = http_overrun(&err) {
                    CallError::OverBudget(what)
                } else {
                    CallError::Trap(state.redact(&trap_message(&err), MAX_ERROR_BYTES))
                }
            }
        };
        Err(self.fail(error))
    }

    /// Poisons the instance: no further call goes into it.
    fn fail(&mut self, error: CallError) -> CallError {
        self.poisoned = true;
        self.completion = None;
        error
    }
}

/// A typed plugin error with every message in it redacted.
fn redact_error(state: &PluginState, error: ProviderError) -> ProviderError {
    let clean = |m: String| state.redact(&m, MAX_ERROR_BYTES);
    match error {
        ProviderError::Unauthorized(m) => ProviderError::Unauthorized(clean(m)),
        ProviderError::Forbidden(m) => ProviderError::Forbidden(clean(m)),
        ProviderError::RateLimited(info) => ProviderError::RateLimited(RetryInfo {
            message: clean(info.message),
            ..info
        }),
        ProviderError::QuotaExhausted(info) => ProviderError::QuotaExhausted(RetryInfo {
            message: clean(info.message),
            ..info
        }),
        ProviderError::BadRequest(m) => ProviderError::BadRequest(clean(m)),
        ProviderError::ModelNotFound(m) => ProviderError::ModelNotFound(clean(m)),
        ProviderError::ContentFiltered(m) => ProviderError::ContentFiltered(clean(m)),
        ProviderError::Upstream(u) => ProviderError::Upstream(UpstreamFailure {
            message: clean(u.message),
            ..u
        }),
        ProviderError::Timeout(m) => ProviderError::Timeout(clean(m)),
        ProviderError::Internal(m) => ProviderError::Internal(clean(m)),
    }
}

/// What an event weighs against the answer budget.
fn event_size(event: &Event) -> usize {
    EVENT_OVERHEAD
        + match event {
            Event::Text(text) | Event::Reasoning(text) | Event::ReasoningSignature(text) => {
                text.len()
            }
            Event::ToolCall(call) => {
                call.id.as_ref().map_or(0, String::len)
                    + call.name.as_ref().map_or(0, String::len)
                    + call.arguments.len()
                    + call.provider_data.as_ref().map_or(0, String::len)
            }
            Event::Citation(citation) => {
                citation.url.len() + citation.title.as_ref().map_or(0, String::len)
            }
            Event::Image(media) => media.mime_type.len() + media.data.len(),
            Event::Usage(_) | Event::Finish(_) => 0,
        }
}

/// A trap from wasi:http's own host-memory limits, in words.
fn http_overrun(err: &wasmtime::Error) -> Option<String> {
    use wasmtime::component::ResourceTableError;
    err.chain().find_map(|cause| {
        if let Some(ResourceTableError::Full) = cause.downcast_ref::<ResourceTableError>() {
            Some(format!(
                "it held more than {MAX_WASI_RESOURCES} HTTP resources at once"
            ))
        } else if let Some(wasmtime_wasi_http::FieldMapError::TotalSizeTooBig) =
            cause.downcast_ref::<wasmtime_wasi_http::FieldMapError>()
        {
            Some(format!(
                "a header map larger than {} KiB",
                MAX_FIELDS_BYTES >> 10
            ))
        } else {
            None
        }
    })
}

/// The trap's own words, without the wasm backtrace (which is only the
/// outermost context: the cause is at the end of the chain).
fn trap_message(err: &wasmtime::Error) -> String {
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => err
            .chain()
            .last()
            .map_or_else(|| err.to_string(), |cause| cause.to_string()),
    }
}
