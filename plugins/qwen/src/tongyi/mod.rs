//! The tongyi flow (CN-B, what Qwen-2api uses): the browser's whole `Cookie`
//! header (plus its `x-xsrf-token` when given: newer clients send none), one
//! `POST /dialog/conversation` that answers with a stream of cumulative
//! snapshots and, in newer answers, incremental items.

pub mod decoder;

use std::rc::Rc;

use serde_json::{Value, json};
use wasmgate_plugin_sdk::http::Request;
use wasmgate_plugin_sdk::{Event, Level, Platform, Producer, ProviderError, Pump, Step};

use crate::account::{Account, Credentials, Flow};
use crate::errors;
use crate::ids;
use crate::models::ModelChoice;
use crate::prompt::FoldedPrompt;
use crate::pump::SseProducer;
use decoder::TongyiDecoder;

pub const CONVERSATION_PATH: &str = "/dialog/conversation";
pub const SESSION_DELETE_PATH: &str = "/dialog/session/delete";

/// A desktop Chrome, as the reference proxies send.
pub const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36";

/// The headers every tongyi call carries.
fn with_headers(request: Request, account: &Account, accept: &str) -> Request {
    let Credentials::Tongyi { cookie, xsrf_token } = &account.credentials else {
        return request;
    };
    let request = request
        .header("origin", &account.web_origin)
        .header("referer", format!("{}/", account.web_origin))
        .header("user-agent", USER_AGENT)
        // The cookie goes as raw bytes: browser cookies may hold non-ASCII.
        .header("cookie", cookie.as_bytes());
    let request = match xsrf_token {
        Some(token) => request.header("x-xsrf-token", token),
        None => request,
    };
    request
        .header("x-platform", "pc_tongyi")
        .header("accept", accept)
        // Compressed bodies would need decoding the host may not do.
        .header("accept-encoding", "identity")
        .header("content-type", "application/json;charset=UTF-8")
}

/// The conversation body: Qwen-2api's field choices (`userAction:"new_top"`)
/// with the switches newer clients use: deep thinking is `params.deepThink`
/// and the content's `ext.deepThink` (Qwen-2api's `feature_config` is not
/// read by the server), deep search `params.searchType:"depth"`.
pub fn conversation_body(
    choice: &ModelChoice,
    prompt: &FoldedPrompt,
    thinking: bool,
    request_id: &str,
) -> Value {
    json!({
        "mode": "chat",
        "model": choice.upstream,
        "action": "next",
        "userAction": "new_top",
        "requestId": request_id,
        "sessionId": "",
        "sessionType": "text_chat",
        "parentMsgId": "",
        "params": {
            "searchType": if choice.search { "depth" } else { "" },
            "deepThink": thinking
        },
        "contents": [{
            "role": "user",
            "contentType": "text",
            "content": prompt.text,
            "ext": { "deepThink": thinking, "searchType": if choice.search { "depth" } else { "" } }
        }]
    })
}

pub fn conversation_request(account: &Account, body: &Value) -> Request {
    let request =
        Request::post(format!("{}{CONVERSATION_PATH}", account.base_url)).body(body.to_string());
    with_headers(request, account, "text/event-stream")
}

/// Deletes the session an answer created, so proxied chats do not pile up
/// in the user's history (qwen-free-api does the same).
pub fn session_delete_request(account: &Account, session_id: &str) -> Request {
    let request = Request::post(format!("{}{SESSION_DELETE_PATH}", account.base_url))
        .body(json!({ "sessionId": session_id }).to_string());
    with_headers(request, account, "application/json")
}

/// Sends the conversation and checks that a stream came back.
pub fn start(
    platform: Rc<dyn Platform>,
    account: &Account,
    choice: &ModelChoice,
    prompt: &FoldedPrompt,
    thinking: bool,
) -> Result<Pump<AnswerStream>, ProviderError> {
    let body = conversation_body(choice, prompt, thinking, &ids::random_hex32(&*platform));
    let response = platform.send(conversation_request(account, &body))?;
    let response = errors::expect_stream(Flow::Tongyi, response, platform.now_secs())?;
    let pump = Pump::new(AnswerStream {
        stream: SseProducer::new(response, TongyiDecoder::new()),
        ended: None,
        answered: false,
        delete_session: (!account.keep_sessions).then(|| account.clone()),
        platform,
    });
    // A refusal (not logged in, filtered prompt) arrives as the first event:
    // surface it here, while the host may still try another account.
    pump.prime()?;
    Ok(pump)
}

/// A tongyi answer: its stream, then the clean-up once it is over.
pub struct AnswerStream {
    stream: SseProducer<TongyiDecoder>,
    /// How the stream ended, held until the events before it are handed
    /// over, so the clean-up does not delay them.
    ended: Option<Result<(), ProviderError>>,
    /// Some event came out: the answer was accepted (a refusal at the start
    /// leaves the session alone, as it always has).
    answered: bool,
    /// The account whose session is deleted at the end, unless it keeps
    /// its chats.
    delete_session: Option<Account>,
    platform: Rc<dyn Platform>,
}

impl AnswerStream {
    /// Deletes the session (best effort: a failed clean-up must not spoil a
    /// good answer) and notes restarted snapshots in the log.
    fn clean_up(&mut self) {
        let decoder = &self.stream.decoder;
        if let (true, Some(account), Some(session_id)) = (
            self.answered,
            self.delete_session.take(),
            decoder.session_id.as_deref(),
        ) {
            let _ = self
                .platform
                .send(session_delete_request(&account, session_id));
        }
        if decoder.restarts > 0 {
            self.platform.log(
                Level::Warn,
                &format!("tongyi restarted its answer {} time(s)", decoder.restarts),
            );
        }
    }
}

impl Producer for AnswerStream {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        if let Some(ended) = self.ended.take() {
            self.clean_up();
            return ended.map(|()| Step::Done);
        }
        let step = self.stream.produce(out);
        self.answered |= !out.is_empty();
        if !matches!(step, Ok(Step::More)) {
            self.ended = Some(step.map(|_| ()));
        }
        Ok(Step::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::resolve;

    fn account() -> Account {
        Account::from_host(
            |name| match name {
                "cookie" => Some("tongyi_sso_ticket=abc; t=é".into()),
                "xsrf-token" => Some("xsrf-1".into()),
                _ => None,
            },
            |name| (name == "base-url").then(|| "http://127.0.0.1:1".into()),
        )
        .unwrap()
    }

    #[test]
    fn conversation_request_carries_the_browser_credentials() {
        let account = account();
        let prompt = FoldedPrompt {
            text: "Hello".into(),
            image_urls: vec![],
        };
        let body = conversation_body(
            &resolve("qwen-max-thinking", Flow::Tongyi, None),
            &prompt,
            true,
            "0123",
        );
        let request = conversation_request(&account, &body);
        assert_eq!(request.url(), "http://127.0.0.1:1/dialog/conversation");
        assert_eq!(
            request.header_text("cookie").as_deref(),
            Some("tongyi_sso_ticket=abc; t=é")
        );
        assert_eq!(
            request.header_text("x-xsrf-token").as_deref(),
            Some("xsrf-1")
        );
        assert_eq!(
            request.header_text("x-platform").as_deref(),
            Some("pc_tongyi")
        );
        assert_eq!(
            request.header_text("accept").as_deref(),
            Some("text/event-stream")
        );
        assert_eq!(
            request.header_text("origin").as_deref(),
            Some("https://www.tongyi.com")
        );
        let sent: Value = serde_json::from_slice(request.body_bytes()).unwrap();
        assert_eq!(sent["model"], "qwen-max");
        assert_eq!(sent["requestId"], "0123");
        assert_eq!(sent["contents"][0]["content"], "Hello");
        assert_eq!(sent["contents"][0]["role"], "user");
        assert_eq!(sent["params"]["deepThink"], true);
        assert_eq!(sent["contents"][0]["ext"]["deepThink"], true);
    }

    #[test]
    fn session_delete_names_the_session() {
        let request = session_delete_request(&account(), "s-1");
        assert_eq!(request.url(), "http://127.0.0.1:1/dialog/session/delete");
        assert_eq!(
            serde_json::from_slice::<Value>(request.body_bytes()).unwrap()["sessionId"],
            "s-1"
        );
    }
}
