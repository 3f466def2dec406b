//! What a test does with any mock: read the requests it received, and hold
//! and release its answers. A mock keeps one [`Controls`] and lets its
//! handle deref to it, so every mock answers `requests()`, `release()`,
//! `held()` the same way.

use std::sync::Arc;

use crate::{Gate, HoldSwitch, Recorder};

/// A way of holding answers: a [`Gate`] (a release frees the requests that
/// arrived before it) or a [`HoldSwitch`] (released until switched on again).
pub trait Hold: Default {
    /// Lets every held answer go on.
    fn release(&self);
    /// How many answers wait now.
    fn held(&self) -> usize;
}

impl Hold for Gate {
    fn release(&self) {
        Gate::release(self)
    }
    fn held(&self) -> usize {
        Gate::held(self)
    }
}

impl Hold for HoldSwitch {
    fn release(&self) {
        HoldSwitch::release(self)
    }
    fn held(&self) -> usize {
        HoldSwitch::held(self)
    }
}

/// A mock's request log and its hold.
pub struct Controls<R, H = Gate> {
    pub records: Recorder<R>,
    /// Shared with the bodies that wait at their hold point.
    pub hold: Arc<H>,
}

impl<R, H: Hold> Controls<R, H> {
    pub fn with_hold(hold: H) -> Self {
        Controls {
            records: Recorder::default(),
            hold: Arc::new(hold),
        }
    }
}

impl<R, H: Hold> Default for Controls<R, H> {
    fn default() -> Self {
        Self::with_hold(H::default())
    }
}

impl<R: Clone, H: Hold> Controls<R, H> {
    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<R> {
        self.records.all()
    }

    /// The requests `which` picks, in arrival order.
    pub fn requests_where(&self, which: impl Fn(&R) -> bool) -> Vec<R> {
        self.records
            .all()
            .into_iter()
            .filter(|r| which(r))
            .collect()
    }

    /// Forgets the recorded requests (their numbering goes on).
    pub fn clear_requests(&self) {
        self.records.clear();
    }

    /// Lets the held answers go on.
    pub fn release(&self) {
        self.hold.release();
    }

    /// How many answers are held now.
    pub fn held(&self) -> usize {
        self.hold.held()
    }
}

impl<R> Controls<R, Gate> {
    /// Waits until at least `count` answers are held (wrap it in a timeout).
    pub async fn wait_for_held(&self, count: usize) {
        self.hold.wait_for_held(count).await;
    }
}
