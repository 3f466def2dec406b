//! Memory freed under load goes back to the system once the gateway is idle.
//!
//! glibc's malloc keeps what a burst of requests freed inside its per-thread
//! arenas; the process's resident memory stays at the burst's level (on a
//! Space, the figure the platform shows and bills). Once no request has come
//! in for a second, [`trim`] asks malloc to give free pages back
//! (`malloc_trim`): once per idle spell, never while requests keep coming.

use std::time::Duration;

/// How often the request counter is looked at; idle means no new request
/// between two looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Runs for the life of the process (spawned once at start).
pub async fn trim() {
    let metrics = crate::metrics::global();
    let mut seen = metrics.requests_started();
    let mut trimmed_at = seen;
    let mut ticker = tokio::time::interval(LOOK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = metrics.requests_started();
        if now == seen && now != trimmed_at {
            give_back();
            trimmed_at = now;
        }
        seen = now;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back() {
    // SAFETY: malloc_trim only walks malloc's own arenas, under their locks.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back() {}
