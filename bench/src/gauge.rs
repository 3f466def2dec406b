//! What the gateway process costs, read from `/proc/<pid>/`: CPU time
//! (user + system, over all its threads) and resident memory.

use std::time::Duration;

/// CPU time the process has used so far (`utime + stime` of
/// `/proc/<pid>/stat`). Its resolution is the kernel's clock tick (10 ms on
/// most Linux systems), fine over a run of seconds and thousands of requests.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) is in parentheses and may hold spaces: the
    // fields counted here start after its closing parenthesis.
    let Some(after_name) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state (3), …, utime (14), stime (15).
    let ticks = |field: usize| fields.get(field - 3).and_then(|v| v.parse::<u64>().ok());
    let (Some(user), Some(system)) = (ticks(14), ticks(15)) else {
        return Duration::ZERO;
    };
    Duration::from_secs_f64((user + system) as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Resident memory of the process, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let kib = line.strip_prefix("VmRSS:")?.trim().trim_end_matches("kB");
                kib.trim().parse::<u64>().ok()
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// The gateway's CPU time over one stretch of work.
pub struct CpuWindow {
    pid: u32,
    at_start: Duration,
}

impl CpuWindow {
    pub fn start(pid: u32) -> Self {
        CpuWindow {
            pid,
            at_start: cpu_time(pid),
        }
    }

    /// CPU time used since `start`, divided over `requests`.
    pub fn per_request(&self, requests: usize) -> Duration {
        let used = cpu_time(self.pid).saturating_sub(self.at_start);
        used.checked_div(requests.max(1) as u32)
            .unwrap_or(Duration::ZERO)
    }
}
