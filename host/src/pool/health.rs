//! One account's health: a small state machine driven by typed outcomes.
//! Pure (time is passed in, in Unix milliseconds) so it is tested directly.
//!
//! ```text
//!  healthy ──rate-limited / quota──▶ cooling down for that model ──time──▶ healthy
//!  healthy ──unauthorized / forbidden──▶ broken ──probe ok / enable──▶ healthy
//!  healthy ──N upstream errors in window──▶ breaker-open(until)
//!        ──time──▶ half-open: one probe ──ok──▶ healthy, ──fails──▶ breaker-open
//!  any ──operator disable──▶ disabled ──enable──▶ healthy
//! ```
//!
//! Limits are per model: upstreams count quotas per model (Gemini's
//! "per project per model", Gemini Business's text and image quotas), so a
//! key limited on one model still serves the others. Credentials and the
//! breaker are the whole account's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{FailureKind, PoolPolicy};

/// Longest last-error message kept (plugins' messages can be long).
const MAX_MESSAGE: usize = 1000;

/// Where an account stands, whatever the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Condition {
    #[default]
    Healthy,
    /// Its credentials were refused: out until a probe succeeds (one live
    /// request at `next_probe`, then every probe interval) or an operator
    /// enables it.
    Broken { next_probe: u64 },
    /// Too many upstream failures in a row: out until `until`, then one probe.
    BreakerOpen { until: u64 },
    /// Turned off by an operator.
    Disabled,
}

/// A model the account may not use until `until` (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    /// The upstream model name.
    pub model: String,
    pub until: u64,
    /// `rate_limited` or `quota_exhausted`.
    pub reason: FailureKind,
}

/// The last failure, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub kind: FailureKind,
    pub message: String,
    /// Unix milliseconds.
    pub at: u64,
}

/// Everything the pool knows of one account; persisted across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    pub condition: Condition,
    /// Rate limits and exhausted quotas, per model (expired ones are dropped
    /// as they are met).
    pub cooldowns: Vec<Cooldown>,
    /// Upstream failures and timeouts since the last success, within the
    /// breaker window (Unix milliseconds).
    pub recent_failures: Vec<u64>,
    pub last_error: Option<LastError>,
    /// Requests the account started answering.
    pub requests: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Models one account may cool down for separately; past that, limits on
/// many models are one limit on the account.
pub const MAX_MODEL_COOLDOWNS: usize = 16;
/// The model name of a cooldown that covers every model.
pub const WHOLE_ACCOUNT: &str = "*";

/// Whether an account can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Ready,
    /// Out, but a probe is due: the next request may try it.
    ProbeDue,
    /// Out for now; `until` says when it may be back, if known.
    Out {
        why: OutReason,
        until: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutReason {
    CoolingDown(FailureKind),
    Broken,
    BreakerOpen,
    Disabled,
    Expired,
    /// At its concurrency cap.
    Busy,
}

impl Health {
    /// Whether the account can take a request for `model` now.
    pub fn availability(&self, now: u64, expires_at: Option<u64>, model: &str) -> Availability {
        if self.condition == Condition::Disabled {
            return Availability::Out {
                why: OutReason::Disabled,
                until: None,
            };
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Availability::Out {
                why: OutReason::Expired,
                until: None,
            };
        }
        match self.condition {
            Condition::Healthy | Condition::Disabled => match self.cooldown(model, now) {
                Some(cooldown) => Availability::Out {
                    why: OutReason::CoolingDown(cooldown.reason),
                    until: Some(cooldown.until),
                },
                None => Availability::Ready,
            },
            Condition::Broken { next_probe } if next_probe <= now => Availability::ProbeDue,
            Condition::Broken { .. } => Availability::Out {
                why: OutReason::Broken,
                until: None,
            },
            Condition::BreakerOpen { until } if until <= now => Availability::ProbeDue,
            Condition::BreakerOpen { until } => Availability::Out {
                why: OutReason::BreakerOpen,
                until: Some(until),
            },
        }
    }

    /// The live cooldown of `model` (or of the whole account), if any.
    pub fn cooldown(&self, model: &str, now: u64) -> Option<&Cooldown> {
        let model = model.to_ascii_lowercase();
        self.cooldowns
            .iter()
            .find(|c| (c.model == model || c.model == WHOLE_ACCOUNT) && c.until > now)
    }

    /// The cooldowns still running.
    pub fn live_cooldowns(&self, now: u64) -> impl Iterator<Item = &Cooldown> {
        self.cooldowns.iter().filter(move |c| c.until > now)
    }

    /// Takes the due probe: the next one is pushed back, so only one request
    /// at a time probes an account.
    pub fn claim_probe(&mut self, now: u64, policy: &PoolPolicy) {
        match &mut self.condition {
            Condition::Broken { next_probe } => *next_probe = now + millis(policy.probe_interval),
            Condition::BreakerOpen { until } => *until = now + millis(policy.breaker_open),
            _ => {}
        }
    }

    /// The account answered for `model`: whatever it was out for is over.
    pub fn started(&mut self, model: &str) {
        if self.condition != Condition::Disabled {
            self.condition = Condition::Healthy;
        }
        self.cooldowns.retain(|c| c.model != model);
        self.recent_failures.clear();
        self.requests += 1;
    }

    pub fn finished(&mut self, prompt_tokens: u32, completion_tokens: u32) {
        self.prompt_tokens += u64::from(prompt_tokens);
        self.completion_tokens += u64::from(completion_tokens);
    }

    pub fn failed(
        &mut self,
        kind: FailureKind,
        model: &str,
        message: &str,
        retry_after_ms: Option<u64>,
        now: u64,
        policy: &PoolPolicy,
    ) {
        if kind == FailureKind::Caller {
            // The request's fault, not the account's.
            return;
        }
        self.failures += 1;
        self.last_error = Some(LastError {
            kind,
            message: truncate(message),
            at: now,
        });
        if self.condition == Condition::Disabled {
            return;
        }
        match kind {
            FailureKind::RateLimited | FailureKind::QuotaExhausted => {
                // Names are the caller's choice: one spelling of a model is
                // the same model, and inventing names neither grows this list
                // without end nor gets round a limit.
                let model = model.to_ascii_lowercase();
                self.cooldowns.retain(|c| c.model != model && c.until > now);
                self.cooldowns.push(Cooldown {
                    model,
                    until: now + millis(policy.cooldown(kind, retry_after_ms)),
                    reason: kind,
                });
                if self.cooldowns.len() > MAX_MODEL_COOLDOWNS {
                    let until = self.cooldowns.iter().map(|c| c.until).max().unwrap_or(now);
                    self.cooldowns = vec![Cooldown {
                        model: WHOLE_ACCOUNT.to_string(),
                        until,
                        reason: kind,
                    }];
                }
            }
            FailureKind::Unauthorized | FailureKind::Forbidden => {
                self.condition = Condition::Broken {
                    next_probe: now + millis(policy.probe_interval),
                };
            }
            FailureKind::Upstream | FailureKind::Timeout => {
                let window_start = now.saturating_sub(millis(policy.breaker_window));
                self.recent_failures.retain(|&at| at >= window_start);
                self.recent_failures.push(now);
                let half_open_failed = matches!(self.condition, Condition::BreakerOpen { .. });
                let tripped = self.recent_failures.len() >= policy.breaker_failures as usize;
                if half_open_failed
                    || (tripped && !matches!(self.condition, Condition::Broken { .. }))
                {
                    self.condition = Condition::BreakerOpen {
                        until: now + millis(policy.breaker_open),
                    };
                }
            }
            FailureKind::Plugin | FailureKind::Caller => {}
        }
    }

    /// The operator's reset: forget cooldowns, breakers, broken credentials
    /// and failure counts. A disabled account stays disabled.
    pub fn reset(&mut self) {
        if self.condition != Condition::Disabled {
            self.condition = Condition::Healthy;
        }
        self.cooldowns.clear();
        self.recent_failures.clear();
        self.last_error = None;
        self.failures = 0;
    }

    pub fn disable(&mut self) {
        self.condition = Condition::Disabled;
    }

    /// Back in service, also from broken or a cooldown: the operator knows best.
    pub fn enable(&mut self) {
        self.condition = Condition::Healthy;
        self.cooldowns.clear();
        self.recent_failures.clear();
    }

    /// Failures in a row since the last success.
    pub fn consecutive_failures(&self) -> usize {
        self.recent_failures.len()
    }
}

pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

fn truncate(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PoolPolicy {
        PoolPolicy {
            rate_limit_cooldown: Duration::from_secs(600),
            probe_interval: Duration::from_secs(300),
            breaker_failures: 3,
            breaker_window: Duration::from_secs(60),
            breaker_open: Duration::from_secs(30),
            ..PoolPolicy::default()
        }
    }

    const T: u64 = 1_000_000;
    const M: &str = "gemini-2.5-flash";

    #[test]
    fn a_rate_limit_cools_the_model_down_for_the_reported_time_or_the_default() {
        let mut health = Health::default();
        health.failed(
            FailureKind::RateLimited,
            M,
            "slow down",
            Some(2_500),
            T,
            &policy(),
        );
        assert_eq!(
            health.availability(T + 2_499, None, M),
            Availability::Out {
                why: OutReason::CoolingDown(FailureKind::RateLimited),
                until: Some(T + 2_500)
            }
        );
        assert_eq!(health.availability(T + 2_500, None, M), Availability::Ready);
        assert_eq!(
            health.availability(T, None, "other-model"),
            Availability::Ready,
            "limits are per model"
        );

        let mut health = Health::default();
        health.failed(FailureKind::QuotaExhausted, M, "daily", None, T, &policy());
        assert!(matches!(
            health.availability(T + 3_599_000, None, M),
            Availability::Out { .. }
        ));
        assert_eq!(
            health.availability(T + 3_600_000, None, M),
            Availability::Ready
        );
    }

    #[test]
    fn refused_credentials_wait_for_a_probe_and_a_success_heals() {
        let mut health = Health::default();
        health.failed(FailureKind::Unauthorized, M, "bad key", None, T, &policy());
        assert!(matches!(
            health.availability(T + 1, None, M),
            Availability::Out {
                why: OutReason::Broken,
                ..
            }
        ));
        assert_eq!(
            health.availability(T + 300_000, None, M),
            Availability::ProbeDue
        );
        health.claim_probe(T + 300_000, &policy());
        assert!(
            matches!(
                health.availability(T + 300_001, None, M),
                Availability::Out { .. }
            ),
            "one probe at a time"
        );
        health.started(M);
        assert_eq!(health.condition, Condition::Healthy);
    }

    #[test]
    fn upstream_failures_in_a_row_open_the_breaker_then_one_probe_decides() {
        let mut health = Health::default();
        health.failed(FailureKind::Upstream, M, "503", None, T, &policy());
        health.failed(FailureKind::Timeout, M, "slow", None, T + 1, &policy());
        assert_eq!(health.condition, Condition::Healthy, "two are not enough");
        health.failed(FailureKind::Upstream, M, "500", None, T + 2, &policy());
        assert_eq!(
            health.condition,
            Condition::BreakerOpen { until: T + 30_002 }
        );

        assert_eq!(
            health.availability(T + 30_002, None, M),
            Availability::ProbeDue
        );
        health.claim_probe(T + 30_002, &policy());
        health.failed(FailureKind::Upstream, M, "500", None, T + 30_003, &policy());
        assert_eq!(
            health.condition,
            Condition::BreakerOpen { until: T + 60_003 },
            "a failed probe opens it again"
        );
        health.claim_probe(T + 60_003, &policy());
        health.started(M);
        assert_eq!(health.condition, Condition::Healthy);
        assert_eq!(health.consecutive_failures(), 0);
    }

    #[test]
    fn failures_outside_the_window_or_before_a_success_do_not_add_up() {
        let mut health = Health::default();
        health.failed(FailureKind::Upstream, M, "503", None, T, &policy());
        health.failed(FailureKind::Upstream, M, "503", None, T + 1, &policy());
        health.failed(FailureKind::Upstream, M, "503", None, T + 61_000, &policy());
        assert_eq!(health.condition, Condition::Healthy);
        health.failed(FailureKind::Upstream, M, "503", None, T + 61_001, &policy());
        health.started(M);
        health.failed(FailureKind::Upstream, M, "503", None, T + 61_002, &policy());
        assert_eq!(health.condition, Condition::Healthy);
    }

    #[test]
    fn the_callers_mistakes_and_plugin_faults_do_not_take_an_account_out() {
        let mut health = Health::default();
        for _ in 0..5 {
            health.failed(FailureKind::Caller, M, "bad request", None, T, &policy());
            health.failed(FailureKind::Plugin, M, "trap", None, T, &policy());
        }
        assert_eq!(health.availability(T, None, M), Availability::Ready);
    }

    #[test]
    fn operators_disable_enable_and_reset() {
        let mut health = Health::default();
        health.disable();
        health.failed(FailureKind::RateLimited, M, "x", None, T, &policy());
        health.started(M);
        assert_eq!(health.condition, Condition::Disabled);
        health.reset();
        assert_eq!(health.condition, Condition::Disabled, "reset is not enable");
        health.enable();
        assert_eq!(health.availability(T, None, M), Availability::Ready);

        health.failed(FailureKind::Forbidden, M, "banned", None, T, &policy());
        health.reset();
        assert_eq!(health.availability(T, None, M), Availability::Ready);
        assert_eq!(health.last_error, None);
    }

    #[test]
    fn an_expired_account_is_out_whatever_its_health() {
        let health = Health::default();
        assert_eq!(
            health.availability(T, Some(T), M),
            Availability::Out {
                why: OutReason::Expired,
                until: None
            }
        );
        assert_eq!(health.availability(T - 1, Some(T), M), Availability::Ready);
    }

    #[test]
    fn cooldowns_ignore_spelling_and_stay_few_whatever_names_callers_invent() {
        let policy = PoolPolicy::default();
        let mut health = Health::default();
        health.failed(
            FailureKind::RateLimited,
            "Gemini-2.5-Flash",
            "429",
            None,
            1_000,
            &policy,
        );
        assert!(health.cooldown("gemini-2.5-flash", 2_000).is_some());
        assert!(health.cooldown("GEMINI-2.5-FLASH", 2_000).is_some());
        for n in 0..1000 {
            health.failed(
                FailureKind::RateLimited,
                &format!("invented-{n}"),
                "429",
                None,
                1_000,
                &policy,
            );
        }
        assert!(
            health.cooldowns.len() <= MAX_MODEL_COOLDOWNS,
            "{}",
            health.cooldowns.len()
        );
        // Past the cap the whole account rests, so a new name gets nothing.
        assert!(health.cooldown("yet-another-name", 2_000).is_some());
    }
}
