//! The conversation as the one prompt a fresh web chat takes: the web app
//! keeps its own transcript, so each request opens a new conversation whose
//! single message carries the whole history (the SDK's transcript folding).

pub use wasmgate_plugin_sdk::prompt::{Attachment, Prompt, PromptError, fold};
