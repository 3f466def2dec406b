//! `GenerateContentResponse` → provider events.
//!
//! A non-streamed answer is one response object; a stream is a sequence of
//! them, each with the *new* parts only. [`ResponseMapper`] takes either, one
//! object at a time, and remembers what must hold across chunks: the index of
//! each tool call, whether anything was answered (an empty answer is an
//! error, never a silent success), and the latest usage.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;
use wasmgate_plugin_sdk::{
    Citation, Event, FinishReason, Media, ProviderError, ToolCallDelta, Usage,
};

use crate::{errors, tool_ids};

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GenerateContentResponse {
    /// Set on an error sent as a chunk instead of an answer.
    error: Option<Value>,
    candidates: Vec<Candidate>,
    #[serde(alias = "prompt_feedback")]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(alias = "usage_metadata")]
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    #[serde(alias = "finish_reason")]
    finish_reason: Option<String>,
    #[serde(alias = "finish_message")]
    finish_message: Option<String>,
    index: Option<u32>,
    #[serde(alias = "grounding_metadata")]
    grounding_metadata: Option<GroundingMetadata>,
}

/// Where a grounded answer's statements come from (Google Search).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroundingMetadata {
    #[serde(alias = "grounding_chunks")]
    grounding_chunks: Vec<GroundingChunk>,
    #[serde(alias = "grounding_supports")]
    grounding_supports: Vec<GroundingSupport>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GroundingChunk {
    web: Option<WebSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WebSource {
    uri: String,
    title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroundingSupport {
    segment: Option<Segment>,
    #[serde(alias = "grounding_chunk_indices")]
    grounding_chunk_indices: Vec<usize>,
}

/// A span of the answer's text, in UTF-8 bytes from its start.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Segment {
    #[serde(alias = "start_index")]
    start_index: Option<usize>,
    #[serde(alias = "end_index")]
    end_index: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Content {
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Part {
    text: Option<String>,
    thought: Option<bool>,
    #[serde(alias = "thought_signature")]
    thought_signature: Option<String>,
    #[serde(alias = "function_call")]
    function_call: Option<FunctionCall>,
    #[serde(alias = "inline_data")]
    inline_data: Option<Blob>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FunctionCall {
    id: Option<String>,
    name: String,
    args: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Blob {
    #[serde(alias = "mime_type")]
    mime_type: String,
    data: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(alias = "block_reason")]
    block_reason: Option<String>,
    #[serde(alias = "block_reason_message")]
    block_reason_message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(alias = "prompt_token_count")]
    prompt_token_count: u32,
    #[serde(alias = "candidates_token_count")]
    candidates_token_count: u32,
    #[serde(alias = "thoughts_token_count")]
    thoughts_token_count: Option<u32>,
    #[serde(alias = "tool_use_prompt_token_count")]
    tool_use_prompt_token_count: u32,
    #[serde(alias = "total_token_count")]
    total_token_count: Option<u32>,
}

/// Turns response objects into events, keeping the state a stream needs.
#[derive(Debug, Default)]
pub struct ResponseMapper {
    /// Tool calls yielded so far; the next one gets this index.
    tool_calls: u32,
    /// Whether text, a tool call or an image was yielded.
    answered: bool,
    /// Whether any candidate arrived.
    saw_candidate: bool,
    usage: Option<Usage>,
    finished: bool,
    /// The answer's text so far: grounding spans are byte offsets into it.
    text: String,
}

impl ResponseMapper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the finishing chunk was seen: the answer is complete.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Maps one response object (a whole body, or one stream event's data),
    /// appending its events. On an error, the events of the object's earlier
    /// parts have been appended already.
    pub fn push(&mut self, json: &str, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        if self.finished {
            return Ok(()); // Nothing after the finish matters.
        }
        // The common shape, one response object, is read straight into its
        // typed form; anything else (an array-wrapped chunk) through a
        // `Value` first.
        // (A derived struct would also take an array, field by field.)
        if json.trim_start().starts_with('{')
            && let Ok(response) = serde_json::from_str::<GenerateContentResponse>(json)
        {
            return self.push_response(response, events);
        }
        let value: Value = serde_json::from_str(json).map_err(|_| {
            ProviderError::upstream(
                0,
                format!("malformed response from the upstream: {}", snippet(json)),
            )
        })?;
        self.push_value(&value, events)
    }

    /// [`push`](Self::push) for an object parsed already (e.g. an element
    /// of a JSON-array stream).
    pub fn push_value(
        &mut self,
        value: &Value,
        events: &mut Vec<Event>,
    ) -> Result<(), ProviderError> {
        if self.finished {
            return Ok(());
        }
        // A stream chunk may come wrapped in an array, errors especially
        // (`[{"error":…}]`).
        if let Value::Array(items) = value {
            for item in items {
                self.push_value(item, events)?;
            }
            return Ok(());
        }
        let response = GenerateContentResponse::deserialize(value).map_err(|err| {
            ProviderError::upstream(0, format!("unexpected response from the upstream: {err}"))
        })?;
        self.push_response(response, events)
    }

    fn push_response(
        &mut self,
        response: GenerateContentResponse,
        events: &mut Vec<Event>,
    ) -> Result<(), ProviderError> {
        if let Some(error) = &response.error {
            return Err(errors::from_stream_error(error));
        }
        if let Some(metadata) = &response.usage_metadata {
            self.usage = Some(usage(metadata));
        }
        if let Some(feedback) = &response.prompt_feedback
            && let Some(reason) = feedback.block_reason.as_deref().filter(|r| !r.is_empty())
        {
            let mut message = format!("prompt blocked ({reason})");
            if let Some(detail) = feedback
                .block_reason_message
                .as_deref()
                .filter(|m| !m.is_empty())
            {
                message = format!("{message}: {detail}");
            }
            return Err(ProviderError::ContentFiltered(message));
        }
        // Only the first candidate is asked for (no candidateCount).
        let Some(candidate) = response
            .candidates
            .into_iter()
            .find(|candidate| candidate.index.unwrap_or(0) == 0)
        else {
            return Ok(());
        };
        self.saw_candidate = true;
        for part in candidate
            .content
            .map(|content| content.parts)
            .unwrap_or_default()
        {
            self.part(part, events)?;
        }
        if let Some(grounding) = candidate.grounding_metadata {
            self.citations(grounding, events);
        }
        if let Some(reason) = candidate.finish_reason.as_deref().filter(|r| !r.is_empty()) {
            self.finish(reason, candidate.finish_message.as_deref(), events)?;
        }
        Ok(())
    }

    /// The body ended. An answer that never finished is an error: Gemini has
    /// no end-of-stream sentinel, the chunk with `finishReason` is the end.
    pub fn end(&mut self) -> Result<(), ProviderError> {
        if self.finished {
            Ok(())
        } else if !self.saw_candidate {
            Err(ProviderError::upstream(
                200,
                "the upstream answered without candidates and without a block reason",
            ))
        } else {
            Err(ProviderError::upstream(
                0,
                "the upstream's answer ended before the model finished",
            ))
        }
    }

    fn part(&mut self, part: Part, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        let thought = part.thought.unwrap_or(false);
        if let Some(call) = part.function_call {
            let index = self.tool_calls;
            self.tool_calls += 1;
            self.answered = true;
            let arguments = match call.args {
                None | Some(Value::Null) => "{}".to_string(),
                Some(args) => args.to_string(),
            };
            events.push(Event::ToolCall(ToolCallDelta {
                index,
                id: Some(tool_ids::id(index, call.id.as_deref())),
                name: Some(call.name),
                arguments,
                provider_data: part.thought_signature.filter(|s| !s.is_empty()),
            }));
        }
        if let Some(blob) = part.inline_data
            && !thought
        {
            let data = BASE64.decode(blob.data.trim()).map_err(|_| {
                ProviderError::upstream(0, "the upstream sent an image that is not valid base64")
            })?;
            self.answered = true;
            events.push(Event::Image(Media {
                mime_type: blob.mime_type,
                data,
            }));
        }
        if let Some(text) = part.text.filter(|text| !text.is_empty()) {
            if thought {
                events.push(Event::Reasoning(text));
            } else {
                self.answered = true;
                self.text.push_str(&text);
                events.push(Event::Text(text));
            }
        }
        Ok(())
    }

    /// Sources as citations: each supported span with its sources, then the
    /// sources no span names (Google lists every source it searched).
    fn citations(&mut self, grounding: GroundingMetadata, events: &mut Vec<Event>) {
        let sources = &grounding.grounding_chunks;
        let source = |index: usize| sources.get(index)?.web.as_ref();
        let mut cited = vec![false; sources.len()];
        let chars = |bytes: usize| -> Option<u32> {
            let prefix = self.text.get(..bytes.min(self.text.len()))?;
            u32::try_from(prefix.chars().count()).ok()
        };
        for support in &grounding.grounding_supports {
            let span = support.segment.as_ref();
            let start = span.and_then(|s| s.start_index).or(span.map(|_| 0));
            let end = span.and_then(|s| s.end_index);
            for &index in &support.grounding_chunk_indices {
                let Some(web) = source(index) else { continue };
                cited[index] = true;
                events.push(Event::Citation(Citation {
                    url: web.uri.clone(),
                    title: web.title.clone(),
                    start_index: start.and_then(chars),
                    end_index: end.and_then(chars),
                }));
            }
        }
        for (index, chunk) in sources.iter().enumerate() {
            if let (false, Some(web)) = (cited[index], chunk.web.as_ref()) {
                events.push(Event::Citation(Citation {
                    url: web.uri.clone(),
                    title: web.title.clone(),
                    start_index: None,
                    end_index: None,
                }));
            }
        }
    }

    fn finish(
        &mut self,
        reason: &str,
        detail: Option<&str>,
        events: &mut Vec<Event>,
    ) -> Result<(), ProviderError> {
        let reason = finish_reason(reason, self.tool_calls > 0);
        if reason == FinishReason::Stop && !self.answered {
            let mut message = "the model returned an empty answer".to_string();
            if let Some(detail) = detail.filter(|d| !d.is_empty()) {
                message = format!("{message}: {detail}");
            }
            return Err(ProviderError::upstream(200, message));
        }
        if reason == FinishReason::ContentFilter && !self.answered {
            // Nothing to show: a refusal of the caller's content, not a
            // success with an empty body (and no fault of the account).
            let mut message = "the answer was blocked".to_string();
            if let Some(detail) = detail.filter(|d| !d.is_empty()) {
                message = format!("{message}: {detail}");
            }
            return Err(ProviderError::ContentFiltered(message));
        }
        if let Some(usage) = self.usage {
            events.push(Event::Usage(usage));
        }
        events.push(Event::Finish(reason));
        self.finished = true;
        Ok(())
    }
}

/// Gemini's `finishReason` as the contract's finish reason.
pub fn finish_reason(reason: &str, called_tools: bool) -> FinishReason {
    match reason {
        "STOP" | "FINISH_REASON_UNSPECIFIED" if called_tools => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `usageMetadata` as usage: thoughts count as completion tokens, and as
/// reasoning tokens on their own.
fn usage(metadata: &UsageMetadata) -> Usage {
    let prompt_tokens = metadata
        .prompt_token_count
        .saturating_add(metadata.tool_use_prompt_token_count);
    let thoughts = metadata.thoughts_token_count.unwrap_or(0);
    let completion_tokens = metadata.candidates_token_count.saturating_add(thoughts);
    Usage {
        prompt_tokens,
        completion_tokens,
        reasoning_tokens: metadata.thoughts_token_count,
        total_tokens: metadata
            .total_token_count
            .unwrap_or_else(|| prompt_tokens.saturating_add(completion_tokens)),
    }
}

fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        one_line.chars().take(120).collect::<String>() + "…"
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests;
