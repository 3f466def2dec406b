//! Google Search grounding as the real API answers it: a request whose
//! `tools` hold `{"googleSearch": {}}` (or `google_search`) gets a
//! `groundingMetadata` on its candidate, with one web chunk and one support
//! span covering the answer's text (indices in UTF-8 bytes, as Google's).

use serde_json::{Value, json};

use crate::RecordedRequest;

/// The source every grounded answer cites.
pub const SOURCE_URI: &str = "https://example.com/wasmgate-mock-source";
pub const SOURCE_TITLE: &str = "example.com";

/// Whether a `generateContent` body asks for Google Search grounding.
pub fn carries_search_tool(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools.iter().any(|tool| {
                tool.get("googleSearch")
                    .or_else(|| tool.get("google_search"))
                    .is_some()
            })
        })
}

impl RecordedRequest {
    /// Whether this request asked for Google Search grounding.
    pub fn carries_search_tool(&self) -> bool {
        self.body.as_ref().is_some_and(carries_search_tool)
    }
}

/// The answer text (thoughts left out) of a response's first candidate.
fn answer_text(response: &Value) -> String {
    response
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect()
}

fn metadata(text: &str) -> Value {
    json!({
        "webSearchQueries": ["wasmgate mock search"],
        "searchEntryPoint": { "renderedContent": "<div class=\"container\">mock search</div>" },
        "groundingChunks": [{ "web": { "uri": SOURCE_URI, "title": SOURCE_TITLE } }],
        "groundingSupports": [{
            "segment": { "startIndex": 0, "endIndex": text.len(), "text": text },
            "groundingChunkIndices": [0]
        }]
    })
}

/// Grounds a whole (`generateContent`) answer that has text.
pub fn ground_whole(response: &mut Value) {
    let text = answer_text(response);
    if text.is_empty() {
        return;
    }
    if let Some(candidate) = response
        .pointer_mut("/candidates/0")
        .and_then(Value::as_object_mut)
    {
        candidate.insert("groundingMetadata".into(), metadata(&text));
    }
}

/// Grounds a streamed answer: the metadata rides on the last chunk that
/// has a candidate, spanning the text of all chunks.
pub fn ground_chunks(chunks: &mut [Value]) {
    let text: String = chunks.iter().map(answer_text).collect();
    if text.is_empty() {
        return;
    }
    if let Some(candidate) = chunks.iter_mut().rev().find_map(|chunk| {
        chunk
            .pointer_mut("/candidates/0")
            .and_then(Value::as_object_mut)
    }) {
        candidate.insert("groundingMetadata".into(), metadata(&text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_search_tool_counts() {
        assert!(carries_search_tool(
            &json!({ "tools": [{ "googleSearch": {} }] })
        ));
        assert!(carries_search_tool(
            &json!({ "tools": [{ "functionDeclarations": [] }, { "google_search": {} }] })
        ));
        assert!(!carries_search_tool(
            &json!({ "tools": [{ "functionDeclarations": [] }] })
        ));
        assert!(!carries_search_tool(&json!({ "contents": [] })));
    }

    #[test]
    fn the_support_spans_the_answer_text() {
        let mut chunks = vec![
            json!({ "candidates": [{ "content": { "parts": [{ "text": "hmm", "thought": true }] } }] }),
            json!({ "candidates": [{ "content": { "parts": [{ "text": "echo: é" }] } }] }),
            json!({ "candidates": [{ "content": { "parts": [{ "text": " hi" }] }, "finishReason": "STOP" }] }),
        ];
        ground_chunks(&mut chunks);
        let metadata = &chunks[2]["candidates"][0]["groundingMetadata"];
        assert_eq!(metadata["groundingChunks"][0]["web"]["uri"], SOURCE_URI);
        assert_eq!(
            metadata["groundingSupports"][0]["segment"]["text"],
            "echo: é hi"
        );
        assert_eq!(metadata["groundingSupports"][0]["segment"]["endIndex"], 11);
        assert!(
            chunks[1]["candidates"][0]
                .get("groundingMetadata")
                .is_none()
        );

        let mut whole =
            json!({ "candidates": [{ "content": { "parts": [{ "text": "echo: x" }] } }] });
        ground_whole(&mut whole);
        assert_eq!(
            whole["candidates"][0]["groundingMetadata"]["groundingSupports"][0]["groundingChunkIndices"],
            json!([0])
        );
    }
}
