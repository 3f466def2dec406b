//! One chat on one account: pick the flow, start it, hand out its events.

use std::rc::Rc;

use wasmgate_plugin_sdk::{ChatRequest, Event, ModelInfo, Platform, ProviderError, Pump};

use crate::account::{Account, Flow};
use crate::intl;
use crate::models;
use crate::prompt;
use crate::tongyi;

/// An answer under way, on the SDK's pump: each `next` hands over every
/// event decoded so far.
/// (Boxed: the two pumps are large, and of different sizes.)
pub enum Answer {
    Tongyi(Box<Pump<tongyi::AnswerStream>>),
    ChatQwenAi(Box<Pump<intl::AnswerStream>>),
}

/// Starts a chat; returns once the upstream accepted it and the first piece
/// of the answer is in (a refusal is an error here).
pub fn start(
    platform: Rc<dyn Platform>,
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
            let pump = tongyi::start(platform, account, &choice, &folded, thinking)?;
            Ok(Answer::Tongyi(Box::new(pump)))
        }
        Flow::ChatQwenAi => {
            let folded = prompt::fold_for_chat_qwen_ai(&request.messages)?;
            let pump = intl::start(&*platform, account, &request.model, asked_thinking, &folded)?;
            Ok(Answer::ChatQwenAi(Box::new(pump)))
        }
    }
}

impl Answer {
    /// Every event decoded so far (reading when none is); empty at the end.
    /// When a tongyi answer is over (or failed) its session is deleted,
    /// best effort.
    pub fn next_batch(&self) -> Result<Vec<Event>, ProviderError> {
        match self {
            Answer::Tongyi(pump) => pump.next_batch(),
            Answer::ChatQwenAi(pump) => pump.next_batch(),
        }
    }

    /// One event at a time, `None` at the end (for tests that watch the
    /// stream piece by piece).
    pub fn next_event(&self) -> Result<Option<Event>, ProviderError> {
        match self {
            Answer::Tongyi(pump) => pump.next_event(),
            Answer::ChatQwenAi(pump) => pump.next_event(),
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
