//! The account's web session: cookie jar, rotation, page values, uploads,
//! the StreamGenerate call and image downloads. The protocol decisions live
//! in the pure modules; this sequences them over a [`Platform`].

use std::rc::Rc;

use wasmgate_plugin_sdk::{Media, ProviderError};

use crate::account::Account;
use crate::cookies::{CookieJar, PSIDTS};
use crate::failures::{self, GenerateStatus, body_hint, expired_cookies, http_failure};
use crate::generate_request::{self, Generate, ORIGIN, REFERER, USER_AGENT, UploadedFile};
use crate::images;
use crate::json_path;
use crate::models::{Discovered, Model};
use crate::page::PageValues;
use crate::prompt::Attachment;
use crate::rotation::{self, Outcome};
use crate::rpc::{self, UserStatus};
use crate::snapshot::GeneratedImage;
use crate::snapshot::{self, Candidate};
use crate::upload;
use wasmgate_plugin_sdk::http::{Request as HttpRequest, Response as HttpResponse};
use wasmgate_plugin_sdk::platform::{Level, Platform};
use wasmgate_plugin_sdk::retry_after;

/// State keys (the store is already scoped to this plugin and account).
const JAR_KEY: &str = "cookies";
const PAGE_KEY: &str = "page";
const ROTATING_KEY: &str = "rotating";
/// The account's model list (`otAQ7b`), refreshed with the page.
const MODELS_KEY: &str = "models";
/// The client session UUID the model header ends with (one per account, as
/// one browser profile keeps one).
const CLIENT_ID_KEY: &str = "client-id";
/// Outlives the page values, so a list is at hand until the next page read
/// (which asks again).
const MODELS_TTL_SECS: u32 = 2 * PAGE_TTL_SECS;
/// How long page values are reused before the page is read again; a failed
/// request renews them sooner.
const PAGE_TTL_SECS: u32 = 1800;
/// Keeps concurrent requests of the account from rotating at once.
const ROTATION_LEASE_SECS: u32 = 30;
const PAGE_LIMIT: usize = 8 << 20;
const SMALL_LIMIT: usize = 64 << 10;
const IMAGE_LIMIT: usize = 32 << 20;
const MAX_REDIRECTS: usize = 5;

pub struct Session {
    pub account: Account,
    platform: Rc<dyn Platform>,
    jar: CookieJar,
    rotated_this_request: bool,
}

impl Session {
    pub fn open(platform: Rc<dyn Platform>, account: Account) -> Self {
        let saved = platform.state_get(JAR_KEY);
        let jar = CookieJar::restore(
            saved.as_deref(),
            &account.psid,
            account.psidts.as_deref(),
            platform.now_secs(),
        );
        let session = Session {
            account,
            platform,
            jar,
            rotated_this_request: false,
        };
        // A new jar (first use, or the operator pasted new cookies) is saved
        // now, so that its rotation clock runs from this request on.
        if saved.as_deref() != Some(session.jar.to_json().as_str()) {
            session.save_jar();
        }
        session
    }

    /// How long a refusal asks to wait (`Retry-After`: seconds or a date).
    fn retry_after_ms(&self, response: &HttpResponse) -> Option<u64> {
        let value = response.header("retry-after")?;
        retry_after::retry_after_ms(value, self.platform.now_secs())
    }

    fn save_jar(&self) {
        self.platform.state_set(JAR_KEY, &self.jar.to_json(), None);
    }

    /// Takes a newer `__Secure-1PSIDTS` another request saved meanwhile.
    fn reload_jar(&mut self) -> bool {
        let saved = self.platform.state_get(JAR_KEY);
        let fresh = CookieJar::restore(
            saved.as_deref(),
            &self.account.psid,
            self.account.psidts.as_deref(),
            self.platform.now_secs(),
        );
        if fresh.get(PSIDTS) != self.jar.get(PSIDTS) {
            self.jar = fresh;
            return true;
        }
        false
    }

    /// Rotates `__Secure-1PSIDTS` when the interval has passed.
    pub fn rotate_if_due(&mut self) -> Result<(), ProviderError> {
        if !rotation::is_due(&self.jar, self.platform.now_secs(), self.account.rotation)
            || self.platform.state_get(ROTATING_KEY).is_some()
        {
            return Ok(());
        }
        // Like the web client, a refused rotation (401) is only logged: the
        // session may still serve, and the page and status check decide.
        self.rotate();
        Ok(())
    }

    fn rotate(&mut self) -> Outcome {
        self.rotated_this_request = true;
        let platform = self.platform.clone();
        platform.state_set(ROTATING_KEY, "1", Some(ROTATION_LEASE_SECS));
        let request = HttpRequest::post(self.account.endpoints.rotate())
            .header("content-type", "application/json")
            .header("origin", rotation::ROTATE_ORIGIN)
            .header("user-agent", USER_AGENT)
            .header("cookie", self.jar.header())
            .body(rotation::ROTATE_BODY);
        let answer = platform.send(request).and_then(|mut response| {
            let _ = response.read_to_end(SMALL_LIMIT)?;
            Ok(response)
        });
        platform.state_delete(ROTATING_KEY);
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                // Not fatal: the current cookie may still serve; try later.
                platform.log(Level::Warn, &format!("cookie rotation failed: {error}"));
                self.jar.rotated_at = platform.now_secs();
                self.save_jar();
                return Outcome::Failed(0);
            }
        };
        let outcome = rotation::apply(
            &mut self.jar,
            answer.status,
            answer.header_values("set-cookie"),
            platform.now_secs(),
        );
        match &outcome {
            Outcome::Rotated => platform.log(Level::Info, "rotated __Secure-1PSIDTS"),
            Outcome::Unchanged => platform.log(
                Level::Warn,
                "cookie rotation gave no new __Secure-1PSIDTS (throttled?)",
            ),
            Outcome::Failed(status) => platform.log(
                Level::Warn,
                &format!("cookie rotation answered HTTP {status}"),
            ),
            Outcome::Expired => platform.log(Level::Warn, "cookie rotation answered HTTP 401"),
        }
        if outcome != Outcome::Expired {
            self.save_jar();
        }
        outcome
    }

    /// Page values: cached, or read from the page.
    pub fn page(&mut self) -> Result<PageValues, ProviderError> {
        let cached = self
            .platform
            .state_get(PAGE_KEY)
            .and_then(|text| serde_json::from_str::<PageValues>(&text).ok());
        match cached {
            Some(values) => Ok(values),
            None => self.fetch_page(None),
        }
    }

    /// Reads the page again (the cached access token was refused).
    pub fn refresh_page(&mut self, stale: &PageValues) -> Result<PageValues, ProviderError> {
        self.platform.state_delete(PAGE_KEY);
        self.fetch_page(Some(stale))
    }

    fn fetch_page(&mut self, previous: Option<&PageValues>) -> Result<PageValues, ProviderError> {
        let mut found = self.read_session()?;
        if found.is_none() {
            // Signed out: a newer cookie saved by another request, or a
            // rotation, may revive the session once.
            let revived = self.reload_jar()
                || (!self.rotated_this_request && self.rotate() == Outcome::Rotated);
            if revived {
                found = self.read_session()?;
            }
        }
        let Some(mut values) = found else {
            return Err(expired_cookies(
                &self.account.id,
                "the Gemini page came back signed out",
            ));
        };
        // The token is reportedly missing from the page at times: keep the
        // last one rather than sending none.
        if values.access_token.is_none() {
            values.access_token = previous.and_then(|p| p.access_token.clone());
        }
        if let Ok(text) = serde_json::to_string(&values) {
            self.platform
                .state_set(PAGE_KEY, &text, Some(PAGE_TTL_SECS));
        }
        Ok(values)
    }

    /// The page's values, `None` if the session is signed out. A signed-out
    /// page is a guest page that still has values, so the account's status
    /// (`otAQ7b`, as the web client judges it) decides; its model list is
    /// kept for model resolution.
    fn read_session(&mut self) -> Result<Option<PageValues>, ProviderError> {
        let Some(values) = self.read_page()? else {
            return Ok(None);
        };
        match self.user_status(&values) {
            Ok(status) if status.signed_out() => Ok(None),
            Ok(status) => {
                if let Some(code) = status.code.filter(|&code| code != 1000) {
                    self.platform.log(
                        Level::Warn,
                        &format!("the account status is {code} (not 1000): some models or features may be blocked"),
                    );
                }
                if !status.discovered.models.is_empty()
                    && let Ok(text) = serde_json::to_string(&status.discovered)
                {
                    self.platform
                        .state_set(MODELS_KEY, &text, Some(MODELS_TTL_SECS));
                }
                Ok(Some(values))
            }
            Err(401 | 403) => Ok(None),
            Err(status) => {
                // Not fatal: the table serves until the next page read.
                self.platform.log(
                    Level::Warn,
                    &format!("the account status call failed (HTTP {status}); using the built-in model table"),
                );
                Ok(Some(values))
            }
        }
    }

    /// `otAQ7b`: the account's status and models; `Err(status)` when the
    /// call failed (0: no answer, or an unreadable one).
    fn user_status(&self, page: &PageValues) -> Result<UserStatus, u16> {
        let mut response = self.batch(page, rpc::USER_STATUS, "[]").map_err(|_| 0u16)?;
        let body = response.read_to_end(PAGE_LIMIT).map_err(|_| 0u16)?;
        if response.status != 200 {
            return Err(response.status);
        }
        rpc::payload(&body, rpc::USER_STATUS)
            .map(|payload| rpc::user_status(&payload))
            .ok_or(0)
    }

    /// The heartbeat the web client sends before generating; its failure
    /// only logs.
    pub fn activity(&self, page: &PageValues) {
        let result = self
            .batch(page, rpc::SETTINGS, rpc::ACTIVITY_PAYLOAD)
            .and_then(|mut response| {
                let _ = response.read_to_end(SMALL_LIMIT)?;
                Ok(response.status)
            });
        match result {
            Ok(200) => {}
            Ok(status) => self.platform.log(
                Level::Debug,
                &format!("the activity heartbeat answered HTTP {status}"),
            ),
            Err(error) => self.platform.log(
                Level::Debug,
                &format!("the activity heartbeat failed: {error}"),
            ),
        }
    }

    fn batch(
        &self,
        page: &PageValues,
        rpcid: &str,
        payload: &str,
    ) -> Result<HttpResponse, wasmgate_plugin_sdk::http::HttpError> {
        let counter = 10_000 + (self.platform.random_u64() % 90_000) as u32;
        let url = self
            .account
            .endpoints
            .batch(&rpc::query(rpcid, page, counter));
        let request = HttpRequest::post(url)
            .header("content-type", generate_request::FORM_CONTENT_TYPE)
            .header("origin", ORIGIN)
            .header("referer", REFERER)
            .header("x-same-domain", "1")
            .header("user-agent", USER_AGENT)
            .header("x-goog-ext-525001261-jspb", rpc::BATCH_MODEL_HEADER)
            .header("x-goog-ext-73010989-jspb", "[0]")
            .header("cookie", self.jar.header())
            .body(rpc::form_body(page.access_token.as_deref(), rpcid, payload));
        self.platform.send(request)
    }

    /// Reads the newest turn of a conversation back (`hNvQHb`): the
    /// candidate with `rcid` (or the first). `None` if the call failed.
    pub fn read_chat(&self, page: &PageValues, cid: &str, rcid: Option<&str>) -> Option<Candidate> {
        let payload = serde_json::json!([cid, 10, null, 1, [1], [4], null, 1]).to_string();
        let mut response = self.batch(page, rpc::READ_CHAT, &payload).ok()?;
        let body = response.read_to_end(PAGE_LIMIT).ok()?;
        if response.status != 200 {
            self.platform.log(
                Level::Debug,
                &format!("reading the chat back answered HTTP {}", response.status),
            );
            return None;
        }
        let payload = rpc::payload(&body, rpc::READ_CHAT)?;
        snapshot::read_chat_candidate(&payload, rcid)
    }

    pub fn sleep_ms(&self, ms: u64) {
        self.platform.sleep_ms(ms);
    }

    /// The account's model list, when a page read found one.
    pub fn discovered(&self) -> Option<Discovered> {
        self.platform
            .state_get(MODELS_KEY)
            .and_then(|text| serde_json::from_str(&text).ok())
    }

    /// The account's client session UUID, made once.
    fn client_id(&self) -> String {
        if let Some(id) = self.platform.state_get(CLIENT_ID_KEY) {
            return id;
        }
        let id = generate_request::uuid_v4(self.random_16());
        self.platform.state_set(CLIENT_ID_KEY, &id, None);
        id
    }

    /// The page's values, `None` if the page is signed out.
    fn read_page(&mut self) -> Result<Option<PageValues>, ProviderError> {
        let mut url = self.account.endpoints.app();
        for _ in 0..=MAX_REDIRECTS {
            let request = HttpRequest::get(url.as_str())
                .header("origin", ORIGIN)
                .header("referer", REFERER)
                .header("user-agent", USER_AGENT)
                .header("cookie", self.jar.header());
            let mut page = self.platform.send(request)?;
            let html = page.read_text(PAGE_LIMIT)?;
            if self.jar.apply(page.header_values("set-cookie")) {
                self.save_jar();
            }
            match page.status {
                200..=299 => return Ok(PageValues::extract(&html)),
                301 | 302 | 303 | 307 | 308 => {
                    let location = page.header("location").unwrap_or_default();
                    if location.contains("accounts.google.com") || location.contains("ServiceLogin")
                    {
                        return Ok(None);
                    }
                    url = self.account.endpoints.resolve(location);
                }
                401 | 403 => return Ok(None),
                status => {
                    return Err(http_failure(
                        "the Gemini page",
                        status,
                        self.retry_after_ms(&page),
                        &self.account.id,
                        &body_hint(&html),
                    ));
                }
            }
        }
        Err(ProviderError::upstream(
            0,
            "the Gemini page redirected too often",
        ))
    }

    pub fn upload(
        &self,
        page: &PageValues,
        attachment: &Attachment,
    ) -> Result<UploadedFile, ProviderError> {
        let boundary = upload::boundary(self.platform.random_u64(), &attachment.data);
        let (content_type, body) = upload::multipart(
            &boundary,
            &attachment.name,
            &attachment.mime_type,
            &attachment.data,
        );
        // Google's cookies are scoped to google.com, not to this host.
        let request = HttpRequest::post(self.account.endpoints.upload())
            .header("content-type", content_type)
            .header("origin", ORIGIN)
            .header("referer", REFERER)
            .header("user-agent", USER_AGENT)
            .header("x-tenant-id", upload::TENANT)
            .header("push-id", page.push_id())
            .body(body);
        let mut response = self.platform.send(request)?;
        let status = response.status;
        let retry_after_ms = self.retry_after_ms(&response);
        let text = response.read_text(SMALL_LIMIT)?;
        match status {
            200..=299 => upload::identifier(&text)
                .map(|id| UploadedFile {
                    id,
                    name: attachment.name.clone(),
                })
                .ok_or_else(|| ProviderError::upstream(status, "the upload gave no file id")),
            413 => Err(ProviderError::BadRequest(format!(
                "attachment {} is too large for Gemini",
                attachment.name
            ))),
            429 => Err(ProviderError::rate_limited(
                "the upload endpoint answered HTTP 429",
                retry_after_ms,
            )),
            _ => Err(ProviderError::upstream(
                status,
                format!("the upload answered HTTP {status}: {}", body_hint(&text)),
            )),
        }
    }

    /// Sends StreamGenerate and returns the accepted (HTTP 200) response,
    /// renewing the access token or the cookie once if they were refused.
    pub fn generate(
        &mut self,
        page: &mut PageValues,
        model: &Model,
        prompt: &str,
        files: &[UploadedFile],
    ) -> Result<HttpResponse, ProviderError> {
        let mut token_renewed = false;
        let mut cookie_reloaded = false;
        let client_id = self.client_id();
        loop {
            let request_id = generate_request::uuid_v4(self.random_16());
            let inner = generate_request::inner_request(&Generate {
                prompt,
                files,
                language: page.language(),
                request_id: &request_id,
                temporary: self.account.temporary_chat,
                model_number: model.id.as_ref().map(|_| model.number),
                thinking: model.thinking,
            });
            let body = generate_request::form_body(
                page.access_token.as_deref(),
                &generate_request::f_req(&inner),
            );
            let counter = 10_000 + (self.platform.random_u64() % 90_000) as u32;
            let url = self
                .account
                .endpoints
                .generate(&generate_request::query(page, counter));
            let mut request = HttpRequest::post(url).header("cookie", self.jar.header());
            for (name, value) in generate_request::headers(model, &request_id, &client_id) {
                request = request.header(name, value);
            }
            let mut response = self.platform.send(request.body(body))?;
            if response.status == 200 {
                return Ok(response);
            }
            let status = response.status;
            let retry_after_ms = self.retry_after_ms(&response);
            let hint = body_hint(&response.read_text(SMALL_LIMIT).unwrap_or_default());
            match failures::generate_status(status, retry_after_ms, &self.account.id, &hint) {
                GenerateStatus::StaleToken if !token_renewed => {
                    self.platform.log(
                        Level::Debug,
                        "StreamGenerate answered 400: reading the page again",
                    );
                    *page = self.refresh_page(page)?;
                    token_renewed = true;
                }
                GenerateStatus::StaleToken => {
                    return Err(ProviderError::upstream(
                        400,
                        format!(
                            "StreamGenerate refused the request even with a fresh access token: {hint}"
                        ),
                    ));
                }
                GenerateStatus::Failed(ProviderError::Unauthorized(_))
                    if !cookie_reloaded && self.reload_jar() =>
                {
                    cookie_reloaded = true;
                }
                GenerateStatus::Failed(error) => return Err(error),
            }
        }
    }

    /// Downloads a generated image: full size first, then the preview.
    pub fn download_image(&self, preview: &str) -> Result<Media, ProviderError> {
        let full = images::full_size_url(preview);
        match self.download(&full) {
            Ok(media) => Ok(media),
            Err(error) if full != preview => {
                self.platform.log(
                    Level::Debug,
                    &format!("full-size image failed ({error:?}), trying the preview"),
                );
                self.download(preview)
            }
            Err(error) => Err(error),
        }
    }

    /// Downloads a generated image at full size the way the web app does
    /// (`c8o8Fe` → the original's URL → two hops that each answer the next
    /// URL as text → the bytes), else through the preview's size suffix.
    pub fn download_generated(
        &self,
        page: &PageValues,
        image: &GeneratedImage,
        reply: Option<&(String, String, String)>,
    ) -> Result<Media, ProviderError> {
        if let (Some(image_id), Some((cid, rid, rcid))) = (&image.id, reply) {
            match self.download_original(page, image_id, cid, rid, rcid) {
                Ok(media) => return Ok(media),
                Err(error) => self.platform.log(
                    Level::Debug,
                    &format!("the original image could not be fetched ({error:?}), using the preview's full size"),
                ),
            }
        }
        self.download_image(&image.url)
    }

    fn download_original(
        &self,
        page: &PageValues,
        image_id: &str,
        cid: &str,
        rid: &str,
        rcid: &str,
    ) -> Result<Media, ProviderError> {
        let failed = |what: &str| ProviderError::upstream(0, format!("full-size image: {what}"));
        let payload = rpc::full_size_payload(image_id, cid, rid, rcid);
        let mut response = self.batch(page, rpc::FULL_SIZE_IMAGE, &payload)?;
        let body = response.read_to_end(SMALL_LIMIT)?;
        if response.status != 200 {
            return Err(failed(&format!("c8o8Fe answered HTTP {}", response.status)));
        }
        let original = rpc::payload(&body, rpc::FULL_SIZE_IMAGE)
            .and_then(|payload| json_path::str_at(&payload, &[0]).map(str::to_string))
            .ok_or_else(|| failed("c8o8Fe gave no URL"))?;
        let mut url = format!("{original}=d-I?alr=yes");
        for _ in 0..2 {
            let (_, body) = self.fetch(&url, SMALL_LIMIT)?;
            let next = String::from_utf8_lossy(&body).trim().to_string();
            if !(next.starts_with("https://") || next.starts_with("http://")) {
                return Err(failed("a download step gave no URL"));
            }
            url = next;
        }
        self.download(&url)
    }

    fn download(&self, start: &str) -> Result<Media, ProviderError> {
        let (content_type, data) = self.fetch(start, IMAGE_LIMIT)?;
        Ok(Media {
            mime_type: images::mime_type(content_type.as_deref(), &data),
            data,
        })
    }

    /// GET with redirects; the session cookies go only to Google's hosts
    /// and the configured origins.
    fn fetch(&self, start: &str, limit: usize) -> Result<(Option<String>, Vec<u8>), ProviderError> {
        let hosts = self.account.endpoints.hosts();
        let mut url = start.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = HttpRequest::get(url.as_str())
                .header("referer", REFERER)
                .header("user-agent", USER_AGENT);
            if images::sends_cookies(&url, &hosts) {
                request = request.header("cookie", self.jar.session_header());
            }
            let mut response = self.platform.send(request)?;
            match response.status {
                200..=299 => {
                    let content_type = response.header("content-type").map(str::to_string);
                    let data = response.read_to_end(limit)?;
                    return Ok((content_type, data));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response.header("location").unwrap_or_default();
                    url = crate::endpoints::absolute(&url, location);
                }
                status => {
                    return Err(ProviderError::upstream(
                        status,
                        format!("downloading a generated image answered HTTP {status}"),
                    ));
                }
            }
        }
        Err(ProviderError::upstream(
            0,
            "a generated image redirected too often",
        ))
    }
}

impl Session {
    pub fn log(&self, level: Level, message: &str) {
        self.platform.log(level, message);
    }

    fn random_16(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.platform.random_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.platform.random_u64().to_le_bytes());
        out
    }
}
