//! Account pools: which of a plugin's accounts serves the next request, and
//! what each outcome does to that account's health — once, in the host, for
//! every plugin, driven by the typed `provider-error`.
//!
//! - [`policy`] — the operator's numbers and what each failure means.
//! - [`health`] — one account's state machine (cooldowns, broken
//!   credentials, circuit breaker, operator switches).
//! - [`book`] — every account's health, kept across reloads and restarts.
//!
//! A request takes a [`Picker`] from a plugin's [`Pool`]: round-robin over
//! the accounts that are available (skipping those cooling down, broken,
//! with an open breaker, disabled, expired or at their concurrency cap),
//! letting one request at a time probe an account that is due for one. Each
//! pick is a [`Lease`] that reports the outcome and frees the account's
//! concurrency slot when dropped.

mod book;
pub mod health;
pub mod policy;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

pub use book::{AccountHealth, HealthBook};
pub use health::{Availability, Condition, Cooldown, LastError, OutReason};
pub use policy::{FailureKind, PoolPolicy};

use crate::clock::unix_millis;
use crate::config::Account;
use crate::runtime::CallError;
use crate::runtime::bindings::Usage;

/// One plugin's accounts in the live registry.
pub struct Pool {
    plugin: Arc<str>,
    slots: Vec<Slot>,
    policy: Arc<PoolPolicy>,
    next: AtomicUsize,
    book: Arc<HealthBook>,
}

struct Slot {
    account: Account,
    health: Arc<AccountHealth>,
    /// Where the account's plugin `state` lives: its id and its
    /// credentials' fingerprint, worked out once here.
    state_scope: Arc<str>,
}

/// Why a plugin's pool gave no (further) account.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub plugin: String,
    /// Accounts not tried by this request, and why each is out.
    pub out: Vec<OutAccount>,
    /// Available accounts were left because the retries were used up.
    pub retries_used: bool,
}

#[derive(Debug, Clone)]
pub struct OutAccount {
    pub account: String,
    pub why: OutReason,
    /// Unix milliseconds at which it may be back, when known.
    pub until: Option<u64>,
    pub last_error: Option<LastError>,
}

impl Pool {
    pub fn new(
        plugin: &str,
        accounts: Vec<Account>,
        policy: PoolPolicy,
        book: Arc<HealthBook>,
    ) -> Pool {
        let slots = accounts
            .into_iter()
            .map(|account| {
                let credentials = fingerprint(&account);
                Slot {
                    health: book.health_of(plugin, &account.id, &credentials),
                    state_scope: format!("{}#{credentials}", account.id).into(),
                    account,
                }
            })
            .collect();
        Pool {
            plugin: plugin.into(),
            slots,
            policy: Arc::new(policy),
            next: AtomicUsize::new(0),
            book,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether some account can serve now or will by itself soon: one that
    /// is not disabled, expired, or broken without a probe due. Accounts only
    /// cooling down, resting their breaker or busy still count.
    pub fn serves_now(&self) -> bool {
        let now = unix_millis();
        self.slots.iter().any(|slot| {
            let health = slot.health.lock();
            !matches!(
                health.availability(now, slot.account.expires_at, ""),
                Availability::Out {
                    why: OutReason::Disabled | OutReason::Expired | OutReason::Broken,
                    ..
                }
            )
        })
    }

    /// The first account that [`Pool::serves_now`] would count, for work
    /// that is not a request (listing the upstream's models).
    /// (The account and its state scope.)
    pub fn first_serving(&self) -> Option<(Account, Arc<str>)> {
        let now = unix_millis();
        self.slots.iter().find_map(|slot| {
            let health = slot.health.lock();
            matches!(
                health.availability(now, slot.account.expires_at, ""),
                Availability::Ready | Availability::ProbeDue
            )
            .then(|| (slot.account.clone(), slot.state_scope.clone()))
        })
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.slots.iter().map(|slot| &slot.account)
    }

    pub fn policy(&self) -> &PoolPolicy {
        &self.policy
    }

    /// The accounts for one request for the upstream `model`, starting at
    /// the next round-robin position.
    pub fn picker(&self, model: &str) -> Picker<'_> {
        let count = self.slots.len().max(1);
        Picker {
            pool: self,
            model: model.to_string(),
            start: self.next.fetch_add(1, Ordering::Relaxed) % count,
            tried: vec![false; self.slots.len()],
            picked: 0,
        }
    }

    /// Applies an operator's action to an account; `None` if there is no such account.
    pub fn operate(&self, account: &str, action: Operation) -> Option<AccountView> {
        let slot = self.slots.iter().find(|s| s.account.id == account)?;
        {
            let mut health = slot.health.lock();
            match action {
                Operation::Disable => health.disable(),
                Operation::Enable => health.enable(),
                Operation::Reset => health.reset(),
            }
        }
        self.book.mark_dirty();
        tracing::info!(
            plugin = &*self.plugin,
            account,
            "account {action:?} by an operator"
        );
        Some(self.view(slot, unix_millis()))
    }

    /// Every account's health, secrets masked, for the admin API.
    pub fn views(&self) -> Vec<AccountView> {
        let now = unix_millis();
        self.slots.iter().map(|slot| self.view(slot, now)).collect()
    }

    fn view(&self, slot: &Slot, now: u64) -> AccountView {
        let health = slot.health.lock().clone();
        let in_flight = slot.health.in_flight();
        let availability = health.availability(now, slot.account.expires_at, "");
        let cooldowns: Vec<CooldownView> = health
            .live_cooldowns(now)
            .map(|c| CooldownView {
                model: c.model.clone(),
                reason: c.reason,
                until: c.until,
                seconds_left: seconds_between(now, c.until),
            })
            .collect();
        let soonest = cooldowns.iter().min_by_key(|c| c.until);
        let expired = slot.account.expires_at.is_some_and(|at| at <= now);
        let (state, until) = match (&health.condition, availability) {
            _ if expired => ("expired", None),
            (Condition::Disabled, _) => ("disabled", None),
            (Condition::Broken { next_probe }, _) => ("broken", Some(*next_probe)),
            (Condition::BreakerOpen { .. }, Availability::ProbeDue) => ("half_open", None),
            (Condition::BreakerOpen { until }, _) => ("breaker_open", Some(*until)),
            (Condition::Healthy, _) => match soonest {
                Some(cooldown) => ("cooling_down", Some(cooldown.until)),
                None => ("healthy", None),
            },
        };
        let reason = soonest
            .filter(|_| state == "cooling_down")
            .map(|c| c.reason);
        AccountView {
            id: slot.account.id.clone(),
            state,
            reason,
            until,
            seconds_left: until.map(|at| seconds_between(now, at)),
            cooldowns,
            consecutive_failures: health.consecutive_failures(),
            last_error: health.last_error,
            requests: health.requests,
            failures: health.failures,
            prompt_tokens: health.prompt_tokens,
            completion_tokens: health.completion_tokens,
            in_flight,
            max_concurrent: self.policy.max_concurrent,
            expires_at: slot.account.expires_at,
            secrets: slot
                .account
                .secrets
                .iter()
                .map(|(name, value)| (name.clone(), mask(value.expose())))
                .collect(),
            settings: slot
                .account
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// What an operator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Disable,
    Enable,
    Reset,
}

/// An account as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    /// `healthy`, `cooling_down`, `broken`, `breaker_open`, `half_open`,
    /// `disabled` or `expired`.
    pub state: &'static str,
    /// Why it cools down: `rate_limited` or `quota_exhausted`.
    pub reason: Option<FailureKind>,
    /// Unix milliseconds at which the (soonest) cooldown or the breaker
    /// ends, or the next probe of broken credentials is due.
    pub until: Option<u64>,
    pub seconds_left: Option<f64>,
    /// Every model cooling down on this account.
    pub cooldowns: Vec<CooldownView>,
    pub consecutive_failures: usize,
    pub last_error: Option<LastError>,
    pub requests: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub in_flight: u32,
    pub max_concurrent: Option<u32>,
    pub expires_at: Option<u64>,
    /// Secret name → a fingerprint (never the value).
    pub secrets: BTreeMap<String, String>,
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct CooldownView {
    pub model: String,
    pub reason: FailureKind,
    pub until: u64,
    pub seconds_left: f64,
}

fn seconds_between(now: u64, until: u64) -> f64 {
    until.saturating_sub(now) as f64 / 1000.0
}

/// Identifies an account's credentials (keyed: see [`crate::fingerprint`]).
fn fingerprint(account: &Account) -> String {
    crate::fingerprint::credentials(
        account
            .secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose())),
    )
}

/// Enough to tell two secrets apart, nothing to recover one from.
fn mask(secret: &str) -> String {
    crate::fingerprint::mask(secret)
}

/// One request's walk through a pool.
pub struct Picker<'a> {
    pool: &'a Pool,
    /// The upstream model: limits are per model.
    model: String,
    start: usize,
    tried: Vec<bool>,
    picked: u32,
}

impl Picker<'_> {
    /// The next account to try, or why there is none.
    pub fn pick(&mut self) -> Result<Lease, Unavailable> {
        let pool = self.pool;
        let count = pool.slots.len();
        let retries_used = self.picked > pool.policy.retries;
        let now = unix_millis();
        let mut out = Vec::new();
        for offset in 0..count {
            let index = (self.start + offset) % count;
            if self.tried[index] {
                continue;
            }
            let slot = &pool.slots[index];
            let mut health = slot.health.lock();
            let availability = health.availability(now, slot.account.expires_at, &self.model);
            let last_error = || health.last_error.clone();
            match availability {
                Availability::Out { why, until } => {
                    out.push(OutAccount {
                        account: slot.account.id.clone(),
                        why,
                        until,
                        last_error: last_error(),
                    });
                    continue;
                }
                _ if retries_used => return Err(self.unavailable(out, true)),
                _ => {}
            }
            if !take_slot(&slot.health, pool.policy.max_concurrent) {
                out.push(OutAccount {
                    account: slot.account.id.clone(),
                    why: OutReason::Busy,
                    until: None,
                    last_error: last_error(),
                });
                continue;
            }
            let probe = availability == Availability::ProbeDue;
            if probe {
                health.claim_probe(now, &pool.policy);
                pool.book.mark_dirty();
            }
            drop(health);
            if self.picked == 0 && offset > 0 {
                // Skipped accounts do not hand their turn to this one: the
                // next request starts after it, so the load stays even.
                pool.next.fetch_add(offset, Ordering::Relaxed);
            }
            self.tried[index] = true;
            self.picked += 1;
            return Ok(Lease {
                plugin: pool.plugin.clone(),
                model: self.model.clone(),
                account: slot.account.clone(),
                state_scope: slot.state_scope.clone(),
                health: slot.health.clone(),
                policy: pool.policy.clone(),
                book: pool.book.clone(),
                probe,
            });
        }
        Err(self.unavailable(out, false))
    }

    fn unavailable(&self, out: Vec<OutAccount>, retries_used: bool) -> Unavailable {
        Unavailable {
            plugin: self.pool.plugin.to_string(),
            out,
            retries_used,
        }
    }
}

/// One more request on the account, unless it is at its cap.
fn take_slot(health: &AccountHealth, cap: Option<u32>) -> bool {
    health
        .in_flight
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match cap {
            Some(cap) if n >= cap => None,
            _ => Some(n + 1),
        })
        .is_ok()
}

/// An account picked for one request: it reports how the request went, and
/// gives the account's concurrency slot back when dropped.
pub struct Lease {
    plugin: Arc<str>,
    model: String,
    account: Account,
    state_scope: Arc<str>,
    health: Arc<AccountHealth>,
    policy: Arc<PoolPolicy>,
    book: Arc<HealthBook>,
    probe: bool,
}

impl Lease {
    /// Where the account's plugin `state` lives (see [`AccountContext`](crate::runtime::AccountContext)).
    pub fn state_scope(&self) -> &Arc<str> {
        &self.state_scope
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The account produced its first event: it works.
    pub fn started(&self) {
        let healed = {
            let mut health = self.health.lock();
            let was = (health.condition.clone(), health.cooldowns.len());
            health.started(&self.model);
            was != (health.condition.clone(), health.cooldowns.len())
        };
        if healed {
            self.book.mark_dirty();
        } else {
            self.book.mark_counted();
        }
        if healed || self.probe {
            tracing::info!(
                plugin = &*self.plugin,
                account = %self.account.id,
                "account healthy again"
            );
        }
    }

    /// The answer ended normally.
    pub fn finished(&self, usage: Option<&Usage>) {
        if let Some(usage) = usage {
            self.health
                .lock()
                .finished(usage.prompt_tokens, usage.completion_tokens);
            self.book.mark_counted();
        }
    }

    /// Records a failure; returns when the account is back (Unix
    /// milliseconds) if the failure took it out for a known time.
    pub fn failed(&self, error: &CallError) -> Option<u64> {
        let kind = FailureKind::of(error);
        let retry_after = policy::retry_after_ms(error);
        let now = unix_millis();
        let model = self.model.as_str();
        let (before, after, cooldown) = {
            let mut health = self.health.lock();
            let before = health.condition.clone();
            health.failed(
                kind,
                model,
                &error.to_string(),
                retry_after,
                now,
                &self.policy,
            );
            let cooldown = health.cooldown(model, now).map(|c| c.until);
            (before, health.condition.clone(), cooldown)
        };
        self.book.mark_dirty();
        let plugin = &*self.plugin;
        let account = &self.account.id;
        if let Some(until) = cooldown.filter(|_| kind.is_limit()) {
            tracing::warn!(
                plugin,
                account,
                model,
                "account cooling down for {:.1} s ({kind:?})",
                seconds_between(now, until)
            );
        }
        if before != after || self.probe {
            match &after {
                Condition::Broken { .. } => tracing::warn!(
                    plugin,
                    account,
                    "account out until a probe succeeds or an operator enables it ({kind:?})"
                ),
                Condition::BreakerOpen { until } => tracing::warn!(
                    plugin,
                    account,
                    "account breaker open for {:.1} s after repeated upstream failures",
                    until.saturating_sub(now) as f64 / 1000.0
                ),
                Condition::Healthy | Condition::Disabled => {}
            }
        }
        match after {
            Condition::BreakerOpen { until } => Some(until),
            _ => cooldown,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.health.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::config::SecretValue;
    use crate::runtime::bindings::{ProviderError, RetryInfo};

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            secrets: Arc::new(HashMap::from([(
                "api-key".to_string(),
                SecretValue::new(format!("secret-{id}")),
            )])),
            settings: Arc::default(),
            expires_at: None,
        }
    }

    fn pool(ids: &[&str], policy: PoolPolicy) -> Pool {
        Pool::new(
            "p",
            ids.iter().map(|id| account(id)).collect(),
            policy,
            Arc::default(),
        )
    }

    fn limited() -> CallError {
        CallError::Provider(ProviderError::RateLimited(RetryInfo {
            message: "slow down".into(),
            retry_after_ms: Some(60_000),
        }))
    }

    #[test]
    fn requests_go_round_robin_and_skip_accounts_that_are_out() {
        let pool = pool(&["a", "b", "c"], PoolPolicy::default());
        let firsts: Vec<String> = (0..3)
            .map(|_| pool.picker("m").pick().unwrap().account().id.clone())
            .collect();
        assert_eq!(firsts, ["a", "b", "c"]);

        pool.picker("m").pick().unwrap().failed(&limited());
        let firsts: Vec<String> = (0..4)
            .map(|_| pool.picker("m").pick().unwrap().account().id.clone())
            .collect();
        assert_eq!(firsts, ["b", "c", "b", "c"], "a cools down");
    }

    #[test]
    fn one_request_tries_each_account_once_up_to_the_retries() {
        let policy = PoolPolicy {
            retries: 1,
            ..PoolPolicy::default()
        };
        let pool = pool(&["a", "b", "c"], policy);
        let mut picker = pool.picker("m");
        assert_eq!(picker.pick().unwrap().account().id, "a");
        assert_eq!(picker.pick().unwrap().account().id, "b");
        let none = picker.pick().err().unwrap();
        assert!(none.retries_used);
    }

    #[test]
    fn busy_accounts_are_skipped_and_freed_when_the_lease_drops() {
        let policy = PoolPolicy {
            max_concurrent: Some(1),
            ..PoolPolicy::default()
        };
        let pool = pool(&["a", "b"], policy);
        let first = pool.picker("m").pick().unwrap();
        let second = pool.picker("m").pick().unwrap();
        assert_eq!((&*first.account().id, &*second.account().id), ("a", "b"));
        let none = pool.picker("m").pick().err().unwrap();
        assert!(
            none.out.iter().all(|o| o.why == OutReason::Busy),
            "{none:?}"
        );
        drop(first);
        assert_eq!(pool.picker("m").pick().unwrap().account().id, "a");
    }

    #[test]
    fn when_all_cool_down_the_pool_says_until_when() {
        let pool = pool(&["a", "b"], PoolPolicy::default());
        for _ in 0..2 {
            pool.picker("m").pick().unwrap().failed(&limited());
        }
        let none = pool.picker("m").pick().err().unwrap();
        assert_eq!(none.out.len(), 2);
        assert!(none.out.iter().all(|o| matches!(
            o.why,
            OutReason::CoolingDown(FailureKind::RateLimited)
        ) && o.until.is_some()));
    }

    #[test]
    fn only_one_request_probes_a_broken_account() {
        let policy = PoolPolicy {
            probe_interval: Duration::ZERO,
            ..PoolPolicy::default()
        };
        let pool = pool(&["a"], policy);
        pool.picker("m")
            .pick()
            .unwrap()
            .failed(&CallError::Provider(ProviderError::Unauthorized(
                "no".into(),
            )));
        // With a zero interval the probe is due at once, but a claimed probe
        // still pushes the next one to `now`: one request per millisecond.
        let probe = pool.picker("m").pick().unwrap();
        probe.started();
        drop(probe);
        assert_eq!(pool.views()[0].state, "healthy");
    }

    #[test]
    fn a_replaced_key_starts_healthy_and_health_never_passes_to_another_key() {
        let book: Arc<HealthBook> = Arc::default();
        let policy = PoolPolicy::default;
        let refused = CallError::Provider(ProviderError::Unauthorized("no".into()));
        let first = Pool::new("p", vec![account("a")], policy(), book.clone());
        first.picker("m").pick().unwrap().failed(&refused);
        assert_eq!(first.views()[0].state, "broken");
        let again = Pool::new("p", vec![account("a")], policy(), book.clone());
        assert_eq!(again.views()[0].state, "broken", "a reload keeps health");

        // The operator replaced the refused key: same id, new credentials.
        let mut replaced = account("a");
        replaced.secrets = Arc::new(HashMap::from([(
            "api-key".to_string(),
            SecretValue::new("a new key".into()),
        )]));
        let second = Pool::new("p", vec![replaced], policy(), book.clone());
        assert_eq!(second.views()[0].state, "healthy");

        // A list lost an entry and `b`'s key is now called `a`: it does not
        // inherit the refused key's state.
        let mut renumbered = account("b");
        renumbered.id = "a".into();
        let third = Pool::new("p", vec![renumbered], policy(), book);
        assert_eq!(third.views()[0].state, "healthy");
    }

    #[test]
    fn views_mask_secrets_and_operators_switch_accounts() {
        let pool = pool(&["a"], PoolPolicy::default());
        let views = pool.views();
        let shown = serde_json::to_string(&views).unwrap();
        assert!(!shown.contains("secret-a"), "{shown}");
        assert!(views[0].secrets["api-key"].starts_with("hmac:"));

        assert_eq!(
            pool.operate("a", Operation::Disable).unwrap().state,
            "disabled"
        );
        assert!(pool.picker("m").pick().is_err());
        assert_eq!(
            pool.operate("a", Operation::Enable).unwrap().state,
            "healthy"
        );
        assert!(pool.operate("nobody", Operation::Reset).is_none());
    }
}
