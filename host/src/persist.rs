//! Writing the gateway's own files in its data directory, and reading them
//! back without trusting them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes aside then renames (a crash never leaves half a file), readable by
/// the owner only: these files hold rotated credentials.
///
/// The file aside has a name nobody can guess ahead and is created, never
/// opened if something is already there, so a link planted in the data
/// directory is never followed; two savers never share it; and the
/// directory is synced after the rename, so the new name survives a crash.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        crate::clock::unix_millis()
    ));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Keeps a copy of a file that could not be read, next to it, before the
/// gateway writes a fresh one over it: what was in it can still be looked
/// at or repaired. Returns the copy's path.
pub fn keep_corrupt(path: &Path) -> Option<PathBuf> {
    let mut copy = path.as_os_str().to_owned();
    copy.push(format!(".corrupt-{}", crate::clock::unix_millis() / 1000));
    let copy = PathBuf::from(copy);
    match std::fs::copy(path, &copy) {
        Ok(_) => {
            tracing::warn!(
                path = %path.display(),
                copy = %copy.display(),
                "kept a copy of the unreadable file"
            );
            Some(copy)
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_in_the_data_directory_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let target = dir.path().join("wasmgate-state.json");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&victim, dir.path().join("wasmgate-state.json.tmp")).unwrap();
        write_private(&target, b"{}").unwrap();
        write_private(&target, b"{\"n\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"n\":1}");
        // Nothing aside is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") && n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn savers_racing_on_one_file_leave_a_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("wasmgate-accounts.json");
        std::thread::scope(|scope| {
            for n in 0..8 {
                let target = &target;
                scope.spawn(move || {
                    for _ in 0..50 {
                        write_private(target, format!("[{n}]").as_bytes()).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(serde_json::from_str::<Vec<u32>>(&text).is_ok(), "{text}");
    }
}
