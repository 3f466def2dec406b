//! What a failure means for the account it happened on, and the operator's
//! numbers (`[pool]`, `[plugins.<name>.pool]`) that say for how long.

use std::time::Duration;

use serde::Serialize;

use crate::config::PoolSection;
use crate::runtime::CallError;
use crate::runtime::bindings::ProviderError;

/// No cooldown lasts longer than this, whatever a plugin reports.
const MAX_COOLDOWN: Duration = Duration::from_secs(7 * 24 * 3600);

/// A plugin's pool policy, with every default filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolPolicy {
    /// Further accounts tried after a retryable failure.
    pub retries: u32,
    /// Requests one account serves at once (`None`: no limit).
    pub max_concurrent: Option<u32>,
    #[serde(serialize_with = "as_secs")]
    pub rate_limit_cooldown: Duration,
    #[serde(serialize_with = "as_secs")]
    pub quota_cooldown: Duration,
    #[serde(serialize_with = "as_secs")]
    pub probe_interval: Duration,
    pub breaker_failures: u32,
    #[serde(serialize_with = "as_secs")]
    pub breaker_window: Duration,
    #[serde(serialize_with = "as_secs")]
    pub breaker_open: Duration,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        PoolPolicy {
            retries: 3,
            max_concurrent: None,
            rate_limit_cooldown: Duration::from_secs(600),
            quota_cooldown: Duration::from_secs(3600),
            probe_interval: Duration::from_secs(300),
            breaker_failures: 3,
            breaker_window: Duration::from_secs(60),
            breaker_open: Duration::from_secs(60),
        }
    }
}

impl PoolPolicy {
    /// The defaults, overridden by `[pool]`, overridden by the plugin's own section.
    pub fn resolve(global: &PoolSection, plugin: &PoolSection) -> Self {
        let defaults = PoolPolicy::default();
        let secs = |own: Option<f64>, global: Option<f64>, default: Duration| {
            own.or(global)
                .map_or(default, |s| Duration::from_secs_f64(s).min(MAX_COOLDOWN))
        };
        PoolPolicy {
            retries: plugin
                .retries
                .or(global.retries)
                .unwrap_or(defaults.retries),
            max_concurrent: plugin.max_concurrent.or(global.max_concurrent),
            rate_limit_cooldown: secs(
                plugin.rate_limit_cooldown_secs,
                global.rate_limit_cooldown_secs,
                defaults.rate_limit_cooldown,
            ),
            quota_cooldown: secs(
                plugin.quota_cooldown_secs,
                global.quota_cooldown_secs,
                defaults.quota_cooldown,
            ),
            probe_interval: secs(
                plugin.probe_interval_secs,
                global.probe_interval_secs,
                defaults.probe_interval,
            ),
            breaker_failures: plugin
                .breaker_failures
                .or(global.breaker_failures)
                .unwrap_or(defaults.breaker_failures),
            breaker_window: secs(
                plugin.breaker_window_secs,
                global.breaker_window_secs,
                defaults.breaker_window,
            ),
            breaker_open: secs(
                plugin.breaker_open_secs,
                global.breaker_open_secs,
                defaults.breaker_open,
            ),
        }
    }

    /// How long an account cools down after a limit, given what the plugin reported.
    pub fn cooldown(&self, kind: FailureKind, retry_after_ms: Option<u64>) -> Duration {
        let default = match kind {
            FailureKind::QuotaExhausted => self.quota_cooldown,
            _ => self.rate_limit_cooldown,
        };
        retry_after_ms
            .map_or(default, Duration::from_millis)
            .min(MAX_COOLDOWN)
    }
}

fn as_secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// A failed call, as far as the account pool cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Unauthorized,
    Forbidden,
    RateLimited,
    QuotaExhausted,
    /// An upstream error status or a broken connection or stream.
    Upstream,
    /// The upstream (or the plugin waiting on it) took too long.
    Timeout,
    /// The plugin itself failed (trap, memory, CPU, internal error): not the
    /// account's fault, and another account would fare no better.
    Plugin,
    /// The caller's request was refused (bad request, unknown model, content
    /// filter): no other account or fallback is tried.
    Caller,
}

impl FailureKind {
    pub fn of(error: &CallError) -> FailureKind {
        match error {
            CallError::Provider(provider) => match provider {
                ProviderError::Unauthorized(_) => FailureKind::Unauthorized,
                ProviderError::Forbidden(_) => FailureKind::Forbidden,
                ProviderError::RateLimited(_) => FailureKind::RateLimited,
                ProviderError::QuotaExhausted(_) => FailureKind::QuotaExhausted,
                ProviderError::Upstream(_) => FailureKind::Upstream,
                ProviderError::Timeout(_) => FailureKind::Timeout,
                ProviderError::Internal(_) => FailureKind::Plugin,
                ProviderError::BadRequest(_)
                | ProviderError::ModelNotFound(_)
                | ProviderError::ContentFiltered(_) => FailureKind::Caller,
            },
            CallError::Deadline(_) => FailureKind::Timeout,
            CallError::CpuExhausted(_)
            | CallError::MemoryExhausted
            | CallError::OverBudget(_)
            | CallError::Trap(_)
            | CallError::Poisoned => FailureKind::Plugin,
            // The gateway is full: nothing to do with this account or plugin,
            // and another try would wait as long again. Answered as it is.
            CallError::Busy(_) => FailureKind::Caller,
        }
    }

    /// Whether the next account of the same plugin may do better.
    pub fn worth_another_account(self) -> bool {
        !matches!(self, FailureKind::Plugin | FailureKind::Caller)
    }

    /// Whether a limit: the account comes back by itself after a cooldown.
    pub fn is_limit(self) -> bool {
        matches!(self, FailureKind::RateLimited | FailureKind::QuotaExhausted)
    }

    /// Whether it counts towards an account's circuit breaker.
    pub fn trips_breaker(self) -> bool {
        matches!(self, FailureKind::Upstream | FailureKind::Timeout)
    }
}

/// The retry-after a plugin reported with a limit, if any.
pub fn retry_after_ms(error: &CallError) -> Option<u64> {
    match error {
        CallError::Provider(ProviderError::RateLimited(info))
        | CallError::Provider(ProviderError::QuotaExhausted(info)) => info.retry_after_ms,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_section_overrides_the_global_one_which_overrides_the_defaults() {
        let global = PoolSection {
            retries: Some(5),
            rate_limit_cooldown_secs: Some(30.0),
            ..PoolSection::default()
        };
        let plugin = PoolSection {
            retries: Some(1),
            max_concurrent: Some(2),
            ..PoolSection::default()
        };
        let policy = PoolPolicy::resolve(&global, &plugin);
        assert_eq!(policy.retries, 1);
        assert_eq!(policy.max_concurrent, Some(2));
        assert_eq!(policy.rate_limit_cooldown, Duration::from_secs(30));
        assert_eq!(policy.quota_cooldown, Duration::from_secs(3600));
    }

    #[test]
    fn a_reported_retry_after_wins_but_is_capped() {
        let policy = PoolPolicy::default();
        assert_eq!(
            policy.cooldown(FailureKind::RateLimited, Some(2_500)),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            policy.cooldown(FailureKind::RateLimited, None),
            Duration::from_secs(600)
        );
        assert_eq!(
            policy.cooldown(FailureKind::QuotaExhausted, None),
            Duration::from_secs(3600)
        );
        assert_eq!(
            policy.cooldown(FailureKind::QuotaExhausted, Some(u64::MAX)),
            MAX_COOLDOWN
        );
    }
}
