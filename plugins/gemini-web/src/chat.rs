//! One chat request, start to first event.

use std::rc::Rc;

use wasmgate_plugin_sdk::{ChatRequest, ProviderError};

use crate::account::Account;
use crate::answer::Answer;
use crate::models::{self, MODELS, ModelError};
use crate::platform::{Level, Platform};
use crate::prompt;
use crate::session::Session;

/// Restores the session, rotates the cookie if due, reads the page values,
/// uploads attachments, sends StreamGenerate and reads up to the first event
/// (so that refusals surface here, before anything reaches the client).
pub fn start(
    platform: Rc<dyn Platform>,
    account: Account,
    request: &ChatRequest,
) -> Result<Answer, ProviderError> {
    let model =
        models::resolve(&request.model, account.model_overrides.as_deref()).map_err(model_error)?;
    let prompt = prompt::fold(&request.messages)
        .map_err(|why| ProviderError::BadRequest(why.to_string()))?;
    if !request.tools.is_empty() {
        platform.log(
            Level::Debug,
            "gemini-web has no function calling: tools are ignored",
        );
    }

    let mut session = Session::open(platform, account);
    session.rotate_if_due()?;
    let mut page = session.page()?;
    let files = prompt
        .attachments
        .iter()
        .map(|attachment| session.upload(&page, attachment))
        .collect::<Result<Vec<_>, _>>()?;
    let response = session.generate(&mut page, &model, &prompt.text, &files)?;
    let answer = Answer::new(session, response, &model.name);
    answer.prime()?;
    Ok(answer)
}

pub fn model_error(error: ModelError) -> ProviderError {
    match error {
        ModelError::Unknown(name) => ProviderError::ModelNotFound(format!(
            "gemini-web has no model '{name}' (known: {})",
            MODELS
                .iter()
                .map(|row| row.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ModelError::BadOverride(entry) => ProviderError::Internal(format!(
            "the `model-overrides` setting has an invalid entry {entry:?} (want name=hexid[:capacity])"
        )),
    }
}
