//! Watching `plugins/` and `plugins.toml` and running reload passes.
//!
//! The notify callback only signals; one task debounces the signals
//! (trailing, 200 ms: a copy or an editor's save makes several events) and
//! runs the passes one at a time, so loads never race each other.
//!
//! `plugins.toml` written in place (an editor that truncates and writes, a
//! slow `cp`) may be caught half-written, and half a file can parse. So a
//! pass after such writes holds a file changed less than
//! [`crate::reload::CONFIG_SETTLE`] ago back for a later pass; a file renamed
//! into place (the usual atomic save) is whole and applies at once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::reload::Reloader;

pub(crate) const DEBOUNCE: Duration = Duration::from_millis(200);
/// When a file was caught mid-write, look again after this long.
const RETRY: Duration = Duration::from_millis(300);

/// Keeps the watch alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

/// The reloader is shared with the admin console, which runs its own passes
/// through it (one at a time, like the watcher's).
pub fn spawn(shared: Arc<tokio::sync::Mutex<Reloader>>) -> notify::Result<WatchGuard> {
    let (signal, mut signals) = mpsc::channel::<()>(1);
    let reloader = shared
        .try_lock()
        .expect("the reloader is not in use before the watch starts");
    let config_name = reloader
        .config_path()
        .and_then(|p| p.file_name())
        .map(|n| n.to_os_string());
    let plugins_dir = reloader.plugins_dir().to_path_buf();
    let watched_plugins = plugins_dir.clone();
    let uploads_dir = reloader.uploads_dir().map(Path::to_path_buf);
    let watched_uploads = uploads_dir.clone();
    // Counts writes into `plugins.toml` in place; a pass settles the file
    // while a write it has not seen settled is pending.
    let in_place_writes = Arc::new(AtomicU64::new(0));
    let counted_writes = in_place_writes.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = match event.kind {
            EventKind::Access(_) => false,
            EventKind::Modify(notify::event::ModifyKind::Metadata(_)) => false,
            _ => event.paths.iter().any(|path| {
                path.parent() == Some(watched_plugins.as_path())
                    || path.parent() == watched_uploads.as_deref()
                    || config_name
                        .as_deref()
                        .is_some_and(|name| path.file_name() == Some(name))
            }),
        };
        let config_data_written = matches!(
            event.kind,
            EventKind::Modify(notify::event::ModifyKind::Data(_) | notify::event::ModifyKind::Any)
        ) && event.paths.iter().any(|path| {
            config_name
                .as_deref()
                .is_some_and(|name| path.file_name() == Some(name))
        });
        if config_data_written {
            counted_writes.fetch_add(1, Ordering::SeqCst);
        }
        if relevant {
            // A full channel already holds a pending signal: nothing is lost.
            let _ = signal.try_send(());
        }
    })?;
    std::fs::create_dir_all(&plugins_dir).ok();
    watcher.watch(&plugins_dir, RecursiveMode::NonRecursive)?;
    if let Some(dir) = &uploads_dir
        && std::fs::create_dir_all(dir).is_ok()
    {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    if let Some(dir) = reloader.config_path().and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    drop(reloader);
    tokio::spawn(async move {
        let mut settled_writes = 0;
        while signals.recv().await.is_some() {
            loop {
                // Wait until the events stop for a moment.
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, signals.recv()).await {}
                // A pass that panics (a bug, a value nobody foresaw) must not
                // end hot reload: the last good state stays live and the next
                // change gets a pass of its own.
                let writes = in_place_writes.load(Ordering::SeqCst);
                let settle = writes != settled_writes;
                let pass = std::panic::AssertUnwindSafe(async {
                    let mut reloader = shared.lock().await;
                    if settle {
                        reloader.reload_changed().await
                    } else {
                        reloader.reload().await
                    }
                });
                match futures::FutureExt::catch_unwind(pass).await {
                    Ok(true) => {}
                    Ok(false) => {
                        settled_writes = writes;
                        break;
                    }
                    Err(_) => {
                        tracing::error!("a reload pass failed; the last good state stays live");
                        break;
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    });
    Ok(WatchGuard { _watcher: watcher })
}
