//! Per-instance resource accounting: linear memory, the shape of the
//! component (memories, core instances, tables), and CPU time.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Linear memories one instance may have. A Rust component has one; two
/// leaves room for a component with an adapter. The pool is sized to match,
/// so no component can drain it.
pub const MAX_MEMORIES: u32 = 2;
/// Core instances one instance may create (a Rust plugin creates three: its
/// module and the canonical-ABI shim and fixups).
pub const MAX_CORE_INSTANCES: u32 = 16;
/// Tables one instance may create.
pub const MAX_TABLES: u32 = 8;
/// Elements one table may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps the linear memory of one instance as a whole — the total over every
/// memory of every core module in the component, not each memory alone — and
/// remembers that the cap was hit so the failure is reported as such.
pub struct MemoryCap {
    max_bytes: usize,
    total: usize,
    /// The growth last allowed, taken back if the grow then failed.
    last_grow: usize,
    pub exceeded: bool,
}

impl MemoryCap {
    pub fn new(max_bytes: usize) -> Self {
        MemoryCap {
            max_bytes,
            total: 0,
            last_grow: 0,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Also called with `current == 0` when a memory is created, so the
        // initial size of every memory counts.
        let grow = desired.saturating_sub(current);
        if self.total.saturating_add(grow) > self.max_bytes {
            self.exceeded = true;
            wasmtime::bail!(
                "the plugin exceeded its memory limit of {} MiB",
                self.max_bytes >> 20
            );
        }
        self.total += grow;
        self.last_grow = grow;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.total = self
            .total
            .saturating_sub(std::mem::take(&mut self.last_grow));
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES as usize
    }
}

/// CPU time the plugin's code really ran, from the thread's own CPU clock
/// read at every host/guest crossing.
///
/// wasmtime runs the call hook around every host function and libcall, the
/// epoch yield included, so time parked in async host calls (network I/O,
/// sleeps) and in the run queue after a yield falls outside the measured
/// stretches. Within a stretch, wall time would still charge the plugin for
/// the time its thread was preempted by others: on a loaded machine a plugin
/// using 100 ms was charged seconds. The thread's CPU clock does not advance
/// while it is preempted.
pub struct CpuMeter {
    pub budget: Duration,
    used: Duration,
    /// The thread's CPU clock when the guest last started running.
    since: Option<Duration>,
    pub exceeded: bool,
}

impl CpuMeter {
    pub fn new(budget: Duration) -> Self {
        CpuMeter {
            budget,
            used: Duration::ZERO,
            since: None,
            exceeded: false,
        }
    }

    pub fn enter_guest(&mut self) {
        self.since = Some(thread_cpu_time());
    }

    pub fn leave_guest(&mut self) {
        if let Some(since) = self.since.take() {
            // The guest cannot move threads without crossing into the host.
            self.used += thread_cpu_time().saturating_sub(since);
        }
    }

    /// Host work done on the guest's behalf (its own capabilities' calls),
    /// charged as if the guest had run it.
    pub fn charge(&mut self, spent: Duration) {
        self.used += spent;
    }

    /// Called at every epoch tick while the guest runs (inside the host call
    /// that the hook already charged up to).
    pub fn over_budget(&mut self) -> bool {
        let running = self.since.map_or(Duration::ZERO, |since| {
            thread_cpu_time().saturating_sub(since)
        });
        self.exceeded = self.used + running > self.budget;
        self.exceeded
    }

    /// CPU time the guest has used (up to its last return to the host).
    pub fn used(&self) -> Duration {
        self.used
    }
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every Linux and macOS kernel knows.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_is_the_total_of_all_memories() {
        let mut cap = MemoryCap::new(32 << 20);
        assert!(cap.memory_growing(0, 20 << 20, None).unwrap());
        assert!(
            cap.memory_growing(0, 20 << 20, None).is_err(),
            "second memory"
        );
        assert!(cap.exceeded);
        let mut cap = MemoryCap::new(32 << 20);
        assert!(cap.memory_growing(0, 16 << 20, None).unwrap());
        assert!(cap.memory_growing(16 << 20, 30 << 20, None).unwrap());
        cap.memory_grow_failed(wasmtime::format_err!("no")).unwrap();
        assert!(cap.memory_growing(16 << 20, 32 << 20, None).unwrap());
    }

    #[test]
    fn waiting_is_not_charged_but_running_is() {
        let mut meter = CpuMeter::new(Duration::from_secs(1));
        meter.enter_guest();
        std::thread::sleep(Duration::from_millis(50));
        meter.leave_guest();
        assert!(
            meter.used() < Duration::from_millis(25),
            "{:?}",
            meter.used()
        );
        let waited = meter.used();
        meter.enter_guest();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        meter.leave_guest();
        assert!(meter.used() > waited, "running is charged");
    }
}
