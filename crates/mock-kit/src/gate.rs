//! Holding answers until the test says go.

use tokio::sync::watch;

/// A request takes a ticket on arrival; [`Gate::release`] frees every
/// request that took its ticket before the call.
pub struct Gate {
    /// Bumped by `release()`; a held request waits for a value above its ticket.
    releases: watch::Sender<u64>,
    /// Requests waiting right now.
    held: watch::Sender<usize>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            releases: watch::Sender::new(0),
            held: watch::Sender::new(0),
        }
    }
}

impl Gate {
    /// The ticket a request takes on arrival: any later `release()` frees it.
    pub fn ticket(&self) -> u64 {
        *self.releases.borrow()
    }

    /// Waits until a `release()` later than `ticket`.
    pub async fn wait(&self, ticket: u64) {
        let mut releases = self.releases.subscribe();
        self.held.send_modify(|held| *held += 1);
        let _ = releases.wait_for(|released| *released > ticket).await;
        self.held.send_modify(|held| *held -= 1);
    }

    /// Lets every request held so far go on.
    pub fn release(&self) {
        self.releases.send_modify(|released| *released += 1);
    }

    /// How many requests are held now.
    pub fn held(&self) -> usize {
        *self.held.borrow()
    }

    /// Waits until at least `count` requests are held (wrap it in a timeout).
    pub async fn wait_for_held(&self, count: usize) {
        let mut held = self.held.subscribe();
        let _ = held.wait_for(|held| *held >= count).await;
    }
}
