//! A chaos driver: every period, a random fraction of a key pool gets faults.
//!
//! ```ignore
//! let keys: Vec<String> = (0..10).map(|i| format!("good-{i}")).collect();
//! let chaos = mock_gemini::chaos::start(&mock, ChaosPlan { keys, ..ChaosPlan::default() });
//! // … ≥ 2,000 requests through the gateway …
//! let rounds = chaos.rounds(); // the faults of each round, in order
//! chaos.stop();                // (or drop) — all faults are cleared
//! let statuses = mock.generation_statuses();
//! ```
//!
//! The rounds are deterministic for a seed (a splitmix64 generator); when
//! they happen relative to requests depends on timing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{KeyFault, MockUpstream, Shared, lock};

/// What the driver does; `Default`: 30 % of the keys, a new round every
/// 300 ms, seed 1, rate limits of 1 s, a mix of 429 / 400 / 500 / 503.
#[derive(Debug, Clone)]
pub struct ChaosPlan {
    /// The pool; duplicates count once.
    pub keys: Vec<String>,
    /// Share of the keys faulted in each round: round(fraction × keys), 0..=1.
    pub fraction: f64,
    /// Time between rounds (at least 1 ms).
    pub period: Duration,
    pub seed: u64,
    /// The `retry_delay` every drawn [`KeyFault::RateLimited`] carries (the
    /// one written in `mix` is replaced, so this alone sets it).
    pub rate_limit_delay: Duration,
    /// The faults drawn from, uniformly (list one twice to weight it). Empty:
    /// [`ChaosPlan::default_mix`].
    pub mix: Vec<KeyFault>,
}

impl ChaosPlan {
    /// 429 (per-minute, `rate_limit_delay`), 400 `API_KEY_INVALID`, 500, 503.
    pub fn default_mix(rate_limit_delay: Duration) -> Vec<KeyFault> {
        vec![
            KeyFault::RateLimited {
                retry_delay: rate_limit_delay,
            },
            KeyFault::InvalidKey,
            KeyFault::Internal,
            KeyFault::Unavailable,
        ]
    }
}

impl Default for ChaosPlan {
    fn default() -> Self {
        let rate_limit_delay = Duration::from_secs(1);
        ChaosPlan {
            keys: Vec::new(),
            fraction: 0.3,
            period: Duration::from_millis(300),
            seed: 1,
            rate_limit_delay,
            mix: ChaosPlan::default_mix(rate_limit_delay),
        }
    }
}

/// A running driver; [`stop`](Self::stop) or drop it to end the chaos.
pub struct ChaosHandle {
    shared: Arc<Shared>,
    rounds: Arc<Mutex<Vec<HashMap<String, KeyFault>>>>,
    stopped: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// Applies the first round now, then a new one every `plan.period` from a
/// task of the current tokio runtime; each round replaces all faults.
pub fn start(mock: &MockUpstream, plan: ChaosPlan) -> ChaosHandle {
    let shared = mock.state.clone();
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let stopped = Arc::new(AtomicBool::new(false));
    let mut draw = Draw::new(plan.clone());
    apply(&shared, &rounds, &stopped, draw.round());
    let task = {
        let (shared, rounds, stopped) = (shared.clone(), rounds.clone(), stopped.clone());
        let period = plan.period.max(Duration::from_millis(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                if !apply(&shared, &rounds, &stopped, draw.round()) {
                    break;
                }
            }
        })
    };
    ChaosHandle {
        shared,
        rounds,
        stopped,
        task,
    }
}

/// Installs a round unless the driver was stopped; `false` once stopped.
fn apply(
    shared: &Shared,
    rounds: &Mutex<Vec<HashMap<String, KeyFault>>>,
    stopped: &AtomicBool,
    round: HashMap<String, KeyFault>,
) -> bool {
    let mut faults = lock(&shared.faults);
    // Checked under the faults lock: `stop` sets the flag before it takes the
    // lock to clear, so no round can land after the clear.
    if stopped.load(Ordering::SeqCst) {
        return false;
    }
    *faults = round.clone();
    lock(rounds).push(round);
    true
}

impl ChaosHandle {
    /// The faults of every round so far, oldest first (the last is in force).
    pub fn rounds(&self) -> Vec<HashMap<String, KeyFault>> {
        lock(&self.rounds).clone()
    }

    /// Ends the driver and clears all faults (also those a test set itself).
    pub fn stop(self) {}
}

impl Drop for ChaosHandle {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.task.abort();
        lock(&self.shared.faults).clear();
    }
}

/// The deterministic sequence of rounds of a plan.
struct Draw {
    keys: Vec<String>,
    count: usize,
    mix: Vec<KeyFault>,
    random: SplitMix64,
}

impl Draw {
    fn new(plan: ChaosPlan) -> Self {
        let mut keys: Vec<String> = Vec::with_capacity(plan.keys.len());
        for key in plan.keys {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let fraction = if plan.fraction.is_nan() {
            0.0
        } else {
            plan.fraction.clamp(0.0, 1.0)
        };
        let count = ((fraction * keys.len() as f64).round() as usize).min(keys.len());
        let mix = if plan.mix.is_empty() {
            ChaosPlan::default_mix(plan.rate_limit_delay)
        } else {
            plan.mix
        };
        let mix = mix
            .into_iter()
            .map(|fault| match fault {
                KeyFault::RateLimited { .. } => KeyFault::RateLimited {
                    retry_delay: plan.rate_limit_delay,
                },
                other => other,
            })
            .collect();
        Draw {
            keys,
            count,
            mix,
            random: SplitMix64(plan.seed),
        }
    }

    /// `count` distinct keys (a partial Fisher–Yates shuffle), each with a
    /// fault from the mix.
    fn round(&mut self) -> HashMap<String, KeyFault> {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        let mut round = HashMap::with_capacity(self.count);
        for slot in 0..self.count {
            let pick = slot + self.random.below(order.len() - slot);
            order.swap(slot, pick);
            let fault = self.mix[self.random.below(self.mix.len())];
            round.insert(self.keys[order[slot]].clone(), fault);
        }
        round
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, and enough for picking keys.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`); the modulo bias is negligible here.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Vec<String> {
        (0..10).map(|i| format!("good-{i}")).collect()
    }

    fn rounds(seed: u64, count: usize) -> Vec<HashMap<String, KeyFault>> {
        let mut draw = Draw::new(ChaosPlan {
            keys: pool(),
            seed,
            ..ChaosPlan::default()
        });
        (0..count).map(|_| draw.round()).collect()
    }

    #[test]
    fn rounds_are_deterministic_per_seed() {
        assert_eq!(rounds(7, 20), rounds(7, 20));
        assert_ne!(rounds(7, 20), rounds(8, 20));
    }

    #[test]
    fn rounds_fault_a_fraction_of_distinct_keys_from_the_mix() {
        let mix = ChaosPlan::default_mix(Duration::from_secs(1));
        let all = rounds(1, 200);
        for round in &all {
            assert_eq!(round.len(), 3);
            assert!(round.keys().all(|key| pool().contains(key)));
            assert!(round.values().all(|fault| mix.contains(fault)));
        }
        // Over many rounds every key and every fault shows up.
        for key in pool() {
            assert!(all.iter().any(|round| round.contains_key(&key)), "{key}");
        }
        for fault in &mix {
            assert!(all.iter().any(|round| round.values().any(|f| f == fault)));
        }
    }

    #[test]
    fn the_plan_s_delay_and_bounds_apply() {
        let mut draw = Draw::new(ChaosPlan {
            keys: vec!["a".into(), "a".into(), "b".into()],
            fraction: 5.0,
            rate_limit_delay: Duration::from_millis(40),
            mix: vec![KeyFault::RateLimited {
                retry_delay: Duration::from_secs(9),
            }],
            ..ChaosPlan::default()
        });
        let round = draw.round();
        assert_eq!(round.len(), 2);
        assert!(round.values().all(|fault| *fault
            == KeyFault::RateLimited {
                retry_delay: Duration::from_millis(40)
            }));
        let mut none = Draw::new(ChaosPlan {
            keys: pool(),
            fraction: 0.0,
            ..ChaosPlan::default()
        });
        assert!(none.round().is_empty());
    }
}
