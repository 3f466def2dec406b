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
    kib_field(&format!("/proc/{pid}/status"), "VmRSS:") * 1024
}

/// Proportional resident memory, in bytes (`Pss` of `/proc/<pid>/smaps_rollup`).
///
/// `VmRSS` counts a page once per mapping. Every pool slot that has run a
/// plugin keeps that plugin's memory image mapped from the compile cache, so
/// the same file pages count once per slot: after the 32-connection load,
/// 4.4 MB of RSS for one plugin's image whose pages take 1.1 MB. PSS counts
/// each page once (shared with other processes, in proportion).
pub fn pss_bytes(pid: u32) -> u64 {
    kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:") * 1024
}

/// Both readings of resident memory at one moment.
#[derive(Clone, Copy)]
pub struct Resident {
    pub rss: u64,
    pub pss: u64,
}

pub fn resident(pid: u32) -> Resident {
    Resident {
        rss: rss_bytes(pid),
        pss: pss_bytes(pid),
    }
}

impl std::fmt::Display for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        write!(f, "RSS {:.1} MB (PSS {:.1} MB)", mb(self.rss), mb(self.pss))
    }
}

/// The value of a `Name:   1234 kB` line of a `/proc` file; 0 if absent.
fn kib_field(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let kib = line.strip_prefix(name)?.trim().trim_end_matches("kB");
                kib.trim().parse::<u64>().ok()
            })
        })
        .unwrap_or(0)
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
