//! A fake Qwen web chat on loopback, for the `qwen` plugin's tests.
//!
//! One server hosts both site families (`docs/protocols/qwen.md`, "Two site
//! families" and "The mock"):
//! - tongyi (`/dialog/*`, `/assistant/*`, `/oss`): cookie + `x-xsrf-token`
//!   accounts, cumulative-snapshot SSE;
//! - chat.qwen.ai (`/api/*`, `PUT /oss/*`): JWT accounts, phased SSE.
//!
//! A request picks a scenario with the header `x-mock-scenario: <name>`, or
//! `#scenario=<name>` anywhere in its body (e.g. in the user's message, so the
//! client needs no special code), or the mock's current default
//! ([`MockUpstream::set_scenario`]). See [`cn`] and [`intl`] for the names.
//!
//! ```ignore
//! let mock = mock_qwen::spawn(MockOptions::default()).await;
//! // point the plugin's `base-url` at mock.base_url; use
//! // mock_qwen::DEFAULT_CN_COOKIE / DEFAULT_CN_XSRF, or mock.token("intl-1")
//! ```

pub mod cn;
pub mod intl;
pub mod jwt;
mod script;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use mock_kit::{Controls, HoldSwitch};

pub use jwt::{sha256_hex, test_jwt};

/// The cookie of the default tongyi account `cn-1`.
pub const DEFAULT_CN_COOKIE: &str =
    "tongyi_sso_ticket=mock-ticket-1; t=0123456789abcdef0123456789abcdef";
/// The `x-xsrf-token` of the default tongyi account `cn-1`.
pub const DEFAULT_CN_XSRF: &str = "mock-xsrf-1";

/// A tongyi account the mock accepts.
#[derive(Debug, Clone)]
pub struct CnAccount {
    pub id: String,
    /// The `Cookie` header must contain this.
    pub cookie: String,
    pub xsrf_token: String,
    /// The cookie is known but logged out: every call answers `NOT_LOGIN`.
    pub expired: bool,
}

impl CnAccount {
    pub fn new(id: &str, cookie: &str, xsrf_token: &str) -> Self {
        CnAccount {
            id: id.into(),
            cookie: cookie.into(),
            xsrf_token: xsrf_token.into(),
            expired: false,
        }
    }

    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }
}

/// A chat.qwen.ai account that can sign in with e-mail and password, or
/// trade its long-lived session token for access tokens at the auth origin
/// (`GET /api/v2/auths/refresh`). Any unexpired access JWT is accepted on
/// the other routes.
#[derive(Debug, Clone)]
pub struct IntlAccount {
    pub id: String,
    pub email: String,
    pub password: String,
    /// The `token` cookie a signed-in browser holds (about 30 days).
    pub session_token: String,
}

/// The session token of the default chat.qwen.ai account `intl-1`.
pub const DEFAULT_SESSION_TOKEN: &str = "mock-session-token-1";
/// `bx-ua` / `bx-umidtoken` values a browser would have made; the mock only
/// checks that both are present, as it cannot tell real ones.
pub const DEFAULT_BX_UA: &str = "231!mock-bx-ua";
pub const DEFAULT_BX_UMIDTOKEN: &str = "T2gAmock-umid";

/// The chat.qwen.ai catalogue the mock serves by default: the 2026 ids seen
/// live (2026-09-29 observation) plus `qwen3-max`, which 2025 proxies list.
pub const DEFAULT_INTL_MODELS: &[&str] = &[
    "qwen3.8-max",
    "qwen3.7-max",
    "qwen3.7-plus",
    "qwen3.6-plus",
    "qwen3.8-omni-flash",
    "qwen3-max",
];

#[derive(Debug, Clone)]
pub struct MockOptions {
    pub cn_accounts: Vec<CnAccount>,
    pub intl_accounts: Vec<IntlAccount>,
    /// The scenario of requests that name none.
    pub scenario: Option<String>,
    /// Hold every stream after its first piece of answer until
    /// [`MockUpstream::release`].
    pub hold: bool,
    /// The answer the model gives (the `utf8_split` scenario uses its own).
    pub answer: String,
    /// Pause between streamed events.
    pub gap: Duration,
    /// Pause between events in the `slow` scenario.
    pub slow_gap: Duration,
    /// Frame SSE with `\r\n` instead of `\n`.
    pub crlf: bool,
    /// Lifetime of the JWTs sign-in hands out.
    pub token_ttl: Duration,
    /// Lifetime of the access JWTs `auths/refresh` hands out (900 s live).
    pub access_token_ttl: Duration,
    /// Write calls of chat.qwen.ai (`chats/new`, `chat/completions`) answer
    /// a WAF challenge unless they carry `bx-ua` + `bx-umidtoken` or the
    /// browser's cookie jar (`ssxmod_itna`), as the live site does since
    /// 2026-09.
    pub require_browser_material: bool,
    /// The chat.qwen.ai catalogue; completions for other models fail.
    pub intl_models: Vec<String>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            cn_accounts: vec![CnAccount::new("cn-1", DEFAULT_CN_COOKIE, DEFAULT_CN_XSRF)],
            intl_accounts: vec![IntlAccount {
                id: "intl-1".into(),
                email: "user@example.com".into(),
                password: "correct horse".into(),
                session_token: DEFAULT_SESSION_TOKEN.into(),
            }],
            scenario: None,
            hold: false,
            answer: "Hello, I am Qwen. How can I help you today?".into(),
            gap: Duration::from_millis(5),
            slow_gap: Duration::from_secs(10),
            crlf: false,
            token_ttl: Duration::from_secs(3600),
            access_token_ttl: Duration::from_secs(900),
            require_browser_material: true,
            intl_models: DEFAULT_INTL_MODELS.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub http: mock_kit::HttpRecord,
    /// Whose credentials it carried: a tongyi account's id (by cookie) or the
    /// `id` claim of a chat.qwen.ai JWT.
    pub account: Option<String>,
}

mock_kit::deref_to!(RecordedRequest => http: mock_kit::HttpRecord);

/// Shared by the handlers.
pub struct State {
    pub options: MockOptions,
    pub base_url: String,
    scenario: Mutex<Option<String>>,
    /// The requests, and the switch that stops streams at their hold point
    /// while it holds.
    controls: Controls<RecordedRequest, HoldSwitch>,
    counter: AtomicU64,
    chats: Mutex<HashSet<String>>,
    task_polls: Mutex<HashMap<String, u32>>,
    /// Session tokens `auths/refresh` issued (they rotate), → account id.
    sessions: Mutex<HashMap<String, String>>,
}

impl State {
    /// The next number of a per-mock sequence (message ids, chat ids…).
    pub fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The scenario a request asks for (mock-kit's convention), else the
    /// mock's default.
    pub fn scenario(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        mock_kit::requested_scenario(headers, body)
            .or_else(|| self.scenario.lock().unwrap().clone())
    }

    pub async fn wait_if_held(&self) {
        self.controls.hold.wait().await;
    }

    pub fn cn_account(&self, headers: &HeaderMap) -> Option<&CnAccount> {
        let cookie = header_text(headers, "cookie")?;
        self.options
            .cn_accounts
            .iter()
            .find(|account| cookie.contains(&account.cookie))
    }

    /// The account a session token belongs to: a configured one or one the
    /// mock issued on a refresh.
    pub fn session_account(&self, token: &str) -> Option<String> {
        if let Some(account) = self
            .options
            .intl_accounts
            .iter()
            .find(|a| a.session_token == token)
        {
            return Some(account.id.clone());
        }
        self.sessions.lock().unwrap().get(token).cloned()
    }

    pub fn issue_session(&self, account_id: &str) -> String {
        let token = format!("mock-session-{}", self.next_number());
        self.sessions
            .lock()
            .unwrap()
            .insert(token.clone(), account_id.to_string());
        token
    }

    pub fn remember_chat(&self, id: &str) {
        self.chats.lock().unwrap().insert(id.to_string());
    }

    pub fn knows_chat(&self, id: &str) -> bool {
        self.chats.lock().unwrap().contains(id)
    }

    /// How many times a task was polled before, counting this one.
    pub fn poll_task(&self, id: &str) -> u32 {
        let mut polls = self.task_polls.lock().unwrap();
        let count = polls.entry(id.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    fn identify(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(account) = self.cn_account(headers) {
            return Some(account.id.clone());
        }
        let token = bearer(headers)?;
        let claims = jwt::claims(&token)?;
        claims.get("id")?.as_str().map(str::to_string)
    }
}

pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = header_text(headers, "authorization")?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<State>;

mock_kit::deref_to!(State => controls: Controls<RecordedRequest, HoldSwitch>);

/// Binds 127.0.0.1:0 and serves in a tokio task.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    let mut shared = None;
    let server = mock_kit::serve_with(0, |base_url| {
        let state = Arc::new(State {
            controls: Controls::with_hold(HoldSwitch::new(options.hold)),
            scenario: Mutex::new(options.scenario.clone()),
            options,
            base_url: base_url.to_string(),
            counter: AtomicU64::new(0),
            chats: Mutex::new(HashSet::new()),
            task_polls: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        shared = Some(state.clone());
        Router::new()
            .merge(cn::routes())
            .merge(intl::routes())
            .layer(middleware::from_fn_with_state(state.clone(), record))
            .with_state(state)
    })
    .await;
    mock_kit::Running::new(shared.expect("the router was built"), server)
}

impl State {
    /// The requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests_where(|r| r.path == path)
    }

    /// The account of every chat call (tongyi `/dialog/conversation` and
    /// chat.qwen.ai `/api/v2/chat/completions`), in order: what a test reads
    /// to see that several accounts share the load.
    pub fn chat_accounts(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == cn::CONVERSATION_PATH || r.path == intl::COMPLETIONS_PATH)
            .map(|r| r.account)
            .collect()
    }

    /// Holds streams after their first piece again (until the next release).
    pub fn hold(&self) {
        self.controls.hold.set_hold(true);
    }

    /// The scenario of requests that name none.
    pub fn set_scenario(&self, scenario: Option<&str>) {
        *self.scenario.lock().unwrap() = scenario.map(str::to_string);
    }

    /// A chat.qwen.ai token for `account_id`, valid for an hour.
    pub fn token(&self, account_id: &str) -> String {
        test_jwt(account_id, jwt::now_unix() + 3600)
    }

    /// A chat.qwen.ai token for `account_id` that expired an hour ago.
    pub fn expired_token(&self, account_id: &str) -> String {
        test_jwt(account_id, jwt::now_unix().saturating_sub(3600))
    }
}

/// Records each request (body included) before it is handled.
async fn record(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let account = state.identify(request.headers());
    let (http, request) = mock_kit::read_whole(request, 16 << 20).await;
    state
        .controls
        .records
        .record(RecordedRequest { http, account });
    next.run(request).await
}
