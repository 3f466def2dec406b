//! Per-instance resource accounting: linear memory and CPU time.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// Caps linear memory, and remembers that the cap was hit so the failure can
/// be reported as such rather than as a generic trap.
pub struct MemoryCap {
    max_bytes: usize,
    pub exceeded: bool,
}

impl MemoryCap {
    pub fn new(max_bytes: usize) -> Self {
        MemoryCap {
            max_bytes,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            wasmtime::bail!(
                "the plugin exceeded its memory limit of {} MiB",
                self.max_bytes >> 20
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Time spent executing the plugin's code, measured at every crossing of the
/// host/guest boundary. Time the plugin spends waiting on the host (network
/// I/O) does not count.
pub struct CpuMeter {
    pub budget: Duration,
    used: Duration,
    running_since: Option<Instant>,
    pub exceeded: bool,
}

impl CpuMeter {
    pub fn new(budget: Duration) -> Self {
        CpuMeter {
            budget,
            used: Duration::ZERO,
            running_since: None,
            exceeded: false,
        }
    }

    pub fn enter_guest(&mut self) {
        self.running_since = Some(Instant::now());
    }

    pub fn leave_guest(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.used += since.elapsed();
        }
    }

    /// Called at every epoch tick while the guest runs.
    pub fn over_budget(&mut self) -> bool {
        let running = self
            .running_since
            .map_or(Duration::ZERO, |since| since.elapsed());
        self.exceeded = self.used + running > self.budget;
        self.exceeded
    }
}
