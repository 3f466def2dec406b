//! The `generateContent` JSON shared by the Gemini Developer API and Vertex
//! AI, mapped to and from the wasmgate provider types.
//!
//! Nothing here knows URLs, keys or tokens, and nothing calls the host: a
//! plugin builds the body with [`build_request`], hands the answer's body to
//! [`answer::streaming`] (or a whole one to [`answer::decode_whole`]), which
//! feed each response object to a [`ResponseMapper`], and turns non-2xx
//! answers into typed errors with [`error_from_response`].

pub mod answer;
mod duration;
mod errors;
mod models;
mod request;
mod response;
mod schema;
mod search;
mod stream;
mod thinking;
pub mod tool_ids;

pub use duration::parse_millis as parse_duration_millis;
pub use errors::{from_response as error_from_response, from_stream_error};
pub use models::{CONTEXT_WINDOW, SUCCESSORS, is_retired, model_infos, upstream_model_id};
pub use request::{
    DUMMY_THOUGHT_SIGNATURE, RequestOptions, build_request, validates_thought_signatures,
};
pub use response::{ResponseMapper, finish_reason};
pub use search::{SEARCH_SUFFIX, WEB_SEARCH_OPTIONS, base_model as search_base_model};
pub use stream::StreamParser;
pub use thinking::{Thinking, model_thinks};
