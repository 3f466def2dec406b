//! A loopback fake of the gemini.google.com web app, for testing the
//! `gemini-web` plugin. One server answers for every upstream origin (point
//! the plugin's `base-url`, `rotate-url` and `upload-url` at
//! [`MockUpstream::base_url`]).
//!
//! Routes (`docs/protocols/gemini-web.md`, "The mock"):
//!
//! | route | behaviour |
//! |---|---|
//! | `GET /` | sets an `NID` cookie |
//! | `GET /app` | with valid cookies, a page embedding the five page values; signed out: a guest page with every value but the access token (or a 302 to `ServiceLogin`) |
//! | `POST /_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate` | validates cookies, `at`, the double-encoded `f.req`, the request UUID, the mid-2026 shape (17-element model header with model number and thinking level, `x-goog-ext-73010990-jspb: [0,0,0]`, 81 slots; anything else gets in-band 1052), the model, the conversation and the files; streams length-prefixed cumulative snapshots. A guest (`at=`) gets default-model answers and 1052 for any model |
//! | `POST /_/BardChatUi/data/batchexecute` | `otAQ7b` (status `[14]`, 1016 for a guest; models with numbers at `[15]`), `ESY5D`, `MaZiqc`, `hNvQHb`, `GzXR5e`, `qWymEb`, `c8o8Fe` |
//! | `POST /upload` | multipart `file` (or the legacy resumable handshake); needs `X-Tenant-Id` and `Push-ID` |
//! | `POST /RotateCookies` | issues a new `__Secure-1PSIDTS` (the old one dies after a grace period) |
//! | `GET /mock-img/<id>=s…` | PNG bytes; needs the cookies |
//! | `GET /mock-orig/<id>=d-I?alr=yes` → `/mock-step/<id>` → `/mock-final/<id>` | the full-size download chain |
//!
//! StreamGenerate scenarios are picked by tokens in the prompt:
//!
//! | token | answer |
//! |---|---|
//! | (none) | [`MockOptions::answer`] in [`MockOptions::snapshots`] growing snapshots (with thoughts for thinking models) |
//! | `[mock:echo]` | the prompt itself |
//! | `[mock:<code>]`, e.g. `[mock:1037]` | an in-band error code (HTTP 200) |
//! | `[mock:after:<code>]` | the complete answer, then an in-band error code |
//! | `[mock:http:<status>]` | that HTTP status (429 carries `Retry-After: 7`) |
//! | `[mock:rejected]` | a bare `[7]` status block |
//! | `[mock:queue]` | two queueing frames first |
//! | `[mock:flicker]` | snapshots with transient `\*` and auto-closed fences |
//! | `[mock:cut]` | two partial snapshots, then the connection is aborted |
//! | `[mock:cut-persisted]` | a partial snapshot that carries the context token, then abort; read-chat finishes the turn |
//! | `[mock:image]` or "generate an image" | an answer with a generated image |
//! | `[mock:image-edit]` | the same, the image in the sparse field `"8"` |
//!
//! Failure switches: [`MockUpstream::glitch_next`] (1013 or a silent abort
//! on the next calls), [`MockUpstream::expire`] (cookies signed out),
//! [`MockUpstream::revoke_psidts`], [`MockUpstream::invalidate_access_token`],
//! [`MockUpstream::set_app_status`], [`MockUpstream::set_rotate`];
//! [`MockOptions::hold`] + [`MockUpstream::release`] pause a stream after its
//! first snapshot ([`MockUpstream::held`] counts the streams waiting).

pub mod frames;
mod routes;
mod scenario;
mod state;
mod streaming;
mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use frames::{frame, html_escape};
pub use wire::{cookies as parse_cookie_header, form_value};

use state::Shared;

pub const DEFAULT_PSID: &str = "mock-psid-0001";
pub const DEFAULT_PSIDTS: &str = "mock-psidts-0000";
/// Multi-byte on purpose: CJK, astral characters (two UTF-16 units), emoji,
/// and characters the upstream HTML-escapes.
pub const DEFAULT_ANSWER: &str =
    "Hello, world! 👋 Fish & chips <3 — 你好，世界 𠜎𠜱 \"quoted\" isn't it?";
pub const DEFAULT_THOUGHTS: &str = "**Planning** the greeting: short & friendly.";
pub const PAGE_PUSH_ID: &str = "feeds/mcudyrk2a4khkz";
pub const PAGE_BUILD_LABEL: &str = "boq_assistant-bard-web-server_20260401.07_p0";
pub const PAGE_SESSION_ID: &str = "-4611686018427387904";

/// Model ids the mock accepts in `x-goog-ext-525001261-jspb` by default
/// (as in browser captures of mid-2026; the older "thinking" ids are gone:
/// thinking is now a level in the header).
pub const MODEL_FAST: &str = "fbb127bbb056c959";
pub const MODEL_PRO: &str = "9d8ca3786ebdfbea";
pub const MODEL_LITE: &str = "cf41b0e0dd7d53e5";
pub const MODEL_PRO_PLUS: &str = "e6fa609c3fa255c0";
pub const MODEL_FLASH_PLUS: &str = "56fdd199312815e2";
pub const MODEL_LITE_PLUS: &str = "8c46e95b1a07cecc";
/// The model number the web app sends with each model (header element 14,
/// inner slot 79): 1 Flash, 3 Pro, 6 Flash-Lite.
pub const NUMBER_FLASH: i64 = 1;
pub const NUMBER_PRO: i64 = 3;
pub const NUMBER_LITE: i64 = 6;
/// `otAQ7b` `[14]`: signed in / signed out (guest).
pub const STATUS_SIGNED_IN: i64 = 1000;
pub const STATUS_UNAUTHENTICATED: i64 = 1016;
/// The answer a guest session (signed-out cookies) gets from the default model.
pub const GUEST_ANSWER: &str = "Sign in to get answers based on your chats and to save your work.";

/// A 1×1 PNG, the bytes of every generated image.
pub const MOCK_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// How a streamed body is cut into network writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// One write per frame.
    Frames,
    /// Each frame in three writes: inside its length digits (or right after
    /// them), inside its first multi-byte character, and the rest.
    InsideChars,
    /// Writes of this many bytes, wherever they fall.
    EveryBytes(usize),
}

/// How StreamGenerate reports signed-out cookies sent with an access token
/// (one read while the session was alive). Without a token, a signed-out
/// session is a guest: it gets default-model answers and 1052 for any model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredStyle {
    Http401,
    /// HTTP 200 with a bare `[7]` status block.
    InBandRejected,
}

/// A passing failure of the next StreamGenerate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glitch {
    /// An in-band error code (e.g. 1013, "try again").
    Code(i64),
    /// HTTP 200 whose stream ends without any answer (a silent abort).
    Silent,
}

/// What `POST /RotateCookies` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateBehaviour {
    /// Issues a new `__Secure-1PSIDTS` (if the session is valid).
    Rotate,
    /// HTTP 401, as for dead cookies.
    Unauthorized,
    /// HTTP 200 setting only `__Secure-1PSIDCC` (observed when throttled).
    NoNewCookie,
}

#[derive(Debug, Clone)]
pub struct MockOptions {
    pub psid: String,
    /// `None`: an account without `__Secure-1PSIDTS` (not required).
    pub psidts: Option<String>,
    /// The answer text (plain; the mock escapes it like the upstream).
    pub answer: String,
    /// Thoughts of thinking models.
    pub thoughts: String,
    /// Snapshots an answer grows over.
    pub snapshots: usize,
    /// Pause between frames.
    pub frame_delay: Duration,
    /// Pause between the writes of one frame.
    pub piece_delay: Duration,
    pub split: Split,
    /// Pause every stream after its first snapshot until [`MockUpstream::release`].
    pub hold: bool,
    pub rotate: RotateBehaviour,
    /// How long a replaced `__Secure-1PSIDTS` stays valid; `None`: forever.
    pub old_psidts_grace: Option<Duration>,
    /// Rotation also replaces `__Secure-1PSID` (the old one dies at once),
    /// as Google does at times.
    pub rotate_psid: bool,
    /// Answer 429 to a rotation sooner than this after the last one.
    pub rotate_min_interval: Option<Duration>,
    pub expired_style: ExpiredStyle,
    /// Signed-out `/app` redirects to `ServiceLogin` instead of serving the
    /// guest page (which has every page value but the access token).
    pub expired_redirect: bool,
    /// `/app` also sets a fresh `__Secure-1PSIDTS` (the old one stays valid).
    pub app_sets_psidts: bool,
    /// Inner slot 59 must equal the UUID of `x-goog-ext-525005358-jspb`.
    pub strict_request_id: bool,
    pub known_models: Vec<String>,
    /// What `otAQ7b` lists at `[15]`: `(id, display name, model number)`.
    pub listed_models: Vec<(String, String, i64)>,
    /// `otAQ7b` `[17]` capability flags (115: Plus, 19: Pro).
    pub capability_flags: Vec<i64>,
}

/// A model the mock accepts, with the number the request must carry.
pub fn default_models() -> Vec<(String, String, i64)> {
    [
        (MODEL_FAST, "Fast", NUMBER_FLASH),
        (MODEL_PRO, "Pro", NUMBER_PRO),
        (MODEL_LITE, "Flash-Lite", NUMBER_LITE),
    ]
    .iter()
    .map(|(id, name, number)| (id.to_string(), name.to_string(), *number))
    .collect()
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            psid: DEFAULT_PSID.into(),
            psidts: Some(DEFAULT_PSIDTS.into()),
            answer: DEFAULT_ANSWER.into(),
            thoughts: DEFAULT_THOUGHTS.into(),
            snapshots: 4,
            frame_delay: Duration::from_millis(5),
            piece_delay: Duration::from_millis(1),
            split: Split::InsideChars,
            hold: false,
            rotate: RotateBehaviour::Rotate,
            old_psidts_grace: Some(Duration::ZERO),
            rotate_min_interval: None,
            rotate_psid: false,
            expired_style: ExpiredStyle::Http401,
            expired_redirect: false,
            app_sets_psidts: false,
            strict_request_id: true,
            known_models: [
                MODEL_FAST,
                MODEL_PRO,
                MODEL_LITE,
                MODEL_PRO_PLUS,
                MODEL_FLASH_PLUS,
                MODEL_LITE_PLUS,
            ]
            .map(String::from)
            .to_vec(),
            listed_models: default_models(),
            capability_flags: Vec::new(),
        }
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub http: mock_kit::HttpRecord,
}

mock_kit::deref_to!(RecordedRequest => http: mock_kit::HttpRecord);

impl RecordedRequest {
    /// A cookie the request carried.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(key, _)| key == "cookie")
            .flat_map(|(_, value)| wire::cookies(value))
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref().and_then(|q| form_value(q, name))
    }

    /// A field of a form-encoded body.
    pub fn form(&self, name: &str) -> Option<String> {
        form_value(&String::from_utf8_lossy(&self.body), name)
    }

    /// The decoded inner request list of a StreamGenerate call.
    pub fn inner_request(&self) -> Option<serde_json::Value> {
        let outer: serde_json::Value = serde_json::from_str(&self.form("f.req")?).ok()?;
        serde_json::from_str(outer.get(1)?.as_str()?).ok()
    }

    /// The prompt of a StreamGenerate call.
    pub fn prompt(&self) -> Option<String> {
        Some(self.inner_request()?.get(0)?.get(0)?.as_str()?.to_string())
    }
}

/// A file received by the upload endpoint.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub name: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A stored conversation turn.
#[derive(Debug, Clone)]
pub struct Turn {
    pub cid: String,
    pub rid: String,
    pub rcid: String,
    pub prompt: String,
    /// The answer as the client should show it (unescaped).
    pub answer: String,
}

/// A running mock; the server stops when this is dropped.
pub type MockUpstream = mock_kit::Running<Shared>;

/// Binds 127.0.0.1 on a free port and serves in a background task.
pub async fn spawn(options: MockOptions) -> MockUpstream {
    let mut built = None;
    let server = mock_kit::serve_with(0, |base_url| {
        let shared = Arc::new(Shared::new(options, base_url.to_string()));
        built = Some(shared.clone());
        routes::router(shared)
    })
    .await;
    mock_kit::Running::new(built.expect("the router was built"), server)
}

impl Shared {
    /// The requests whose path ends with `suffix` (e.g. `"/StreamGenerate"`).
    pub fn requests_to(&self, suffix: &str) -> Vec<RecordedRequest> {
        self.requests_where(|request| request.path.ends_with(suffix))
    }

    /// Holds the next streams after their first snapshot.
    pub fn set_hold(&self, hold: bool) {
        self.controls.hold.set_hold(hold);
    }

    /// The newest `__Secure-1PSIDTS` the mock issued (or started with).
    pub fn current_psidts(&self) -> Option<String> {
        self.state().newest_psidts()
    }

    /// Every `__Secure-1PSIDTS` the mock accepts right now.
    pub fn valid_psidts(&self) -> Vec<String> {
        self.state().valid_psidts()
    }

    /// The `__Secure-1PSID` the mock accepts now.
    pub fn current_psid(&self) -> String {
        self.state().psid.clone()
    }

    /// Successful rotations so far.
    pub fn rotations(&self) -> usize {
        self.state().rotations
    }

    /// The access token (`at`) the page currently gives out.
    pub fn access_token(&self) -> String {
        self.state().access_token.clone()
    }

    /// Issues a new access token; requests with the old one get HTTP 400.
    pub fn invalidate_access_token(&self) {
        self.state().renew_access_token();
    }

    /// Signs the session out: the page has no values, rotation answers 401,
    /// StreamGenerate refuses (see [`MockOptions::expired_style`]).
    pub fn expire(&self) {
        self.state().expired = true;
    }

    /// Makes every issued `__Secure-1PSIDTS` invalid while `__Secure-1PSID`
    /// stays good: a rotation revives the session.
    pub fn revoke_psidts(&self) {
        self.state().revoke_psidts();
    }

    /// Answers `/app` with this status (e.g. 429 for an IP block), or normally.
    pub fn set_app_status(&self, status: Option<u16>) {
        self.state().app_status = status;
    }

    /// The next `count` StreamGenerate calls (with a valid session) fail
    /// this way; later ones are answered.
    pub fn glitch_next(&self, glitch: Glitch, count: usize) {
        self.state().glitches = vec![glitch; count];
    }

    pub fn set_rotate(&self, behaviour: RotateBehaviour) {
        self.state().rotate = behaviour;
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.state().uploads.clone()
    }

    /// Stored turns, oldest first.
    pub fn turns(&self) -> Vec<Turn> {
        self.state().turns.iter().map(|t| t.public()).collect()
    }

    /// The answer a default-scenario request gets, as the client should show it.
    pub fn answer(&self) -> &str {
        &self.options.answer
    }
}
