//! The Gemini web app (gemini.google.com) as a wasmgate provider.

mod assembler;
mod cookies;
mod delta;
mod display_text;
mod endpoints;
mod envelope;
mod failures;
mod framing;
mod generate_request;
mod images;
mod json_path;
mod models;
mod page;
mod prompt;
mod rotation;
mod snapshot;
mod upload;
