//! The key registry: what a key does is read from its prefix.
//!
//! | prefix | behaviour |
//! |---|---|
//! | `good-` | always accepted |
//! | `bad-` | 400 `API_KEY_INVALID` on every call |
//! | `banned-` | 403 `PERMISSION_DENIED` on every call |
//! | `limited-` | N generation calls succeed, then 429 (per-minute quota, `RetryInfo` = the configured delay) until the delay has passed; then N more. `limited-<N>-…` sets N, else [`crate::MockOptions::limited_successes`] |
//! | `daily-` | 429 with a per-day quota id on every generation call |
//! | anything else | 400 "API Key not found" |
//!
//! Model listing is not rate-limited: a limited or exhausted key still lists.
//!
//! A run-time fault ([`crate::KeyFault`], set with
//! [`crate::MockUpstream::set_key_fault`] or driven by [`crate::chaos`]) takes
//! precedence over the prefix for calls that spend quota, until it is removed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::google_errors::{self, GoogleError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Good,
    Bad,
    Banned,
    Limited { successes: u32 },
    Daily,
    Unknown,
}

pub fn kind(key: &str, default_successes: u32) -> KeyKind {
    if key.starts_with("good-") {
        KeyKind::Good
    } else if key.starts_with("bad-") {
        KeyKind::Bad
    } else if key.starts_with("banned-") {
        KeyKind::Banned
    } else if let Some(rest) = key.strip_prefix("limited-") {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let explicit = !digits.is_empty()
            && (rest.len() == digits.len() || rest[digits.len()..].starts_with('-'));
        let successes = if explicit {
            digits.parse().unwrap_or(default_successes)
        } else {
            default_successes
        };
        KeyKind::Limited { successes }
    } else if key.starts_with("daily-") {
        KeyKind::Daily
    } else {
        KeyKind::Unknown
    }
}

/// Whether a call spends quota (generation) or not (listing, counting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Free,
    Generation,
}

/// Per-key state of `limited-*` keys.
#[derive(Debug, Default)]
pub struct Limits {
    keys: HashMap<String, Window>,
}

#[derive(Debug, Default)]
struct Window {
    successes: u32,
    limited_until: Option<Instant>,
}

impl Limits {
    /// Checks a key for one call; `Err` is the answer to send instead.
    pub fn admit(
        &mut self,
        key: Option<&str>,
        cost: Cost,
        model: &str,
        default_successes: u32,
        retry_delay: Duration,
    ) -> Result<(), GoogleError> {
        let Some(key) = key else {
            return Err(google_errors::unregistered_caller());
        };
        match kind(key, default_successes) {
            KeyKind::Good => Ok(()),
            KeyKind::Bad => Err(google_errors::api_key_invalid()),
            KeyKind::Unknown => Err(google_errors::api_key_not_found()),
            KeyKind::Banned => Err(google_errors::permission_denied()),
            _ if cost == Cost::Free => Ok(()),
            KeyKind::Daily => Err(google_errors::daily_quota_exceeded(model)),
            KeyKind::Limited { successes } => {
                let window = self.keys.entry(key.to_string()).or_default();
                let now = Instant::now();
                match window.limited_until {
                    Some(until) if now < until => {
                        return Err(google_errors::quota_exceeded(
                            google_errors::PER_MINUTE_QUOTA_ID,
                            model,
                            round_up_millis(until - now),
                        ));
                    }
                    Some(_) => *window = Window::default(),
                    None => {}
                }
                if window.successes < successes {
                    window.successes += 1;
                    Ok(())
                } else {
                    window.limited_until = Some(now + retry_delay);
                    Err(google_errors::quota_exceeded(
                        google_errors::PER_MINUTE_QUOTA_ID,
                        model,
                        retry_delay,
                    ))
                }
            }
        }
    }
}

fn round_up_millis(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_nanos().div_ceil(1_000_000) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(kind("good-1", 2), KeyKind::Good);
        assert_eq!(kind("bad-1", 2), KeyKind::Bad);
        assert_eq!(kind("banned-x", 2), KeyKind::Banned);
        assert_eq!(kind("limited-a", 2), KeyKind::Limited { successes: 2 });
        assert_eq!(kind("limited-5-a", 2), KeyKind::Limited { successes: 5 });
        assert_eq!(kind("limited-0", 2), KeyKind::Limited { successes: 0 });
        assert_eq!(kind("limited-5x", 2), KeyKind::Limited { successes: 2 });
        assert_eq!(kind("daily-1", 2), KeyKind::Daily);
        assert_eq!(kind("AIzaSyWhatever", 2), KeyKind::Unknown);
    }

    #[test]
    fn limited_keys_recover_after_the_delay() {
        let mut limits = Limits::default();
        let delay = Duration::from_millis(50);
        let mut admit = |key| limits.admit(Some(key), Cost::Generation, "m", 2, delay);
        assert!(admit("limited-a").is_ok());
        assert!(admit("limited-a").is_ok());
        let refusal = admit("limited-a").unwrap_err();
        assert_eq!(refusal.status, 429);
        assert_eq!(refusal.body["error"]["details"][2]["retryDelay"], "0.05s");
        assert!(admit("limited-b").is_ok(), "limits are per key");
        std::thread::sleep(delay);
        assert!(admit("limited-a").is_ok());
    }

    #[test]
    fn free_calls_are_never_limited() {
        let mut limits = Limits::default();
        let delay = Duration::from_secs(1);
        assert!(
            limits
                .admit(Some("daily-1"), Cost::Free, "m", 2, delay)
                .is_ok()
        );
        assert_eq!(
            limits
                .admit(Some("daily-1"), Cost::Generation, "m", 2, delay)
                .unwrap_err()
                .status,
            429
        );
        assert_eq!(
            limits
                .admit(Some("bad-1"), Cost::Free, "m", 2, delay)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            limits
                .admit(None, Cost::Free, "m", 2, delay)
                .unwrap_err()
                .status,
            403
        );
    }
}
