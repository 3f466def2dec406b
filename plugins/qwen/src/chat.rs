//! One chat on one account: pick the flow, start it, hand out its events.

use wasmgate_plugin_sdk::{ChatRequest, Event, ModelInfo, ProviderError};

use crate::account::{Account, Flow};
use crate::intl::{self, decoder::IntlDecoder};
use crate::models;
use crate::platform::Platform;
use crate::prompt;
use crate::pump::SsePump;
use crate::tongyi::{self, decoder::TongyiDecoder};

pub enum Answer {
    Tongyi {
        pump: SsePump<TongyiDecoder>,
        /// Delete the session once the answer is over.
        delete_session: bool,
    },
    ChatQwenAi {
        pump: SsePump<IntlDecoder>,
    },
}

/// Starts a chat; returns once the upstream accepted it and the first piece
/// of the answer is in (a refusal is an error here).
pub fn start(
    platform: &dyn Platform,
    account: &Account,
    request: &ChatRequest,
) -> Result<Answer, ProviderError> {
    prompt::check_supported(request)?;
    let asked_thinking = prompt::asked_thinking(request);
    match account.flow() {
        Flow::Tongyi => {
            let choice = models::resolve(&request.model, Flow::Tongyi, None);
            let thinking = asked_thinking.unwrap_or(choice.thinking);
            let folded = prompt::fold_for_tongyi(&request.messages)?;
            Ok(Answer::Tongyi {
                pump: tongyi::start(platform, account, &choice, &folded, thinking)?,
                delete_session: !account.keep_sessions,
            })
        }
        Flow::ChatQwenAi => {
            let folded = prompt::fold_for_chat_qwen_ai(&request.messages)?;
            Ok(Answer::ChatQwenAi {
                pump: intl::start(platform, account, &request.model, asked_thinking, &folded)?,
            })
        }
    }
}

impl Answer {
    /// The next event, `None` at the end. When the answer is over (or
    /// failed) the tongyi session is deleted, best effort.
    pub fn next_event(
        &mut self,
        platform: &dyn Platform,
        account: &Account,
    ) -> Result<Option<Event>, ProviderError> {
        match self {
            Answer::Tongyi {
                pump,
                delete_session,
            } => {
                let next = pump.next_event();
                if !matches!(next, Ok(Some(_))) && *delete_session {
                    *delete_session = false;
                    if let Some(session_id) = pump.decoder.session_id.clone() {
                        // A failed clean-up must not spoil a good answer.
                        let _ = platform.send(tongyi::session_delete_request(account, &session_id));
                    }
                }
                next
            }
            Answer::ChatQwenAi { pump } => pump.next_event(),
        }
    }

    /// How often tongyi's snapshots restarted (worth a log line).
    pub fn restarts(&self) -> u32 {
        match self {
            Answer::Tongyi { pump, .. } => pump.decoder.restarts,
            Answer::ChatQwenAi { .. } => 0,
        }
    }
}

/// The models this account offers: chat.qwen.ai's live catalogue (cached,
/// with the dated list as fallback), tongyi's from the table.
pub fn list_models(
    platform: &dyn Platform,
    account: &Account,
) -> Result<Vec<ModelInfo>, ProviderError> {
    match account.flow() {
        Flow::Tongyi => Ok(models::listed(Flow::Tongyi)),
        Flow::ChatQwenAi => intl::list_models(platform, account),
    }
}
