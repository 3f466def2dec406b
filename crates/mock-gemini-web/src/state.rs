//! What the mock remembers: the session's cookies and token, rotations,
//! uploads, conversations, the hold switch and the request log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::{Glitch, MockOptions, RecordedRequest, RotateBehaviour, Turn, Upload};

pub struct Shared {
    pub options: MockOptions,
    pub base_url: String,
    state: Mutex<State>,
    /// The requests, and the switch that stops streams at their hold point
    /// while it holds.
    pub controls: mock_kit::Controls<RecordedRequest, mock_kit::HoldSwitch>,
    ids: AtomicU64,
}

mock_kit::deref_to!(Shared => controls: mock_kit::Controls<RecordedRequest, mock_kit::HoldSwitch>);

impl Shared {
    pub fn new(options: MockOptions, base_url: String) -> Self {
        let state = State::new(&options);
        Shared {
            controls: mock_kit::Controls::with_hold(mock_kit::HoldSwitch::new(options.hold)),
            options,
            base_url,
            state: Mutex::new(state),
            ids: AtomicU64::new(1),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh number for ids.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::SeqCst)
    }

    /// Hex id with a prefix (`c_`, `r_`, `rc_`).
    pub fn hex_id(&self, prefix: &str) -> String {
        let n = self.next_id();
        format!("{prefix}{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

pub struct IssuedPsidts {
    pub value: String,
    /// `None`: valid until replaced.
    pub valid_until: Option<Instant>,
}

pub struct StoredTurn {
    pub cid: String,
    pub rid: String,
    pub rcid: String,
    pub prompt: String,
    /// Escaped, as the upstream sends it.
    pub escaped_answer: String,
    pub answer: String,
    /// Read-chat polls that still see the turn as generating.
    pub polls_until_done: usize,
    pub deleted: bool,
}

impl StoredTurn {
    pub fn public(&self) -> Turn {
        Turn {
            cid: self.cid.clone(),
            rid: self.rid.clone(),
            rcid: self.rcid.clone(),
            prompt: self.prompt.clone(),
            answer: self.answer.clone(),
        }
    }
}

pub struct State {
    pub psid: String,
    pub psidts: Vec<IssuedPsidts>,
    pub require_psidts: bool,
    pub expired: bool,
    pub access_token: String,
    token_generation: u64,
    pub app_status: Option<u16>,
    pub rotate: RotateBehaviour,
    pub last_rotation: Option<Instant>,
    pub rotations: usize,
    pub uploads: Vec<Upload>,
    /// Legacy resumable uploads: session id → file name.
    pub upload_sessions: Vec<(String, String)>,
    pub turns: Vec<StoredTurn>,
    /// Failures the next StreamGenerate calls get, first one first.
    pub glitches: Vec<Glitch>,
}

impl State {
    fn new(options: &MockOptions) -> Self {
        let mut state = State {
            psid: options.psid.clone(),
            psidts: options
                .psidts
                .iter()
                .map(|value| IssuedPsidts {
                    value: value.clone(),
                    valid_until: None,
                })
                .collect(),
            require_psidts: options.psidts.is_some(),
            expired: false,
            access_token: String::new(),
            token_generation: 0,
            app_status: None,
            rotate: options.rotate,
            last_rotation: None,
            rotations: 0,
            uploads: Vec::new(),
            upload_sessions: Vec::new(),
            turns: Vec::new(),
            glitches: Vec::new(),
        };
        state.renew_access_token();
        state
    }

    pub fn renew_access_token(&mut self) {
        self.token_generation += 1;
        self.access_token = format!(
            "AFxxSYNTHETIC-at-token:{}",
            1_700_000_000_000u64 + self.token_generation
        );
    }

    /// Whether a request's cookies hold a live session.
    pub fn session_valid(&self, psid: Option<&str>, psidts: Option<&str>) -> bool {
        if self.expired || psid != Some(self.psid.as_str()) {
            return false;
        }
        if !self.require_psidts {
            return true;
        }
        let now = Instant::now();
        psidts.is_some_and(|sent| {
            self.psidts.iter().any(|issued| {
                issued.value == sent && issued.valid_until.is_none_or(|until| now < until)
            })
        })
    }

    /// Whether the long-lived cookie alone is good (rotation needs only it).
    pub fn psid_valid(&self, psid: Option<&str>) -> bool {
        !self.expired && psid == Some(self.psid.as_str())
    }

    /// Issues a new `__Secure-1PSIDTS`; the earlier ones die after `grace`.
    pub fn issue_psidts(&mut self, value: String, grace: Option<std::time::Duration>) {
        let deadline = grace.map(|grace| Instant::now() + grace);
        for issued in &mut self.psidts {
            if issued.valid_until.is_none() {
                issued.valid_until = deadline;
            }
        }
        self.psidts.push(IssuedPsidts {
            value,
            valid_until: None,
        });
        self.require_psidts = true;
    }

    pub fn revoke_psidts(&mut self) {
        let now = Instant::now();
        for issued in &mut self.psidts {
            issued.valid_until = Some(now);
        }
        self.require_psidts = true;
    }

    pub fn newest_psidts(&self) -> Option<String> {
        self.psidts.last().map(|issued| issued.value.clone())
    }

    pub fn valid_psidts(&self) -> Vec<String> {
        let now = Instant::now();
        self.psidts
            .iter()
            .filter(|issued| issued.valid_until.is_none_or(|until| now < until))
            .map(|issued| issued.value.clone())
            .collect()
    }
}
