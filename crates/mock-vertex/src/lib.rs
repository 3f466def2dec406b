//! A fake Vertex AI on loopback, for the `vertex` plugin's tests
//! (`docs/protocols/vertex.md`, "The mock").
//!
//! ```ignore
//! let mock = mock_vertex::spawn(MockOptions::default()).await;
//! // account: secrets credentials-json = mock.credentials_json()
//! //          settings base-url = mock.base_url, token-url = mock.token_url()
//! // … drive the gateway …
//! assert_eq!(mock.token_requests().len(), 1);
//! ```
//!
//! - `POST /token`: the OAuth token endpoint. It checks the form and the
//!   RS256 assertion against the public half of [`keys::TEST_PRIVATE_KEY_PEM`]
//!   and its claims ([`oauth`]), and issues `mock-<n>` tokens living
//!   [`MockOptions::token_lifetime`]; the first [`MockOptions::token_failures`]
//!   requests get `503 temporarily_unavailable`.
//! - `POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`
//!   (and `:streamGenerateContent`, `?alt=sse` or a JSON array): needs
//!   `Authorization: Bearer mock-<n>`, unexpired; an expired one (its
//!   lifetime passed, or [`MockUpstream::expire_tokens`]) answers 401.
//! - `POST /{version}/publishers/google/models/{m}:…`: express mode, with
//!   [`MockOptions::express_key`] in `x-goog-api-key` or `?key=`.
//! - Answers echo the last user turn (`echo: <text>`); SSE streams use CRLF
//!   and really stream (a pause between chunks). Scenarios ([`Scenario`]):
//!   the `x-mock-scenario` header or a `mock-<scenario>` model.
//! - Every request is recorded ([`MockUpstream::requests`]).

pub mod content;
pub mod google_errors;
pub mod grounding;
pub mod keys;
pub mod oauth;
mod routes;
pub mod scenario;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mock_kit::{Controls, lock};
use serde_json::Value;

pub use content::echo_text;
pub use scenario::Scenario;

/// Knobs a test may turn; `Default` is what the tests usually want.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// How long an issued token is accepted; also its `expires_in` (whole seconds).
    pub token_lifetime: Duration,
    /// Token requests answered `503 {"error":"temporarily_unavailable"}` before
    /// the endpoint works.
    pub token_failures: u32,
    /// The express-mode key accepted on the project-less paths.
    pub express_key: String,
    /// The `RetryInfo.retryDelay` of the `429` scenario.
    pub retry_delay: Duration,
    /// Pause between the pieces of a streamed answer.
    pub chunk_delay: Duration,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            token_lifetime: Duration::from_secs(3599),
            token_failures: 0,
            express_key: "express-test-key".into(),
            retry_delay: Duration::from_secs(7),
            chunk_delay: Duration::from_millis(20),
        }
    }
}

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /token`.
    Token,
    /// A `generateContent` / `streamGenerateContent` call.
    Generate,
    Other,
}

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub kind: RequestKind,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// For generation calls: the path's parts (`None` for express paths).
    pub api_version: Option<String>,
    pub project: Option<String>,
    pub location: Option<String>,
    pub model: Option<String>,
    /// `generateContent` or `streamGenerateContent`.
    pub action: Option<String>,
    pub scenario: Option<Scenario>,
    /// For token requests: the claims of an accepted assertion.
    pub claims: Option<oauth::AssertionClaims>,
    /// The token issued, for a token request.
    pub issued_token: Option<String>,
    /// The status answered.
    pub status: u16,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        mock_kit::find_header(&self.headers, name)
    }

    /// The bearer token sent, without `Bearer `.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A query parameter (`alt`, `key`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| mock_kit::percent_decode(value))
        })
    }
}

/// An issued access token.
struct Issued {
    token: String,
    expires: Instant,
}

/// State shared by the server's handlers and the test's handle.
pub struct Shared {
    options: MockOptions,
    /// `http://127.0.0.1:PORT`, for the key file's `token_uri`.
    base_url: String,
    controls: Controls<RecordedRequest>,
    tokens: Mutex<Vec<Issued>>,
    token_calls: AtomicU64,
}

impl Shared {
    /// The number of this token request, from 1.
    fn next_token_call(&self) -> u64 {
        self.token_calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn issue_token(&self) -> String {
        let mut tokens = lock(&self.tokens);
        let token = format!("mock-{}", tokens.len() + 1);
        tokens.push(Issued {
            token: token.clone(),
            expires: Instant::now() + self.options.token_lifetime,
        });
        token
    }

    /// Whether `token` was issued here and has not expired.
    fn token_valid(&self, token: &str) -> bool {
        let now = Instant::now();
        lock(&self.tokens)
            .iter()
            .any(|issued| issued.token == token && issued.expires > now)
    }
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<Shared>;

mock_kit::deref_to!(Shared => controls: Controls<RecordedRequest>);

/// Starts a mock on `127.0.0.1:0`, served by a task of the current runtime.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    let mut built = None;
    let server = mock_kit::serve_with(0, |base_url| {
        let shared = Arc::new(Shared {
            options,
            base_url: base_url.to_string(),
            controls: Controls::default(),
            tokens: Mutex::new(Vec::new()),
            token_calls: AtomicU64::new(0),
        });
        built = Some(shared.clone());
        routes::router(shared)
    })
    .await;
    mock_kit::Running::new(built.expect("the router was built"), server)
}

impl Shared {
    /// `{base_url}/token`, the token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// A key file for the known service account whose `token_uri` is this mock.
    pub fn credentials_json(&self) -> String {
        keys::credentials_json(&self.token_url())
    }

    /// The key file as Google issues it: its `token_uri` is the public
    /// `oauth2.googleapis.com`, so only `base-url` can bring the token
    /// request here.
    pub fn public_credentials_json(&self) -> String {
        keys::credentials_json(keys::PUBLIC_TOKEN_URI)
    }

    /// The token requests, in order.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.of_kind(RequestKind::Token)
    }

    /// The generation calls, in order.
    pub fn generation_requests(&self) -> Vec<RecordedRequest> {
        self.of_kind(RequestKind::Generate)
    }

    fn of_kind(&self, kind: RequestKind) -> Vec<RecordedRequest> {
        self.requests_where(|request| request.kind == kind)
    }

    /// The bearer tokens of the generation calls, in order (`""` when none).
    pub fn bearer_tokens(&self) -> Vec<String> {
        self.generation_requests()
            .iter()
            .map(|request| request.bearer().unwrap_or_default().to_string())
            .collect()
    }

    /// Makes every token issued so far expired: the next call with one gets 401.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for issued in lock(&self.tokens).iter_mut() {
            issued.expires = now;
        }
    }
}

/// Wall-clock Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
