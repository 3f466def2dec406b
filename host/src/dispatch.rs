//! Running one chat request: pick a target and an account, start a plugin
//! session, and move on to the next account or fallback when the failure
//! allows it — but only until the first event exists, because after that
//! something may have reached the client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::registry::{PluginEntry, Resolution};
use crate::runtime::bindings::{ChatRequest, Event, ProviderError};
use crate::runtime::{AccountContext, CallError, Runtime, Session};

/// A started answer: the session, its first event, and who serves it.
pub struct Started {
    pub session: Session,
    /// `None` when the answer was empty from the start.
    pub first: Option<Event>,
    /// `name@version` of the plugin.
    pub served_by: String,
    /// The account it runs on.
    pub account: String,
}

/// One failed attempt.
#[derive(Debug)]
pub struct Attempt {
    pub plugin: String,
    /// `None` when the plugin had no account to try.
    pub account: Option<String>,
    pub error: CallError,
}

/// Why no target could serve the request.
#[derive(Debug)]
pub struct Exhausted {
    pub attempts: Vec<Attempt>,
}

/// What to do after a failed attempt.
enum Next {
    /// Try this plugin's next account.
    Account,
    /// Give up on this plugin; try the next fallback.
    Fallback,
    /// The caller's fault: answer now.
    Stop,
}

fn after(error: &CallError) -> Next {
    match error {
        CallError::Provider(
            ProviderError::Unauthorized(_)
            | ProviderError::Forbidden(_)
            | ProviderError::RateLimited(_)
            | ProviderError::QuotaExhausted(_),
        ) => Next::Account,
        CallError::Provider(
            ProviderError::BadRequest(_)
            | ProviderError::ModelNotFound(_)
            | ProviderError::ContentFiltered(_),
        ) => Next::Stop,
        _ => Next::Fallback,
    }
}

pub async fn start(
    runtime: &Arc<Runtime>,
    resolution: &Resolution,
    mut request: ChatRequest,
) -> Result<Started, Exhausted> {
    let limits = runtime.limits();
    let mut attempts = Vec::new();
    for (entry, upstream_model) in &resolution.targets {
        request.model.clone_from(upstream_model);
        if entry.accounts.is_empty() {
            attempts.push(Attempt {
                plugin: entry.plugin.name.to_string(),
                account: None,
                error: CallError::NoAccount(entry.account_hint.clone()),
            });
            continue;
        }
        for account in entry.rotation() {
            match attempt(
                runtime,
                entry,
                account.clone(),
                &request,
                limits.first_event_timeout,
            )
            .await
            {
                Ok(started) => return Ok(started),
                Err(error) => {
                    let next = after(&error);
                    tracing::info!(
                        plugin = &*entry.plugin.name,
                        account = %account.id,
                        "attempt failed: {error}"
                    );
                    attempts.push(Attempt {
                        plugin: entry.plugin.name.to_string(),
                        account: Some(account.id.clone()),
                        error,
                    });
                    match next {
                        Next::Account => continue,
                        Next::Fallback => break,
                        Next::Stop => return Err(Exhausted { attempts }),
                    }
                }
            }
        }
    }
    Err(Exhausted { attempts })
}

/// One account: instantiate, `chat()`, and wait for the first event, all
/// within the time allowed until the first event.
async fn attempt(
    runtime: &Arc<Runtime>,
    entry: &PluginEntry,
    account: crate::config::Account,
    request: &ChatRequest,
    first_event_timeout: Duration,
) -> Result<Started, CallError> {
    let started_at = Instant::now();
    let context = AccountContext {
        plugin: entry.plugin.name.clone(),
        account,
        state: runtime.state.clone(),
    };
    let account_id = context.account.id.clone();
    let mut session = entry
        .plugin
        .session(runtime, context, entry.grants.clone())
        .await?;
    session.chat(request, first_event_timeout).await?;
    let remaining = first_event_timeout.saturating_sub(started_at.elapsed());
    let first = session
        .next(remaining.max(Duration::from_millis(1)))
        .await?;
    Ok(Started {
        session,
        first,
        served_by: entry.plugin.label(),
        account: account_id,
    })
}
