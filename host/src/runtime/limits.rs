//! Per-instance resource accounting: linear memory, the shape of the
//! component (memories, core instances, tables), and CPU time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
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

/// CPU time a request's calls into the plugin used: the thread's own CPU
/// clock over each poll of a call into the guest.
///
/// A poll runs the plugin's code and the synchronous host work of the calls
/// it makes (building a request, writing a log line, a `state` lookup), all
/// on this thread and all on the plugin's behalf, so all of it is charged.
/// When the plugin waits in an asynchronous host call (network I/O, a
/// sleep) the poll ends, and the wait, like any time in the run queue after
/// an epoch yield, falls between polls and is not charged; neither is time
/// the thread was preempted, which its CPU clock does not count. Reading the
/// clock is a system call, so it is read twice per poll (a handful per
/// request), not at every host/guest crossing.
#[derive(Clone)]
pub struct CpuMeter {
    budget: Duration,
    inner: Arc<Mutex<Metered>>,
}

#[derive(Default)]
struct Metered {
    used: Duration,
    /// The thread's CPU clock when the poll in progress began.
    since: Option<Duration>,
    exceeded: bool,
}

impl CpuMeter {
    pub fn new(budget: Duration) -> Self {
        CpuMeter {
            budget,
            inner: Arc::default(),
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Metered> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_started(&self) {
        self.lock().since = Some(thread_cpu_time());
    }

    fn poll_ended(&self) {
        let mut meter = self.lock();
        if let Some(since) = meter.since.take() {
            meter.used += thread_cpu_time().saturating_sub(since);
        }
    }

    /// Called at every epoch tick while the guest runs: whether the calls so
    /// far and the poll in progress went over the budget.
    pub fn over_budget(&self) -> bool {
        let mut meter = self.lock();
        let running = meter.since.map_or(Duration::ZERO, |since| {
            thread_cpu_time().saturating_sub(since)
        });
        meter.exceeded = meter.used + running > self.budget;
        meter.exceeded
    }

    /// Whether a tick found the budget spent.
    pub fn exceeded(&self) -> bool {
        self.lock().exceeded
    }

    /// CPU time the calls have used (up to the last poll's end).
    pub fn used(&self) -> Duration {
        self.lock().used
    }

    /// `call`, with the CPU time of each of its polls charged to this meter.
    pub fn meter<F: Future>(&self, call: F) -> MeteredCall<F> {
        MeteredCall {
            meter: self.clone(),
            call,
        }
    }

    /// [`CpuMeter::meter`], given up at `deadline`.
    pub fn meter_within<F: Future>(
        &self,
        deadline: Duration,
        call: F,
    ) -> tokio::time::Timeout<MeteredCall<F>> {
        tokio::time::timeout(deadline, self.meter(call))
    }
}

pin_project_lite::pin_project! {
    /// A call into the guest whose every poll is charged to its meter.
    pub struct MeteredCall<F> {
        meter: CpuMeter,
        #[pin]
        call: F,
    }
}

impl<F: Future> Future for MeteredCall<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.meter.poll_started();
        let polled = this.call.poll(cx);
        this.meter.poll_ended();
        polled
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

    #[tokio::test]
    async fn waiting_between_polls_is_not_charged_but_polls_are() {
        let meter = CpuMeter::new(Duration::from_secs(1));
        meter
            .meter(tokio::time::sleep(Duration::from_millis(50)))
            .await;
        assert!(
            meter.used() < Duration::from_millis(25),
            "{:?}",
            meter.used()
        );
        let waited = meter.used();
        meter
            .meter(async {
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
            })
            .await;
        assert!(meter.used() > waited, "running is charged");
    }
}
