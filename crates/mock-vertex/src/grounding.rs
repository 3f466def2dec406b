//! Google Search grounding: Vertex answers it in the same shape as the
//! Gemini API, so this mock answers it with that mock's code.

pub use mock_gemini::grounding::{
    SOURCE_TITLE, SOURCE_URI, carries_search_tool, ground_chunks, ground_whole,
};

use crate::RecordedRequest;

impl RecordedRequest {
    /// Whether this request asked for Google Search grounding.
    pub fn carries_search_tool(&self) -> bool {
        self.json().is_some_and(|body| carries_search_tool(&body))
    }
}
