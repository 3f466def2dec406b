//! Lanes: connections served on single-threaded runtimes, one per core.
//!
//! A request's work is a chain of small tasks that wake one another: the
//! connection, the stream writer, the plugin's outgoing request and the
//! upstream connection. On a work-stealing runtime each wake-up may move the
//! next task to another worker thread (a futex wake, a steal, cold caches);
//! measured with the bench, that cost a fifth of the gateway's CPU per
//! request. A lane is one thread with its own runtime: every task of a
//! connection, its requests and their plugins' upstream connections (see
//! `capabilities::egress`) stays on it. New connections go to the lane
//! serving the fewest. A plugin that computes for long still yields at every
//! epoch tick, so the other connections on its lane keep going.
//!
//! Everything else (reloads, the console's background work, pool refreshes)
//! runs on the main runtime.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The lanes of the process.
pub struct Lanes {
    lanes: Vec<Lane>,
}

struct Lane {
    handle: tokio::runtime::Handle,
    /// Connections it serves now.
    load: Arc<AtomicUsize>,
}

/// Counts a connection on its lane until dropped.
pub struct OnLane {
    load: Arc<AtomicUsize>,
}

impl Drop for OnLane {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lanes {
    /// `count` lanes; with none, connections are served on the calling
    /// (main) runtime.
    pub fn start(count: usize) -> std::io::Result<Lanes> {
        let mut lanes = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name(format!("wasmgate-lane-{index}"))
                .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
            lanes.push(Lane {
                handle,
                load: Arc::default(),
            });
        }
        Ok(Lanes { lanes })
    }

    /// One lane per core the process may use.
    pub fn per_core() -> std::io::Result<Lanes> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Lanes::start(cores)
    }

    pub fn count(&self) -> usize {
        self.lanes.len()
    }

    /// Runs a connection's future on the least loaded lane; `serve` gets the
    /// guard that counts it there.
    pub fn spawn<F, Fut>(&self, serve: F)
    where
        F: FnOnce(OnLane) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static + Send,
    {
        let Some(lane) = self
            .lanes
            .iter()
            .min_by_key(|lane| lane.load.load(Ordering::Relaxed))
        else {
            tokio::spawn(serve(OnLane {
                load: Arc::default(),
            }));
            return;
        };
        lane.load.fetch_add(1, Ordering::Relaxed);
        let guard = OnLane {
            load: lane.load.clone(),
        };
        lane.handle.spawn(serve(guard));
    }
}
