//! A mock-wide hold: while it is on, every stream stops at its hold point.

use tokio::sync::watch;

/// Unlike a [`crate::Gate`], whose release frees only the requests that
/// arrived before it, a switch stays released until it is turned on again:
/// release once, and every later stream runs through too.
pub struct HoldSwitch {
    released: watch::Sender<bool>,
    /// Streams waiting at their hold point right now.
    held: watch::Sender<usize>,
}

impl Default for HoldSwitch {
    /// A switch that does not hold.
    fn default() -> Self {
        Self::new(false)
    }
}

impl HoldSwitch {
    /// A switch that holds from the start when `hold`.
    pub fn new(hold: bool) -> Self {
        HoldSwitch {
            released: watch::Sender::new(!hold),
            held: watch::Sender::new(0),
        }
    }

    /// Turns holding on (streams from now on stop) or off (held ones go on).
    pub fn set_hold(&self, hold: bool) {
        self.released.send_replace(!hold);
    }

    pub fn release(&self) {
        self.set_hold(false);
    }

    /// How many streams wait at their hold point now.
    pub fn held(&self) -> usize {
        *self.held.borrow()
    }

    /// A stream's hold point: waits while the switch holds. A stream dropped
    /// while it waits stops counting as held.
    pub async fn wait(&self) {
        let mut released = self.released.subscribe();
        if *released.borrow() {
            return;
        }
        struct Counted<'a>(&'a watch::Sender<usize>);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.send_modify(|held| *held -= 1);
            }
        }
        self.held.send_modify(|held| *held += 1);
        let _counted = Counted(&self.held);
        let _ = released.wait_for(|released| *released).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_release_lets_held_and_later_streams_through_until_held_again() {
        let switch = std::sync::Arc::new(HoldSwitch::new(true));
        let waiting = tokio::spawn({
            let switch = switch.clone();
            async move { switch.wait().await }
        });
        while switch.held() == 0 {
            tokio::task::yield_now().await;
        }
        switch.release();
        waiting.await.unwrap();
        assert_eq!(switch.held(), 0);
        switch.wait().await; // released: no wait
        switch.set_hold(true);
        let again = tokio::spawn({
            let switch = switch.clone();
            async move { switch.wait().await }
        });
        while switch.held() == 0 {
            tokio::task::yield_now().await;
        }
        again.abort();
        let _ = again.await;
        assert_eq!(switch.held(), 0, "a dropped stream is not held");
    }
}
