//! One chat request, start to first event.

use std::rc::Rc;

use wasmgate_plugin_sdk::{ChatRequest, ProviderError};

use crate::account::Account;
use crate::answer::{Answer, Reader};
use crate::models::{self, ModelError};
use crate::prompt;
use crate::session::Session;
use wasmgate_plugin_sdk::platform::{Level, Platform};

/// Restores the session, rotates the cookie if due, reads the page values,
/// uploads attachments, sends StreamGenerate and reads up to the first event
/// (so that refusals surface here, before anything reaches the client).
pub fn start(
    platform: Rc<dyn Platform>,
    account: Account,
    request: &ChatRequest,
) -> Result<Answer, ProviderError> {
    // An unknown name fails before any upstream call; the id comes later,
    // from the account's model list.
    let overrides = account.model_overrides.clone();
    let pinned = match overrides.as_deref() {
        Some(text) => models::parse_overrides(text)
            .map_err(model_error)?
            .iter()
            .any(|model| model.name == request.model.trim().to_ascii_lowercase()),
        None => false,
    };
    if !pinned {
        models::parse(&request.model).map_err(model_error)?;
    }
    let prompt = prompt::fold(&request.messages)
        .map_err(|why| ProviderError::BadRequest(why.to_string()))?;
    if !request.tools.is_empty() {
        platform.log(
            Level::Debug,
            "gemini-web has no function calling: tools are ignored",
        );
    }

    let mut session = Session::open(platform.clone(), account);
    session.rotate_if_due()?;
    let mut page = session.page()?;
    let discovered = session.discovered();
    let model = models::resolve(&request.model, overrides.as_deref(), discovered.as_ref())
        .map_err(model_error)?;
    session.activity(&page);
    let files = prompt
        .attachments
        .iter()
        .map(|attachment| session.upload(&page, attachment))
        .collect::<Result<Vec<_>, _>>()?;
    let mut attempt = 0;
    loop {
        let response = session.generate(&mut page, &model, &prompt.text, &files)?;
        let mut reader = Reader::new(session, page.clone(), response, &model.name);
        match reader.prime() {
            Ok(first) => return Ok(Answer::starting_with(first, Some(reader))),
            // Code 1013 or a stream that ended without output: the web
            // client reads the page again and retries.
            Err(error) if reader.retryable() && attempt < RETRIES => {
                attempt += 1;
                session = reader.into_session();
                session.log(
                    Level::Warn,
                    &format!("Gemini failed before answering ({error:?}); retry {attempt} of {RETRIES} with a fresh page"),
                );
                platform.sleep_ms(RETRY_DELAY_MS * attempt as u64);
                page = session.refresh_page(&page)?;
                session.activity(&page);
            }
            Err(error) => return Err(error),
        }
    }
}

/// Retries of a generation that failed before any output. Fewer and
/// shorter than the reference client's (5, 5·k s apart): the whole of
/// `chat()` runs under the host's first-event timeout.
const RETRIES: u32 = 2;
const RETRY_DELAY_MS: u64 = 1000;

pub fn model_error(error: ModelError) -> ProviderError {
    match error {
        ModelError::Unknown(name) => ProviderError::ModelNotFound(format!(
            "gemini-web has no model '{name}' (it takes gemini-<version>-flash, -pro or -flash-lite, with -thinking/-extended, -advanced or -plus; e.g. {})",
            models::table_names()
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ModelError::BadOverride(entry) => ProviderError::Internal(format!(
            "the `model-overrides` setting has an invalid entry {entry:?} (want name=hexid[:capacity])"
        )),
    }
}

/// The models of the account: `(name, display name)`. From the account's
/// own list when the session can be read, else the built-in table; model
/// listing never fails over a session problem (chat reports those).
pub fn list(platform: Rc<dyn Platform>, account: Account) -> Vec<(String, String)> {
    let overrides = account.model_overrides.clone();
    let mut session = Session::open(platform.clone(), account);
    let discovered = match session.page() {
        Ok(_) => session.discovered(),
        Err(error) => {
            platform.log(
                Level::Warn,
                &format!("listing the table's models: the session could not be read ({error:?})"),
            );
            None
        }
    };
    let mut names: Vec<(String, String)> = match discovered {
        Some(discovered) => {
            let mut names: Vec<(String, String)> = Vec::new();
            for listed in &discovered.models {
                let name = listed.name();
                if names.iter().all(|(known, _)| *known != name) {
                    names.push((name, format!("Gemini {}", listed.display)));
                }
            }
            names.push((models::UNSPECIFIED.into(), "Gemini (server default)".into()));
            names
        }
        None => models::table_names(),
    };
    if let Some(overrides) = overrides
        && let Ok(extra) = models::parse_overrides(&overrides)
    {
        for model in extra {
            if names.iter().all(|(known, _)| *known != model.name) {
                names.push((model.name.clone(), model.name));
            }
        }
    }
    names
}
