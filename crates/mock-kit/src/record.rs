//! The requests a mock saw, in arrival order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::lock;

/// A log of requests (of the mock's own record type) and their numbering.
pub struct Recorder<T> {
    seq: AtomicU64,
    log: Mutex<Vec<T>>,
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Recorder {
            seq: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Clone> Recorder<T> {
    /// The number of the request that just arrived, from 1 (it keeps
    /// counting across [`Recorder::clear`]).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The number of the newest request (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    pub fn record(&self, request: T) {
        lock(&self.log).push(request);
    }

    /// Changes the newest recorded request that `which` picks (e.g. to set
    /// the status of one whose answer was held).
    pub fn update(&self, which: impl Fn(&T) -> bool, change: impl FnOnce(&mut T)) {
        if let Some(entry) = lock(&self.log).iter_mut().rev().find(|e| which(e)) {
            change(entry);
        }
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<T> {
        lock(&self.log).clone()
    }

    pub fn clear(&self) {
        lock(&self.log).clear();
    }
}
