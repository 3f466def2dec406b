//! Running one chat request over a route's targets and their account pools.
//!
//! A [`Walk`] goes through the primary plugin's accounts as its pool hands
//! them out, then through each fallback's. A failure decides what comes
//! next: the caller's mistakes end the walk, plugin faults move on to the
//! next target, and everything else (credentials, limits, upstream errors,
//! timeouts) tries the next account, up to the pool's retries. A streamed
//! answer is only retried until its first event exists, because after that
//! something may have reached the client; a non-streamed answer can be
//! retried until it is whole, since the client sees nothing before that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pool::{FailureKind, Lease, Picker, Unavailable};
use crate::registry::{PluginEntry, Resolution};
use crate::runtime::bindings::{ChatRequest, Event, Usage};
use crate::runtime::{AccountContext, CallError, Runtime, Session};

/// A started answer: the session, its first event, and who serves it.
pub struct Started {
    pub session: Session,
    /// `None` when the answer was empty from the start.
    pub first: Option<Event>,
    /// `name@version` of the plugin.
    pub served_by: String,
    /// The account it runs on; report the outcome to it.
    pub lease: Lease,
}

/// A whole answer, for a caller that does not stream.
pub struct Answer {
    pub events: Vec<Event>,
    pub served_by: String,
    pub account: String,
}

/// One failed attempt.
#[derive(Debug)]
pub struct Attempt {
    pub plugin: String,
    /// `None` when the plugin had no account to try.
    pub account: Option<String>,
    pub error: CallError,
    /// Unix milliseconds at which the account is back, when the failure
    /// took it out for a known time (a cooldown or an open breaker).
    pub back_at: Option<u64>,
}

/// Why no target could serve the request.
#[derive(Debug, Default)]
pub struct Exhausted {
    pub attempts: Vec<Attempt>,
    /// Pools that had no (further) account to offer, and why.
    pub unavailable: Vec<Unavailable>,
}

/// Starts the answer on the first account that produces an event.
pub async fn start(
    runtime: &Arc<Runtime>,
    resolution: &Resolution,
    mut request: ChatRequest,
) -> Result<Started, Exhausted> {
    let mut walk = Walk::new(resolution);
    walk.next_started(runtime, &mut request)
        .await
        .ok_or_else(|| walk.exhausted())
}

/// The whole answer, from the first account that gives it all.
pub async fn complete(
    runtime: &Arc<Runtime>,
    resolution: &Resolution,
    mut request: ChatRequest,
    idle: Duration,
) -> Result<Answer, Exhausted> {
    let mut walk = Walk::new(resolution);
    loop {
        let Some(started) = walk.next_started(runtime, &mut request).await else {
            return Err(walk.exhausted());
        };
        let Started {
            mut session,
            first,
            served_by,
            lease,
        } = started;
        let mut events = Vec::new();
        let mut next = first;
        let outcome = loop {
            match next {
                Some(event) => events.push(event),
                None => break Ok(()),
            }
            next = match session.next(idle).await {
                Ok(event) => event,
                Err(error) => break Err(error),
            };
        };
        match outcome {
            Ok(()) => {
                lease.finished(last_usage(&events));
                return Ok(Answer {
                    events,
                    served_by,
                    account: lease.account().id.clone(),
                });
            }
            Err(error) => {
                tracing::info!(
                    plugin = %served_by,
                    account = %lease.account().id,
                    "answer failed before it was whole, nothing sent yet: {error}"
                );
                let back_at = lease.failed(&error);
                walk.record(&lease, error, back_at);
            }
        }
    }
}

fn last_usage(events: &[Event]) -> Option<&Usage> {
    events.iter().rev().find_map(|event| match event {
        Event::Usage(usage) => Some(usage),
        _ => None,
    })
}

/// One request's way through the targets and their accounts.
struct Walk<'r> {
    targets: &'r [(Arc<PluginEntry>, String)],
    /// The target being tried.
    index: usize,
    picker: Option<Picker<'r>>,
    stopped: bool,
    exhausted: Exhausted,
}

impl<'r> Walk<'r> {
    fn new(resolution: &'r Resolution) -> Self {
        Walk {
            targets: &resolution.targets,
            index: 0,
            picker: None,
            stopped: false,
            exhausted: Exhausted::default(),
        }
    }

    /// The next account that starts answering, or `None` when nothing is left.
    async fn next_started(
        &mut self,
        runtime: &Arc<Runtime>,
        request: &mut ChatRequest,
    ) -> Option<Started> {
        let targets = self.targets;
        while !self.stopped && self.index < targets.len() {
            let (entry, upstream_model) = &targets[self.index];
            if entry.pool.is_empty() {
                self.exhausted.attempts.push(Attempt {
                    plugin: entry.plugin.name.to_string(),
                    account: None,
                    error: CallError::NoAccount(entry.account_hint.clone()),
                    back_at: None,
                });
                self.next_target();
                continue;
            }
            let picker = self
                .picker
                .get_or_insert_with(|| entry.pool.picker(upstream_model));
            let lease = match picker.pick() {
                Ok(lease) => lease,
                Err(unavailable) => {
                    self.exhausted.unavailable.push(unavailable);
                    self.next_target();
                    continue;
                }
            };
            request.model.clone_from(upstream_model);
            let timeout = runtime.limits().first_event_timeout;
            match attempt(runtime, entry, lease, request, timeout).await {
                Ok(started) => {
                    started.lease.started();
                    return Some(started);
                }
                Err((error, lease)) => {
                    tracing::info!(
                        plugin = &*entry.plugin.name,
                        account = %lease.account().id,
                        "attempt failed: {error}"
                    );
                    let back_at = lease.failed(&error);
                    self.record(&lease, error, back_at);
                }
            }
        }
        None
    }

    /// Notes a failure and decides where the walk goes next.
    fn record(&mut self, lease: &Lease, error: CallError, back_at: Option<u64>) {
        let kind = FailureKind::of(&error);
        self.exhausted.attempts.push(Attempt {
            plugin: lease.plugin().to_string(),
            account: Some(lease.account().id.clone()),
            error,
            back_at,
        });
        if kind == FailureKind::Caller {
            self.stopped = true;
        } else if !kind.worth_another_account() {
            self.next_target();
        }
    }

    fn next_target(&mut self) {
        self.index += 1;
        self.picker = None;
    }

    fn exhausted(self) -> Exhausted {
        self.exhausted
    }
}

/// One account: instantiate, `chat()`, and wait for the first event, all
/// within the time allowed until the first event.
async fn attempt(
    runtime: &Arc<Runtime>,
    entry: &PluginEntry,
    lease: Lease,
    request: &ChatRequest,
    first_event_timeout: Duration,
) -> Result<Started, (CallError, Lease)> {
    let started_at = Instant::now();
    let context = AccountContext {
        plugin: entry.plugin.name.clone(),
        account: lease.account().clone(),
        state: runtime.state.clone(),
    };
    let session = async {
        let mut session = entry
            .plugin
            .session(runtime, context, entry.grants.clone())
            .await?;
        session.chat(request, first_event_timeout).await?;
        let remaining = first_event_timeout.saturating_sub(started_at.elapsed());
        let first = session
            .next(remaining.max(Duration::from_millis(1)))
            .await?;
        Ok::<_, CallError>((session, first))
    };
    match session.await {
        Ok((session, first)) => Ok(Started {
            session,
            first,
            served_by: entry.plugin.label(),
            lease,
        }),
        Err(error) => Err((error, lease)),
    }
}
