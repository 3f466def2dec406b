//! Where a request's time goes inside the runtime, phase by phase: an
//! optional measurement for `bench/run` and for anyone chasing the gateway's
//! own latency.
//!
//! Off unless the gateway starts with `WASMGATE_PHASE_TIMING=1`; then every
//! phase's count and total time are kept in two atomics and shown in
//! `/metrics` as `wasmgate_phase_seconds_total{phase="…"}` and
//! `wasmgate_phase_count_total{phase="…"}`. Off, a phase costs one relaxed
//! load of a flag and no clock read.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One measured stretch of a request.
#[derive(Debug, Clone, Copy)]
pub enum Phase {
    /// Waiting for an instance slot, then creating the store and instance.
    Instantiate,
    /// `chat()`: from the call into the guest until it returned (the
    /// upstream's response head included).
    Chat,
    /// A plugin's outgoing request, from `send_request` until the upstream's
    /// response head (wall time: includes the upstream's own time).
    Egress,
    /// The first call of `next()` into the guest: its first batch of
    /// events (reading and decoding the first piece of the upstream's body).
    FirstEvent,
    /// Every later call of `next()` into the guest (a batch each).
    NextEvent,
    /// From one event handed to the host until the next is asked for: the
    /// front door writing the event's frame and passing it to hyper.
    BetweenEvents,
    /// CPU time of the calls into the guest per instance (its code and the
    /// host's synchronous work in its calls, by the thread's CPU clock over
    /// each poll; the same figure the CPU budget uses).
    GuestCpu,
}

const PHASES: [(Phase, &str); 7] = [
    (Phase::Instantiate, "instantiate"),
    (Phase::Chat, "chat"),
    (Phase::Egress, "egress"),
    (Phase::FirstEvent, "first_event"),
    (Phase::NextEvent, "next_event"),
    (Phase::BetweenEvents, "between_events"),
    (Phase::GuestCpu, "guest_cpu"),
];

struct Totals {
    count: [AtomicU64; PHASES.len()],
    nanos: [AtomicU64; PHASES.len()],
}

static TOTALS: Totals = Totals {
    count: [const { AtomicU64::new(0) }; PHASES.len()],
    nanos: [const { AtomicU64::new(0) }; PHASES.len()],
};

/// Whether phases are measured (`WASMGATE_PHASE_TIMING=1`), read once.
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("WASMGATE_PHASE_TIMING").is_ok_and(|v| v == "1"))
}

/// The clock at the start of a phase, when phases are measured.
pub fn start() -> Option<Instant> {
    enabled().then(Instant::now)
}

/// Ends a phase begun with [`start`].
pub fn finish(phase: Phase, started: Option<Instant>) {
    if let Some(started) = started {
        record(phase, started.elapsed());
    }
}

/// Adds one stretch of `phase` (ignored when phases are not measured).
pub fn record(phase: Phase, spent: Duration) {
    if !enabled() {
        return;
    }
    let index = phase as usize;
    TOTALS.count[index].fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
    TOTALS.nanos[index].fetch_add(nanos, Ordering::Relaxed);
}

/// The totals in Prometheus' text format; nothing when phases are not measured.
pub fn render(out: &mut String) {
    if !enabled() {
        return;
    }
    crate::metrics::help(
        out,
        "wasmgate_phase_seconds_total",
        "counter",
        "Time spent in each phase of a request (WASMGATE_PHASE_TIMING=1).",
    );
    for (phase, name) in PHASES {
        let nanos = TOTALS.nanos[phase as usize].load(Ordering::Relaxed);
        out.push_str(&format!(
            "wasmgate_phase_seconds_total{{phase=\"{name}\"}} {}\n",
            nanos as f64 / 1e9
        ));
    }
    crate::metrics::help(
        out,
        "wasmgate_phase_count_total",
        "counter",
        "Times each phase of a request was measured (WASMGATE_PHASE_TIMING=1).",
    );
    for (phase, name) in PHASES {
        let count = TOTALS.count[phase as usize].load(Ordering::Relaxed);
        out.push_str(&format!(
            "wasmgate_phase_count_total{{phase=\"{name}\"}} {count}\n"
        ));
    }
}
