//! The console's files in the data directory: the live configuration
//! (`wasmgate-plugins.toml`, which wins over the shipped `plugins.toml` once
//! it exists), the versions applied before it (`wasmgate-config-history/`),
//! and uploaded plugins (`wasmgate-plugins/`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::clock::unix_millis;
use crate::config::Config;

pub const LIVE_CONFIG: &str = "wasmgate-plugins.toml";
pub const HISTORY_DIR: &str = "wasmgate-config-history";
pub const UPLOADS_DIR: &str = "wasmgate-plugins";
/// Versions kept in the history.
const HISTORY_KEPT: usize = 30;

/// The console's copy of the configuration in `data_dir`, when one was saved.
pub fn live_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LIVE_CONFIG)
}

pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(UPLOADS_DIR)
}

/// The configuration to start with: the console's saved copy when there is
/// one and it is valid, else `shipped`.
pub fn effective_config(data_dir: Option<&Path>, shipped: Config) -> Config {
    let Some(dir) = data_dir else {
        return shipped;
    };
    let path = live_config_path(dir);
    if !path.exists() {
        return shipped;
    }
    match Config::load(&path) {
        Ok(config) => {
            tracing::info!(
                path = %path.display(),
                "configuration saved from the console; it wins over {} (delete it, or use \"Back to the shipped file\" in the console, to return to that one)",
                shipped.source.display()
            );
            config
        }
        Err(err) => {
            tracing::error!(
                "the console's saved configuration is not valid, starting with {} instead: {err}",
                shipped.source.display()
            );
            shipped
        }
    }
}

/// One version in the history.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// Unix milliseconds at which it was applied; also its id.
    pub id: u64,
    pub bytes: u64,
}

pub fn history_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(HISTORY_DIR)
}

/// Saves `text` as the live configuration and as the newest history entry.
/// The first time, `previous` (the live text it replaces, e.g. the shipped
/// file) goes into the history first, so it can be rolled back to.
pub fn save(data_dir: &Path, text: &str, previous: Option<&str>) -> std::io::Result<u64> {
    let history = history_dir(data_dir);
    std::fs::create_dir_all(&history)?;
    if let Some(previous) = previous.filter(|p| *p != text)
        && history_of(data_dir).is_empty()
    {
        let id = unix_millis().saturating_sub(1);
        crate::persist::write_private(&history.join(format!("{id}.toml")), previous.as_bytes())?;
    }
    let mut id = unix_millis();
    while history.join(format!("{id}.toml")).exists() {
        id += 1;
    }
    crate::persist::write_private(&history.join(format!("{id}.toml")), text.as_bytes())?;
    crate::persist::write_private(&live_config_path(data_dir), text.as_bytes())?;
    let versions = history_of(data_dir);
    for old in versions.iter().skip(HISTORY_KEPT) {
        let _ = std::fs::remove_file(history.join(format!("{}.toml", old.id)));
    }
    Ok(id)
}

/// The versions kept, newest first.
pub fn history_of(data_dir: &Path) -> Vec<Version> {
    let mut versions: Vec<Version> = std::fs::read_dir(history_dir(data_dir))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let id = name.strip_suffix(".toml")?.parse().ok()?;
                    Some(Version {
                        id,
                        bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|v| std::cmp::Reverse(v.id));
    versions
}

pub fn version_text(data_dir: &Path, id: u64) -> Option<String> {
    std::fs::read_to_string(history_dir(data_dir).join(format!("{id}.toml"))).ok()
}

/// A line diff of `old` → `new` in unified style (`-`, `+`, and two lines
/// of context around each change, `@@ line N` before each hunk).
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() * b.len() > 4_000_000 {
        return "(too large to compare line by line)\n".into();
    }
    // Longest common subsequence, then a walk.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (op, text, line in new)
    let mut ops: Vec<(char, &str, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i], j + 1));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i], j + 1));
            i += 1;
        } else {
            ops.push(('+', b[j], j + 1));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut shown_until = 0usize;
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT).max(shown_until);
        let mut end = changed[k] + CONTEXT + 1;
        while k + 1 < changed.len() && changed[k + 1] <= end + CONTEXT {
            k += 1;
            end = changed[k] + CONTEXT + 1;
        }
        let end = end.min(ops.len());
        out.push_str(&format!("@@ line {}\n", ops[start].2));
        for (op, text, _) in &ops[start..end] {
            out.push(*op);
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        shown_until = end;
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_shows_changed_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\n";
        let d = diff(old, new);
        assert_eq!(d, "@@ line 2\n  b\n  c\n- d\n+ D\n  e\n  f\n");
        assert_eq!(diff(old, old), "");
    }

    #[test]
    fn history_keeps_versions_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = save(dir.path(), "one", Some("shipped")).unwrap();
        let second = save(dir.path(), "two", Some("one")).unwrap();
        let history = history_of(dir.path());
        assert_eq!(
            history.len(),
            3,
            "the shipped text first, then each version"
        );
        assert_eq!(history[0].id, second);
        assert_eq!(history[1].id, first);
        assert_eq!(version_text(dir.path(), first).as_deref(), Some("one"));
        assert_eq!(
            version_text(dir.path(), history[2].id).as_deref(),
            Some("shipped")
        );
        assert_eq!(
            std::fs::read_to_string(live_config_path(dir.path())).unwrap(),
            "two"
        );
    }
}
