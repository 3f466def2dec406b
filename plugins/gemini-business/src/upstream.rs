//! The calls to the upstream for one account: the JWT (cached in state,
//! refreshed when old or refused), sessions, uploads, the ask, downloads.

use std::cell::RefCell;

use serde_json::Value;
use wasmgate_plugin_sdk::http::{Request, Response};
use wasmgate_plugin_sdk::retry_after::retry_after_ms;
use wasmgate_plugin_sdk::{Level, Platform, ProviderError};

use crate::account::Account;
use crate::errors::{Classifier, Step};
use crate::jwt::{self, CachedJwt, REUSE_SECONDS};
use crate::oxsrf;
use crate::prompt::Attachment;
use crate::settings::Settings;
use crate::wire::{self, APP_ORIGIN};

/// State key of the cached JWT.
const JWT_STATE_KEY: &str = "jwt";
/// Bounds on bodies read whole.
const JSON_LIMIT: usize = 4 * 1024 * 1024;
const ERROR_BODY_LIMIT: usize = 64 * 1024;
const MEDIA_LIMIT: usize = 32 * 1024 * 1024;
/// Redirects followed on a download (the seed's client follows them).
const MAX_REDIRECTS: usize = 3;
/// A desktop browser, as every known client claims to be.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// The rest of the browser's header set every fork sends to the widget API
/// (yukkcat `bc97009` `get_common_headers`), `x-server-timeout` above all.
/// Not `accept-encoding`: the host hands bodies over as sent, undecoded.
pub const BROWSER_HEADERS: &[(&str, &str)] = &[
    ("accept", "*/*"),
    ("accept-language", "zh-CN,zh;q=0.9,en;q=0.8"),
    ("x-server-timeout", "1800"),
    (
        "sec-ch-ua",
        "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
    ),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Windows\""),
    ("sec-fetch-dest", "empty"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "cross-site"),
];
/// Download attempts, and the first backoff (doubled after each failure),
/// as the forks do (3 attempts, 2^n s).
const DOWNLOAD_ATTEMPTS: u32 = 3;
const DOWNLOAD_BACKOFF_MS: u64 = 1000;

pub struct Upstream<'a, P: Platform> {
    platform: &'a P,
    account: Account,
    settings: Settings,
    pub classifier: Classifier,
    /// The token this instance holds, saving state reads.
    jwt: RefCell<Option<CachedJwt>>,
}

impl<'a, P: Platform> Upstream<'a, P> {
    pub fn new(
        platform: &'a P,
        account: Account,
        settings: Settings,
        classifier: Classifier,
    ) -> Self {
        Upstream {
            platform,
            account,
            settings,
            classifier,
            jwt: RefCell::new(None),
        }
    }

    pub fn platform(&self) -> &'a P {
        self.platform
    }

    pub fn config_id(&self) -> &str {
        &self.account.config_id
    }

    pub fn locale(&self) -> &wire::Locale {
        &self.settings.locale
    }

    /// A usable JWT: the cached one unless `fresh` or too old, else a new
    /// one signed with a key from `getoxsrf`.
    pub fn jwt(&self, fresh: bool) -> Result<String, ProviderError> {
        let now = self.platform.now_secs();
        let csesidx = &self.account.csesidx;
        if !fresh {
            let held = self.jwt.borrow().clone();
            let cached = held.or_else(|| {
                let stored = self.platform.state_get(JWT_STATE_KEY)?;
                serde_json::from_str::<CachedJwt>(&stored).ok()
            });
            if let Some(cached) = cached.filter(|c| c.usable(csesidx, now)) {
                let token = cached.token.clone();
                *self.jwt.borrow_mut() = Some(cached);
                return Ok(token);
            }
        }
        self.platform
            .log(Level::Debug, "fetching a signing key from getoxsrf");
        let key = self.fetch_signing_key()?;
        let cached = CachedJwt {
            token: jwt::sign(&key, csesidx, now),
            csesidx: csesidx.clone(),
            issued_at: now,
        };
        if let Ok(stored) = serde_json::to_string(&cached) {
            self.platform
                .state_set(JWT_STATE_KEY, &stored, Some(REUSE_SECONDS as u32));
        }
        let token = cached.token.clone();
        *self.jwt.borrow_mut() = Some(cached);
        Ok(token)
    }

    fn forget_jwt(&self) {
        *self.jwt.borrow_mut() = None;
        self.platform.state_delete(JWT_STATE_KEY);
    }

    fn fetch_signing_key(&self) -> Result<jwt::SigningKey, ProviderError> {
        let request = Request::get(oxsrf::url(
            &self.settings.auth_origin,
            &self.account.csesidx,
        ))
        .header("cookie", oxsrf::cookie_header(&self.account))
        .header("accept", "*/*")
        .header("user-agent", USER_AGENT)
        .header("referer", format!("{APP_ORIGIN}/"));
        let mut response = self.platform.send(request)?;
        if !response.is_success() {
            return Err(self.failure(Step::SigningKey, response));
        }
        let body = response.read_text(JSON_LIMIT)?;
        oxsrf::parse_response(&body)
            .map_err(|err| ProviderError::upstream(response.status, err.to_string()))
    }

    /// Sends a request built around the current JWT; on 401 gets a fresh JWT
    /// and sends once more (a time-based cache alone would resend the refused
    /// token).
    fn send_authorized(&self, build: impl Fn() -> Request) -> Result<Response, ProviderError> {
        let with_jwt = |token: &str| {
            let request = build()
                .header("authorization", format!("Bearer {token}"))
                .header("origin", APP_ORIGIN)
                .header("referer", format!("{APP_ORIGIN}/"))
                .header("user-agent", USER_AGENT);
            BROWSER_HEADERS
                .iter()
                .fold(request, |request, (name, value)| {
                    request.header(name, value)
                })
        };
        let response = self.platform.send(with_jwt(&self.jwt(false)?))?;
        if response.status != 401 {
            return Ok(response);
        }
        self.platform
            .log(Level::Debug, "the JWT was refused; signing a fresh one");
        self.forget_jwt();
        Ok(self.platform.send(with_jwt(&self.jwt(true)?))?)
    }

    /// POSTs a widget method and returns its JSON answer.
    fn call_method(&self, step: Step, method: &str, body: &Value) -> Result<Value, ProviderError> {
        let url = wire::method_url(&self.settings.api_origin, method);
        let mut response = self.send_authorized(|| post_json(&url, body))?;
        if !response.is_success() {
            return Err(self.failure(step, response));
        }
        let bytes = response.read_to_end(JSON_LIMIT)?;
        serde_json::from_slice(&bytes).map_err(|_| {
            ProviderError::upstream(response.status, format!("{method}: the answer is not JSON"))
        })
    }

    /// The typed error of a non-2xx response.
    fn failure(&self, step: Step, mut response: Response) -> ProviderError {
        let body = response.read_text(ERROR_BODY_LIMIT).unwrap_or_default();
        self.classifier.http(
            step,
            response.status,
            &body,
            response
                .header("retry-after")
                .and_then(|value| retry_after_ms(value, self.platform.now_secs())),
        )
    }

    pub fn create_session(&self) -> Result<String, ProviderError> {
        let answer = self.call_method(
            Step::CreateSession,
            "widgetCreateSession",
            &wire::create_session(self.config_id()),
        )?;
        wire::session_name(&answer).ok_or_else(|| {
            ProviderError::upstream(200, "widgetCreateSession: the answer names no session")
        })
    }

    pub fn upload(
        &self,
        session: &str,
        attachment: &Attachment,
        salt: u32,
    ) -> Result<String, ProviderError> {
        let file_name =
            wire::upload_file_name(self.platform.now_secs(), salt, &attachment.mime_type);
        let body = wire::add_context_file(
            self.config_id(),
            session,
            &file_name,
            &attachment.mime_type,
            &attachment.data,
        );
        let answer = self.call_method(Step::Upload, "widgetAddContextFile", &body)?;
        wire::uploaded_file_id(&answer).ok_or_else(|| {
            ProviderError::upstream(200, "widgetAddContextFile: the answer names no file")
        })
    }

    /// Starts the ask; the returned body streams the answer array.
    pub fn ask(&self, body: &Value) -> Result<Response, ProviderError> {
        let url = wire::method_url(&self.settings.api_origin, "widgetStreamAssist");
        let response = self.send_authorized(|| post_json(&url, body))?;
        if !response.is_success() {
            return Err(self.failure(Step::Ask, response));
        }
        Ok(response)
    }

    /// `(fileId, full session path)` of the session's generated files; on
    /// failure none, and downloads fall back to the answer's session name.
    pub fn generated_file_sessions(&self, session: &str) -> Vec<(String, String)> {
        let body = wire::list_generated_files(self.config_id(), session);
        match self.call_method(Step::ListFiles, "widgetListSessionFileMetadata", &body) {
            Ok(answer) => wire::generated_file_sessions(&answer),
            Err(err) => {
                self.platform.log(
                    Level::Warn,
                    &format!("listing generated files failed: {}", describe(&err)),
                );
                Vec::new()
            }
        }
    }

    /// The bytes of a generated file and the content type they came with.
    ///
    /// Redirects are followed; the JWT goes only to the widget API's own
    /// origin (another origin must be in the plugin's allowed hosts).
    pub fn download(
        &self,
        session: &str,
        file_id: &str,
    ) -> Result<(Vec<u8>, Option<String>), ProviderError> {
        let mut backoff = DOWNLOAD_BACKOFF_MS;
        let mut attempt = 1;
        loop {
            match self.download_once(session, file_id) {
                Err(err) if attempt < DOWNLOAD_ATTEMPTS && is_transient(&err) => {
                    self.platform.log(
                        Level::Warn,
                        &format!(
                            "download attempt {attempt} failed, retrying in {backoff} ms: {}",
                            describe(&err)
                        ),
                    );
                    self.platform.sleep_ms(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    fn download_once(
        &self,
        session: &str,
        file_id: &str,
    ) -> Result<(Vec<u8>, Option<String>), ProviderError> {
        let api_origin = &self.settings.api_origin;
        let mut url = wire::download_url(api_origin, session, file_id);
        for _ in 0..=MAX_REDIRECTS {
            let mut response = if wire::same_origin(&url, api_origin) {
                self.send_authorized(|| {
                    Request::get(url.clone()).header("content-type", "application/json")
                })?
            } else {
                self.platform
                    .send(Request::get(url.clone()).header("user-agent", USER_AGENT))?
            };
            if is_redirect(response.status)
                && let Some(next) = response
                    .header("location")
                    .and_then(|l| wire::resolve(&url, l))
            {
                url = next;
                continue;
            }
            if !response.is_success() {
                return Err(self.failure(Step::Download, response));
            }
            let bytes = response.read_to_end(MEDIA_LIMIT)?;
            let content_type = response.header("content-type").map(str::to_string);
            return Ok((bytes, content_type));
        }
        Err(ProviderError::upstream(
            0,
            format!("downloadFile: more than {MAX_REDIRECTS} redirects"),
        ))
    }
}

/// A POST of a JSON body.
fn post_json(url: &str, body: &Value) -> Request {
    Request::post(url).json(body.to_string())
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A failure worth another download attempt: the network or a 5xx, not a
/// refusal.
fn is_transient(err: &ProviderError) -> bool {
    match err {
        ProviderError::Upstream(failure) => failure.status == 0 || failure.status >= 500,
        ProviderError::Timeout(_) => true,
        _ => false,
    }
}

/// A short text of an error for logs.
pub fn describe(err: &ProviderError) -> String {
    match err {
        ProviderError::Unauthorized(m)
        | ProviderError::Forbidden(m)
        | ProviderError::BadRequest(m)
        | ProviderError::ModelNotFound(m)
        | ProviderError::ContentFiltered(m)
        | ProviderError::Timeout(m)
        | ProviderError::Internal(m) => m.clone(),
        ProviderError::RateLimited(info) | ProviderError::QuotaExhausted(info) => {
            info.message.clone()
        }
        ProviderError::Upstream(failure) => failure.message.clone(),
    }
}
