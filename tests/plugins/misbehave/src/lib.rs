//! A test-only provider. The model name picks what it does:
//!
//! - `echo`: streams the last user message back word by word, then usage.
//! - `loop`: spins forever inside `chat`.
//! - `hog`: allocates without bound.
//! - `trap`: panics (an `unreachable` trap under `panic=abort`).
//! - `egress`: fetches the account setting `target-url`, else the URL in the
//!   user message (granted or not).
//! - `snoop`: answers with what it can see of the sandbox: environment,
//!   arguments, files, and the secrets named in the last user message.
//! - `slow`: streams the words of the last user message, 100 ms apart.
//! - `remember`: answers what the previous `remember` request said (from the
//!   plugin's state store), and keeps this one's message for the next.
//! - `busy`: five events, each after ~40 ms of computing: cheap, but long
//!   enough to be preempted at several epoch ticks.
//! - `leaky-error`: fails with an error holding its `token` secret, CR/LF and
//!   a forged log line, far longer than any sane message.
//! - `log-flood`: writes thousands of long log lines, each with its `token`
//!   secret across the length cap, and forged lines after CR/LF.
//! - `state-flood`: stores 512 values of 256 KiB in its state.
//! - `huge-event`: answers with one 8 MiB text event.
//! - `endless-events`: streams 4 KiB text events forever.
//! - `fields`: creates 4000 wasi:http `fields` of 32 KiB and keeps them.
//! - `requests`: opens 64 outgoing requests to the account's `base-url` at
//!   once, without waiting for them.

// Only the component build exports the provider; natively it is unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;
use std::collections::VecDeque;

use wasmgate_plugin_sdk::{
    ChatRequest, Completion, CompletionStream, ContentPart, Event, FinishReason, ModelInfo,
    PluginManifest, Provider, ProviderError, Role, SecretSpec, UpstreamFailure, Usage,
    export_provider, host, http,
};

struct Misbehave;

impl Provider for Misbehave {
    type Completion = Answer;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "misbehave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test plugin: echoes, and misbehaves on request.".into(),
            hosts: vec![],
            secrets: vec![SecretSpec {
                name: "token".into(),
                description: "any value; `snoop` reports whether it is visible".into(),
                required: false,
            }],
            settings: vec![],
            models: [
                "echo",
                "loop",
                "hog",
                "trap",
                "egress",
                "snoop",
                "slow",
                "remember",
                "busy",
                "leaky-error",
                "log-flood",
                "state-flood",
                "huge-event",
                "endless-events",
                "fields",
                "requests",
            ]
            .into_iter()
            .map(|id| ModelInfo {
                id: format!("misbehave-{id}"),
                display_name: None,
                context_window: None,
            })
            .collect(),
        }
    }

    fn models() -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(Self::manifest().models)
    }

    fn chat(request: ChatRequest) -> Result<Completion, ProviderError> {
        let prompt = last_user_text(&request);
        let mode = request.model.trim_start_matches("misbehave-");
        let words: Vec<String> = match mode {
            "echo" => prompt.split_whitespace().map(str::to_string).collect(),
            "loop" => spin(),
            "hog" => hog(),
            "trap" => panic!("the misbehave plugin was asked to trap"),
            "egress" => {
                // The account's `target-url`, else the URL the user sent.
                let url = host::setting("target-url").unwrap_or_else(|| prompt.trim().to_string());
                let response = http::Request::get(url).send()?;
                let status = response.status;
                // Read the body to its end so the connection can be reused.
                let body = response.text(64 * 1024)?;
                vec![format!("reached status {status}: {body}")]
            }
            "snoop" => vec![snoop(&prompt)],
            "slow" => prompt.split_whitespace().map(str::to_string).collect(),
            "remember" => {
                let previous = host::store::get("memo").unwrap_or_else(|| "<none>".into());
                host::store::set("memo", &prompt, None);
                vec![previous]
            }
            "busy" => (0..5).map(|i| format!("w{i}")).collect(),
            "leaky-error" => {
                let token = host::secret("token").unwrap_or_default();
                return Err(ProviderError::Upstream(UpstreamFailure {
                    status: 500,
                    message: format!(
                        "the upstream rejected token={token}\r\nFORGED-LINE account={token} {}",
                        "y".repeat(20_000)
                    ),
                }));
            }
            "log-flood" => {
                let token = host::secret("token").unwrap_or_default();
                // The secret straddles the 4096-byte cap, 8 bytes before it.
                let long = format!("{}{token}", "x".repeat(4096 - 8));
                for i in 0..5000 {
                    host::warn(&long);
                    host::warn(&format!("line {i}\r\nFORGED-LINE {token}"));
                }
                vec!["flooded".to_string()]
            }
            "state-flood" => {
                let value = "v".repeat(256 * 1024);
                for i in 0..512 {
                    host::store::set(&format!("flood-{i}"), &value, None);
                }
                vec!["stored".to_string()]
            }
            "huge-event" => vec!["h".repeat(8 << 20)],
            "endless-events" => {
                // One resource type only: the SDK casts every completion
                // back to `Self::Completion`.
                return Ok(Completion::new(Answer {
                    events: RefCell::default(),
                    pace: None,
                    work: false,
                    endless: Some("e".repeat(4096)),
                }));
            }
            "fields" => vec![format!("kept {} fields", make_fields())],
            "requests" => vec![format!("opened {} requests", open_requests())],
            other => return Err(ProviderError::ModelNotFound(other.to_string())),
        };
        let usage = Usage {
            prompt_tokens: prompt.split_whitespace().count() as u32,
            completion_tokens: words.len() as u32,
            reasoning_tokens: None,
            total_tokens: (prompt.split_whitespace().count() + words.len()) as u32,
        };
        let mut events: VecDeque<Event> = words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                Event::Text(if i == 0 {
                    word.clone()
                } else {
                    format!(" {word}")
                })
            })
            .collect();
        events.push_back(Event::Usage(usage));
        events.push_back(Event::Finish(FinishReason::Stop));
        Ok(Completion::new(Answer {
            events: RefCell::new(events),
            pace: (mode == "slow").then_some(std::time::Duration::from_millis(100)),
            work: mode == "busy",
            endless: None,
        }))
    }
}

struct Answer {
    events: RefCell<VecDeque<Event>>,
    /// A pause before each event, to make a long-running stream.
    pace: Option<std::time::Duration>,
    /// Some computing before each event.
    work: bool,
    /// This text, as an event, forever.
    endless: Option<String>,
}

impl CompletionStream for Answer {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        if let Some(pace) = self.pace {
            std::thread::sleep(pace);
        }
        if self.work {
            compute();
        }
        if let Some(chunk) = &self.endless {
            return Ok(vec![Event::Text(chunk.clone())]);
        }
        Ok(self.events.borrow_mut().pop_front().into_iter().collect())
    }
}

/// About 40 ms of CPU on a current machine; a fixed amount of work, so a
/// loaded machine makes it slower, not longer.
fn compute() {
    let mut x: u64 = 0;
    for i in 0..20_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    std::hint::black_box(x);
}

/// Creates header maps and keeps them: each holds host memory.
fn make_fields() -> usize {
    use wasmgate_plugin_sdk::bindings::wasi::http::types::Fields;
    let entry = [("x-pad".to_string(), vec![b'a'; 32 * 1024])];
    let mut kept = Vec::new();
    while kept.len() < 4000 {
        match Fields::from_list(&entry) {
            Ok(fields) => kept.push(fields),
            Err(_) => break,
        }
    }
    kept.len()
}

/// Starts many requests at once and keeps them pending for a while.
fn open_requests() -> usize {
    use wasmgate_plugin_sdk::bindings::wasi::http::outgoing_handler;
    use wasmgate_plugin_sdk::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let base = host::setting("base-url").unwrap_or_default();
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut pending = Vec::new();
    for _ in 0..64 {
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_scheme(Some(&Scheme::Http));
        let _ = request.set_authority(Some(&authority));
        let _ = request.set_path_with_query(Some("/"));
        if let Ok(future) = outgoing_handler::handle(request, None) {
            pending.push(future);
        }
    }
    // Long enough for the host to connect them all.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    pending.len()
}

fn last_user_text(request: &ChatRequest) -> String {
    let Some(message) = request.messages.iter().rev().find(|m| m.role == Role::User) else {
        return String::new();
    };
    message
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn hog() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

/// Reports what the sandbox lets it see, so a test can assert it is nothing.
fn snoop(prompt: &str) -> String {
    // A HashMap, as real plugins use: std seeds it through wasi:random.
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let env: Vec<&String> = env.keys().collect();
    let args = std::env::args().count();
    let secrets: Vec<String> = prompt
        .split_whitespace()
        .map(|name| {
            let seen = wasmgate_plugin_sdk::host::secret(name);
            format!("{name}={}", seen.as_deref().unwrap_or("<none>"))
        })
        .collect();
    format!(
        "env=[{}] args={} secrets=[{}]",
        env.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
        args,
        secrets.join(",")
    )
}

export_provider!(Misbehave);
