//! The guest side of the `wasmgate:provider` contract.
//!
//! A provider plugin depends on this crate, implements [`Provider`] and
//! [`CompletionStream`], and exports them with [`export_provider!`]:
//!
//! ```ignore
//! struct Gemini;
//! impl wasmgate_plugin_sdk::Provider for Gemini { /* manifest, models, chat */ }
//! wasmgate_plugin_sdk::export_provider!(Gemini);
//! ```
//!
//! Besides the generated bindings it offers what every plugin needs: one
//! trait for everything asked of the host ([`platform::Platform`]: HTTP,
//! secrets, settings, state, clocks, randomness, log) with the component's
//! implementation ([`platform::WasiHost`]) and, behind the `native` feature,
//! one for native tests against a mock on loopback ([`native::NativeHost`]);
//! one request/response/body type ([`http`]); an incremental
//! Server-Sent-Events parser ([`sse`]); and thin wrappers over the host's
//! capabilities ([`host`]).

pub mod bindings {
    wit_bindgen::generate!({
        world: "provider",
        path: "../../wit",
        generate_all,
        features: ["clocks-timezone"],
        pub_export_macro: true,
        export_macro_name: "export_provider",
        default_bindings_module: "wasmgate_plugin_sdk::bindings",
    });
}

/// The version of the contract (`wit/`) this SDK speaks. The host refuses a
/// plugin built for a version it does not speak, naming both.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The custom section that records [`CONTRACT_VERSION`] in the plugin binary,
/// so the host can check it before linking anything.
pub const CONTRACT_SECTION: &str = "wasmgate:contract-version";

/// Exports a [`Provider`] implementation as the component's `plugin` export,
/// and records the contract version in the binary.
///
/// Expands to nothing on non-wasm targets, so a plugin crate still builds and
/// runs its native tests (the export symbols only link inside a component).
#[macro_export]
macro_rules! export_provider {
    ($provider:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_provider!($provider with_types_in $crate::bindings);

        // In the plugin's own crate (always linked whole), not in the SDK's.
        #[cfg(target_arch = "wasm32")]
        #[used]
        #[unsafe(link_section = "wasmgate:contract-version")]
        static WASMGATE_CONTRACT_VERSION: [u8; $crate::CONTRACT_VERSION.len()] = {
            let version = $crate::CONTRACT_VERSION.as_bytes();
            let mut bytes = [0u8; $crate::CONTRACT_VERSION.len()];
            let mut i = 0;
            while i < bytes.len() {
                bytes[i] = version[i];
                i += 1;
            }
            bytes
        };
    };
}

pub mod answer;
pub mod datetime;
pub mod headers;
pub mod host;
pub mod http;
mod names;
#[cfg(feature = "native")]
pub mod native;
pub mod openai_json;
pub mod platform;
pub mod prompt;
pub mod pump;
pub mod retry_after;
pub mod sse;
pub mod sse_stream;
mod status;

pub use bindings::exports::wasmgate::provider::plugin::{
    Completion, Guest as Provider, GuestCompletion as CompletionStream,
};
pub use bindings::wasmgate::provider::types::{
    ChatRequest, Citation, ContentPart, Event, FinishReason, Media, Message, ModelInfo,
    PluginManifest, ProviderError, ReasoningEffort, ReasoningPart, RetryInfo, Role, Sampling,
    SecretSpec, SettingSpec, Tool, ToolCall, ToolCallDelta, ToolChoice, UpstreamFailure, Usage,
};
pub use platform::{Level, Platform, WasiHost};
pub use pump::{Producer, Pump, Step};

impl ChatRequest {
    /// A request for `model` with `messages` and nothing else set: no
    /// sampling options, stop sequences, tools, effort or extra fields.
    pub fn new(model: impl Into<String>, messages: Vec<Message>, stream: bool) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            sampling: Sampling {
                temperature: None,
                top_p: None,
                top_k: None,
                max_tokens: None,
                seed: None,
                presence_penalty: None,
                frequency_penalty: None,
            },
            stop: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            stream,
            reasoning_effort: None,
            extra: None,
        }
    }
}

impl Message {
    /// A message of these parts and nothing else: no name, tool calls or
    /// tool call id.
    pub fn new(role: Role, content: Vec<ContentPart>) -> Self {
        Message {
            role,
            content,
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A message of one text part.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self::new(role, vec![ContentPart::Text(text.into())])
    }
}

impl SecretSpec {
    /// A secret every account of the plugin must provide.
    pub fn required(name: impl Into<String>, description: impl Into<String>) -> Self {
        SecretSpec {
            name: name.into(),
            description: description.into(),
            required: true,
        }
    }

    /// A secret an account may provide.
    pub fn optional(name: impl Into<String>, description: impl Into<String>) -> Self {
        SecretSpec {
            required: false,
            ..Self::required(name, description)
        }
    }
}

impl SettingSpec {
    /// A setting, with the value the plugin uses when the operator sets none.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        default: Option<&str>,
    ) -> Self {
        SettingSpec {
            name: name.into(),
            description: description.into(),
            default: default.map(str::to_string),
        }
    }
}

impl ProviderError {
    /// The case's name as the contract spells it (`rate-limited`…), for logs
    /// and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Unauthorized(_) => "unauthorized",
            ProviderError::Forbidden(_) => "forbidden",
            ProviderError::RateLimited(_) => "rate-limited",
            ProviderError::QuotaExhausted(_) => "quota-exhausted",
            ProviderError::BadRequest(_) => "bad-request",
            ProviderError::ModelNotFound(_) => "model-not-found",
            ProviderError::ContentFiltered(_) => "content-filtered",
            ProviderError::Upstream(_) => "upstream",
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Internal(_) => "internal",
        }
    }

    /// An upstream failure with its HTTP status (0 when there was no answer).
    pub fn upstream(status: u16, message: impl Into<String>) -> Self {
        ProviderError::Upstream(UpstreamFailure {
            status,
            message: message.into(),
        })
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        ProviderError::RateLimited(RetryInfo {
            message: message.into(),
            retry_after_ms,
        })
    }

    pub fn quota_exhausted(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        ProviderError::QuotaExhausted(RetryInfo {
            message: message.into(),
            retry_after_ms,
        })
    }
}

impl From<http::HttpError> for ProviderError {
    fn from(err: http::HttpError) -> Self {
        match err {
            http::HttpError::Timeout(_) => ProviderError::Timeout(err.to_string()),
            http::HttpError::Denied(_) | http::HttpError::InvalidRequest(_) => {
                ProviderError::Internal(err.to_string())
            }
            _ => ProviderError::upstream(0, err.to_string()),
        }
    }
}
