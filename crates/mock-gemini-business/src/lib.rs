//! A fake Gemini Business upstream for tests: `getoxsrf` on the
//! `business.gemini.google` side and the Discovery Engine widget API on the
//! `biz-discoveryengine.googleapis.com` side, both on one local port (point
//! the plugin's `auth-url` and `base-url` settings at [`MockUpstream::base_url`]).
//!
//! It follows `docs/protocols/gemini-business.md`, "The mock": it issues
//! signing keys (all with [`MockOptions::signing_key`], under a new `kid`
//! each time) and checks every JWT's signature and claims, keeps sessions,
//! uploads and generated files per account, streams answers as a real
//! chunked JSON array, and fails on demand (see [`Scenario`] and the flags
//! of [`MockAccount`]). Every request is recorded with the account and JWT
//! it was made with.
//!
//! ```ignore
//! let mock = mock_gemini_business::spawn(MockOptions::default()).await;
//! // settings: base-url = auth-url = mock.base_url; secrets from mock.account(0)
//! ```

mod routes;
mod scenario;
mod stream;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use scenario::{Scenario, scenarios_in};

/// The key every `getoxsrf` hands out (the test vector's key in
/// `docs/protocols/gemini-business.md`, "Signing key and JWT").
pub const DEFAULT_SIGNING_KEY: &[u8] = b"synthetic-test-key-0123456789abc";

/// The answer of [`Scenario::Tricky`], in order. Every other element is
/// written with `\u` escapes for its non-ASCII characters.
pub const TRICKY_PARTS: &[&str] = &[
    "quote \" and backslash \\ ",
    "é, 中文, 😀 ",
    "tab\there, newline\n",
    "\\u00e9 stays literal, \"😀\"",
];

/// The PNG every generated image is (1×1, red).
pub const GENERATED_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// An account the mock knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAccount {
    pub secure_c_ses: String,
    pub host_c_oses: Option<String>,
    pub csesidx: String,
    pub config_id: String,
    /// `getoxsrf` answers 401 `EXPIRED_SIGN_IN`.
    pub cookies_expired: bool,
    /// Every widget call answers 403 `PERMISSION_DENIED`.
    pub restricted: bool,
    /// Every ask answers 429 `RESOURCE_EXHAUSTED`.
    pub rate_limited: bool,
}

impl MockAccount {
    /// Account `n` with distinct, recognisable values
    /// (`csesidx` = 1000000000 + n).
    pub fn numbered(n: u32) -> Self {
        MockAccount {
            secure_c_ses: format!("mock-c-ses-{n}"),
            host_c_oses: Some(format!("mock-c-oses-{n}")),
            csesidx: (1_000_000_000u64 + u64::from(n)).to_string(),
            config_id: format!("0f3c2a9e-0000-4a6b-9c2d-{n:012}"),
            cookies_expired: false,
            restricted: false,
            rate_limited: false,
        }
    }

    /// This account as one element of the seed's `ACCOUNTS_CONFIG`.
    pub fn to_accounts_config_entry(&self) -> serde_json::Value {
        serde_json::json!({
            "id": format!("account_{}", self.csesidx),
            "secure_c_ses": self.secure_c_ses,
            "host_c_oses": self.host_c_oses,
            "csesidx": self.csesidx,
            "config_id": self.config_id,
        })
    }
}

#[derive(Debug, Clone)]
pub struct MockOptions {
    pub accounts: Vec<MockAccount>,
    pub signing_key: Vec<u8>,
    /// Thought fragments before the answer.
    pub thoughts: Vec<String>,
    /// Text fragments of a normal answer.
    pub answer: Vec<String>,
    /// Re-cut the streamed body into pieces of this many bytes (1 = byte by
    /// byte); `None` sends one piece per element.
    pub chunk_size: Option<usize>,
    /// Pause between pieces of a streamed body.
    pub delay: Duration,
    /// Stop every stream after its first piece until [`MockUpstream::release`].
    pub hold_after_first_piece: bool,
    /// A `Retry-After` header (seconds) on 429 answers; the real upstream
    /// sends none that is known.
    pub retry_after_seconds: Option<u64>,
    /// MIME types `widgetAddContextFile` refuses with 400.
    pub unsupported_mime_types: Vec<String>,
    /// Clock difference tolerated on `nbf`.
    pub jwt_skew_seconds: i64,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            accounts: vec![MockAccount::numbered(1)],
            signing_key: DEFAULT_SIGNING_KEY.to_vec(),
            thoughts: vec!["Working out a greeting…".into()],
            answer: vec!["Hello".into(), ", world!".into()],
            chunk_size: None,
            delay: Duration::from_millis(2),
            hold_after_first_piece: false,
            retry_after_seconds: None,
            unsupported_mime_types: vec!["application/x-msdownload".into()],
            jwt_skew_seconds: 5,
        }
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub http: mock_kit::HttpRecord,
    /// `csesidx` of the account the request was identified as (by cookie
    /// for `getoxsrf`, by JWT for the widget API), if any.
    pub account: Option<String>,
    /// The bearer token it carried.
    pub jwt: Option<String>,
    /// The `kid` of that token.
    pub key_id: Option<String>,
    /// The status the mock answered.
    pub status: u16,
}

mock_kit::deref_to!(RecordedRequest => http: mock_kit::HttpRecord);

impl RecordedRequest {
    /// The last path segment after `/`, e.g. `widgetStreamAssist`.
    pub fn method_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// A session the mock keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    pub account: usize,
    /// Query texts asked in this session, in order.
    pub queries: Vec<String>,
    /// Uploaded file ids.
    pub uploads: Vec<String>,
    pub generated: Vec<GeneratedFile>,
    pub metadata_fails: bool,
    pub download_unauthorized_pending: bool,
    pub download_redirect: bool,
    /// `downloadFile` answers 503 this many more times.
    pub download_unavailable: u32,
    /// [`Scenario::UnauthorizedOnce`] already refused an ask here.
    pub refused_once: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct GeneratedFile {
    pub file_id: String,
    pub mime_type: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub keys: Vec<token::IssuedKey>,
    pub sessions: HashMap<String, Session>,
    pub next_scenarios: Vec<Scenario>,
    pub counter: u64,
}

impl State {
    pub fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }
}

/// The mock's state, shared by the handlers and the test's handle.
pub struct Shared {
    pub options: MockOptions,
    pub(crate) state: Mutex<State>,
    /// The requests, and the gate that holds streams after their first
    /// piece (see [`MockOptions::hold_after_first_piece`]).
    pub controls: mock_kit::Controls<RecordedRequest>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock still wants the records.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<Shared>;

mock_kit::deref_to!(Shared => controls: mock_kit::Controls<RecordedRequest>);

/// Starts the mock on `127.0.0.1:0`, serving in a tokio task.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    let shared = Arc::new(Shared {
        options,
        state: Mutex::new(State::default()),
        controls: mock_kit::Controls::default(),
    });
    let server = mock_kit::serve(routes::router(shared.clone())).await;
    mock_kit::Running::new(shared, server)
}

impl Shared {
    /// The configured account `index`.
    pub fn account(&self, index: usize) -> &MockAccount {
        &self.options.accounts[index]
    }

    /// The seed's `ACCOUNTS_CONFIG` value for all configured accounts.
    pub fn accounts_config(&self) -> String {
        let entries: Vec<serde_json::Value> = self
            .options
            .accounts
            .iter()
            .map(MockAccount::to_accounts_config_entry)
            .collect();
        serde_json::Value::from(entries).to_string()
    }

    /// The requests to one method or route, e.g. `"widgetStreamAssist"`,
    /// `"getoxsrf"` or `":downloadFile"` (matched at the end of the path).
    pub fn requests_to(&self, method: &str) -> Vec<RecordedRequest> {
        self.requests_where(|r| r.path.ends_with(method))
    }

    /// How many signing keys `getoxsrf` handed out.
    pub fn signing_keys_issued(&self) -> usize {
        self.lock().keys.len()
    }

    /// Makes the next ask run into `scenario` (once).
    pub fn set_next_scenario(&self, scenario: Scenario) {
        self.lock().next_scenarios.push(scenario);
    }

    /// Revokes every key issued so far: tokens signed with them get 401.
    pub fn revoke_signing_keys(&self) {
        for key in &mut self.lock().keys {
            key.revoked = true;
        }
    }

    /// The query texts asked in a session (short or full name).
    pub fn session_queries(&self, session: &str) -> Vec<String> {
        let id = routes::session_id(session).unwrap_or_default();
        self.lock()
            .sessions
            .get(&id)
            .map(|s| s.queries.clone())
            .unwrap_or_default()
    }
}
