//! Running one chat request over a route's targets and their account pools.
//!
//! A [`Walk`] goes through the route's plugins in order and through each
//! one's accounts as its pool hands them out; a plugin with no account at
//! all is passed by. A failure decides what comes next: the caller's
//! mistakes end the walk, plugin faults move on to the next plugin, and
//! everything else (credentials, limits, upstream errors, timeouts) tries the
//! next account, up to the pool's retries. A plugin that does not know the
//! model is asked for the route's `default` model if there is one, else the
//! next plugin is. A streamed
//! answer is only retried until its first event exists, because after that
//! something may have reached the client; a non-streamed answer can be
//! retried until it is whole, since the client sees nothing before that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pool::{FailureKind, Lease, Picker, Unavailable};
use crate::registry::{Hop, PluginEntry, Resolution};
use crate::runtime::bindings::ProviderError;
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
    /// Plugins with no account configured at all, with what would add one.
    pub no_account: Vec<(String, String)>,
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

/// The usage an answer reported last, if any.
pub fn last_usage(events: &[Event]) -> Option<&Usage> {
    events.iter().rev().find_map(|event| match event {
        Event::Usage(usage) => Some(usage),
        _ => None,
    })
}

/// One request's way through the targets and their accounts.
struct Walk<'r> {
    targets: &'r [Hop],
    /// The target being tried.
    index: usize,
    /// The upstream model asked of it (its `default` once it knew not the first).
    model: Option<String>,
    picker: Option<Picker<'r>>,
    stopped: bool,
    exhausted: Exhausted,
}

impl<'r> Walk<'r> {
    fn new(resolution: &'r Resolution) -> Self {
        Walk {
            targets: &resolution.targets,
            index: 0,
            model: None,
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
            let hop = &targets[self.index];
            let entry = &hop.entry;
            if entry.pool.is_empty() {
                self.exhausted
                    .no_account
                    .push((entry.plugin.name.to_string(), entry.account_hint.clone()));
                self.next_target();
                continue;
            }
            let model = self.model.get_or_insert_with(|| hop.model.clone());
            let picker = self.picker.get_or_insert_with(|| entry.pool.picker(model));
            let lease = match picker.pick() {
                Ok(lease) => lease,
                Err(unavailable) => {
                    self.exhausted.unavailable.push(unavailable);
                    self.next_target();
                    continue;
                }
            };
            request.model.clone_from(model);
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
        let unknown_model = matches!(
            self.exhausted.attempts.last().map(|a| &a.error),
            Some(CallError::Provider(ProviderError::ModelNotFound(_)))
        );
        if unknown_model {
            let hop = &self.targets[self.index];
            match &hop.default_model {
                Some(default) if self.model.as_ref() != Some(default) => {
                    // Same plugin, its default model, from its first account.
                    self.model = Some(default.clone());
                    self.picker = None;
                }
                _ if self.index + 1 < self.targets.len() => self.next_target(),
                _ => self.stopped = true,
            }
        } else if kind == FailureKind::Caller {
            self.stopped = true;
        } else if !kind.worth_another_account() {
            self.next_target();
        }
    }

    fn next_target(&mut self) {
        self.index += 1;
        self.model = None;
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
    let context = AccountContext::new(
        entry.plugin.name.clone(),
        lease.account().clone(),
        runtime.state.clone(),
        lease.state_scope(),
    );
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
    // Waiting for an instance slot and instantiating count against the time
    // to the first event too: nothing before it may wait forever.
    let session = async {
        match tokio::time::timeout(first_event_timeout, session).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Deadline(first_event_timeout)),
        }
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
