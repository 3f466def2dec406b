//! The one wasmtime [`Engine`] of the process and what it is configured with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES};
use super::linker;
use super::state::PluginState;
use crate::capabilities::state_store::StateStore;

/// How often the engine's epoch advances: the granularity of the CPU budget's
/// check and of the cooperative yield that keeps a spinning plugin from
/// hogging its lane (`crate::lanes`).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Dirty memory per slot reset in place rather than discarded (see `Runtime::new`).
const KEEP_RESIDENT_BYTES: usize = 256 << 10;

/// The limits every instance runs under.
#[derive(Debug, Clone)]
pub struct RuntimeLimits {
    pub max_memory_bytes: usize,
    pub max_cpu: Duration,
    pub first_event_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_instances: u32,
    /// Bytes one answer may carry, streamed or not.
    pub max_answer_bytes: usize,
    /// Wall-clock time one request may take from start to end.
    pub max_request: Duration,
    /// How long a request waits for an instance slot before a 503.
    pub max_slot_wait: Duration,
}

impl From<&crate::config::RuntimeSection> for RuntimeLimits {
    fn from(section: &crate::config::RuntimeSection) -> Self {
        RuntimeLimits {
            max_memory_bytes: (section.max_memory_mib as usize) << 20,
            max_cpu: Duration::from_millis(section.max_cpu_ms),
            first_event_timeout: Duration::from_secs_f64(section.first_event_timeout_secs),
            idle_timeout: Duration::from_secs_f64(section.idle_timeout_secs),
            max_instances: section.max_instances(),
            max_answer_bytes: (section.max_answer_mib as usize) << 20,
            max_request: Duration::from_secs_f64(section.max_request_secs),
            max_slot_wait: Duration::from_secs_f64(section.max_slot_wait_secs),
        }
    }
}

/// Everything shared by all plugins: engine, linker, state
/// store, the instance slots and the compiled-component cache.
pub struct Runtime {
    pub(super) engine: Engine,
    pub(super) linker: Linker<PluginState>,
    pub(super) limits: RuntimeLimits,
    pub(super) slots: Arc<Semaphore>,
    pub(super) cache_dir: Option<PathBuf>,
    pub state: Arc<StateStore>,
}

impl Runtime {
    pub fn new(
        limits: RuntimeLimits,
        cache_dir: Option<PathBuf>,
        state: Arc<StateStore>,
    ) -> wasmtime::Result<Arc<Self>> {
        let instances = limits.max_instances;
        let mut pool = PoolingAllocationConfig::new();
        // A Rust plugin is one component with a handful of core instances
        // (its module plus canonical-ABI shims), one memory and a few tables.
        // Each component is held to that shape, and the pool holds that much
        // for every slot, so no component can take more than its share.
        pool.total_component_instances(instances)
            .max_core_instances_per_component(MAX_CORE_INSTANCES)
            .max_memories_per_component(MAX_MEMORIES)
            .max_tables_per_component(MAX_TABLES)
            .total_core_instances(instances * MAX_CORE_INSTANCES)
            .total_memories(instances * MAX_MEMORIES)
            .total_tables(instances * MAX_TABLES)
            .total_stacks(instances)
            .max_memory_size(limits.max_memory_bytes);
        // A finished instance's memory is reset by copying its image back
        // over the pages it dirtied (found with the PAGEMAP_SCAN ioctl, Linux
        // 6.7+) when they add up to at most this much, instead of discarding
        // them with `madvise`: no page faults for the next request in that
        // slot, and no TLB shootdown interrupting every core the gateway
        // runs on. Either way the next instance sees only the image. The
        // cost is memory: each slot used keeps up to this much resident.
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            .pagemap_scan(wasmtime::Enabled::Auto);
        // A free slot that served a plugin is reused for it before any slot
        // never used (wasmtime's default keeps up to 100 used slots idle and
        // takes fresh ones meanwhile): the slots that hold pages resident
        // are then only as many as requests ever ran at once.
        pool.max_unused_warm_slots(0);

        let mut config = Config::new();
        // Naming the target (the host's own) turns off CPU-feature inference:
        // code is compiled for the architecture's baseline, so a compile cache
        // built on one machine (an image builder) is valid on another.
        config.target(&target_lexicon::Triple::host().to_string())?;
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // For profiling the plugins' compiled code with `perf` (see
        // bench/README.md): names each function in /tmp/perf-<pid>.map.
        if std::env::var_os("WASMGATE_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        spawn_epoch_ticker(&engine);

        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Arc::new(Runtime {
            linker: linker::build(&engine)?,
            engine,
            slots: Arc::new(Semaphore::new(instances as usize)),
            limits,
            cache_dir,
            state,
        }))
    }

    pub fn limits(&self) -> &RuntimeLimits {
        &self.limits
    }
}

/// Advances the epoch from a plain thread; it stops when the engine is gone.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasmgate-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
