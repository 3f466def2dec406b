//! One chat request: check the account and the request without touching the
//! network, then session, uploads and the ask.

use wasmgate_plugin_sdk::{ChatRequest, Level, Platform, ProviderError};

use crate::account::{AccountError, check_not_expired, load_account};
use crate::completion::{Answer, AnswerStream};
use crate::errors::{Classifier, Quota};
use crate::models;
use crate::prompt::build_prompt;
use crate::settings::Settings;
use crate::upstream::Upstream;
use crate::wire;

pub fn start<'a, P: Platform>(
    platform: &'a P,
    request: &ChatRequest,
) -> Result<AnswerStream<'a, P>, ProviderError> {
    let model = models::find(&request.model).ok_or_else(|| {
        ProviderError::ModelNotFound(format!("Gemini Business has no model `{}`", request.model))
    })?;
    let account = load_account(platform).map_err(account_error)?;
    // An expired account is refused before any network call, so the host
    // moves on to the next one.
    check_not_expired(&account, platform.now_secs()).map_err(account_error)?;
    let prompt = build_prompt(&request.messages)
        .map_err(|err| ProviderError::BadRequest(err.to_string()))?;
    if !request.tools.is_empty() {
        platform.log(
            Level::Debug,
            "function tools are not supported by Gemini Business; ignoring them",
        );
    }

    let settings = Settings::read(|name| platform.setting(name));
    let classifier = Classifier {
        quota: if model.generates_images() {
            Quota::Images
        } else {
            Quota::Text
        },
        cooldowns: settings.cooldowns,
    };
    let upstream = Upstream::new(platform, account, settings, classifier);
    let session = upstream.create_session()?;
    let mut file_ids = Vec::with_capacity(prompt.attachments.len());
    for (index, attachment) in prompt.attachments.iter().enumerate() {
        file_ids.push(upstream.upload(&session, attachment, salt(index, &attachment.data))?);
    }
    let body = wire::stream_assist(
        upstream.config_id(),
        &session,
        &prompt.text,
        &file_ids,
        model,
        upstream.locale(),
    );
    let stream = upstream.ask(&body)?;
    Answer::new(upstream, stream, session).into_stream()
}

fn account_error(err: AccountError) -> ProviderError {
    if err.is_forbidden() {
        ProviderError::Forbidden(err.to_string())
    } else {
        ProviderError::Unauthorized(err.to_string())
    }
}

/// The varying part of an upload's file name (FNV-1a of its position and
/// first bytes); it only needs to differ between uploads.
fn salt(index: usize, data: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in index.to_le_bytes().iter().chain(data.iter().take(64)) {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    hash
}
