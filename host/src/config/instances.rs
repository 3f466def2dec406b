//! The default instance cap (`[runtime] max-instances` when unset), from the
//! machine's memory and the per-instance memory cap.
//!
//! An instance may grow to `max-memory-mib`, but a typical one uses a small
//! part of it (a streaming Gemini instance about 0.1 MiB). So the default
//! lets all instances' caps together reach [`OVERCOMMIT`] times the memory
//! the gateway may use — the machine's, or its container's limit when that
//! is lower — which on a 24 GB machine with the 128 MiB default is 754
//! instances, and on a 2 GB container 64. An explicit setting always wins.

use std::path::Path;

/// How many times the memory available the instances' caps may add up to.
pub const OVERCOMMIT: u64 = 4;
/// Fewest instances by default, however small the machine.
pub const MIN_DEFAULT: u32 = 32;
/// Most instances by default, however large the machine.
pub const MAX_DEFAULT: u32 = 4096;
/// Used when the machine's memory cannot be read (not Linux).
pub const FALLBACK: u32 = 256;

/// The default cap for instances of `max_memory_mib` each.
pub fn default_max_instances(max_memory_mib: u64) -> u32 {
    match available_memory_mib(Path::new("/")) {
        Some(memory_mib) => derive(memory_mib, max_memory_mib),
        None => FALLBACK,
    }
}

/// The rule itself, apart from reading the machine.
pub fn derive(memory_mib: u64, max_memory_mib: u64) -> u32 {
    let instances = memory_mib.saturating_mul(OVERCOMMIT) / max_memory_mib.max(1);
    instances.clamp(u64::from(MIN_DEFAULT), u64::from(MAX_DEFAULT)) as u32
}

/// The memory the gateway may use, in MiB: the machine's total, or the
/// limit of the cgroup it runs in (v2 `memory.max`, v1
/// `memory.limit_in_bytes`) when that is lower. `root` is `/` but for tests.
pub fn available_memory_mib(root: &Path) -> Option<u64> {
    let total = std::fs::read_to_string(root.join("proc/meminfo"))
        .ok()
        .and_then(|info| mem_total_mib(&info))?;
    let cgroup = [
        "sys/fs/cgroup/memory.max",
        "sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|file| std::fs::read_to_string(root.join(file)).ok())
    .filter_map(|text| text.trim().parse::<u64>().ok())
    .map(|bytes| bytes >> 20)
    .min();
    Some(cgroup.map_or(total, |limit| limit.min(total)))
}

fn mem_total_mib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_memory_and_the_per_instance_cap() {
        assert_eq!(derive(24_151, 128), 754);
        assert_eq!(derive(2_048, 128), 64);
        assert_eq!(derive(24_151, 512), 188);
        assert_eq!(derive(512, 128), MIN_DEFAULT);
        assert_eq!(derive(1 << 30, 1), MAX_DEFAULT);
    }

    #[test]
    fn a_container_limit_lower_than_the_machine_wins() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("proc")).unwrap();
        std::fs::write(
            root.path().join("proc/meminfo"),
            "MemTotal:       24730948 kB\nMemFree:  1 kB\n",
        )
        .unwrap();
        assert_eq!(available_memory_mib(root.path()), Some(24_151));
        std::fs::create_dir_all(root.path().join("sys/fs/cgroup")).unwrap();
        std::fs::write(root.path().join("sys/fs/cgroup/memory.max"), "max\n").unwrap();
        assert_eq!(available_memory_mib(root.path()), Some(24_151));
        std::fs::write(root.path().join("sys/fs/cgroup/memory.max"), "2147483648\n").unwrap();
        assert_eq!(available_memory_mib(root.path()), Some(2_048));
    }
}
