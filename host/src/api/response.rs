//! Writing answers in OpenAI's shapes: `chat.completion` for a whole answer,
//! `chat.completion.chunk` SSE frames for a stream.

use crate::clock::unix_seconds;
use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;

use crate::runtime::bindings::{Citation, FinishReason, Media, ToolCallDelta, Usage};

/// A fresh `chatcmpl-…` id.
pub fn completion_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!(
        "chatcmpl-{seed:016x}{:08x}",
        COUNTER.load(Ordering::Relaxed) as u32
    )
}

pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Other => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// A generated image as the text clients can show: a Markdown data URL.
pub fn image_markdown(media: &Media) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(&media.data);
    format!("![image](data:{};base64,{data})", media.mime_type)
}

#[derive(Serialize)]
pub struct UsageOut {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<ReasoningDetails>,
}

#[derive(Serialize)]
pub struct ReasoningDetails {
    pub reasoning_tokens: u32,
}

impl From<&Usage> for UsageOut {
    fn from(usage: &Usage) -> Self {
        UsageOut {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            completion_tokens_details: usage
                .reasoning_tokens
                .map(|reasoning_tokens| ReasoningDetails { reasoning_tokens }),
        }
    }
}

#[derive(Serialize)]
pub struct ToolCallOut<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionOut<'a>,
    /// The call's provider data, where Gemini's OpenAI-compatible API puts
    /// its thought signature (clients that keep the message send it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<ExtraContent<'a>>,
}

/// `{"google": {"thought_signature": …}}`
#[derive(Serialize)]
pub struct ExtraContent<'a> {
    pub google: ThoughtSignature<'a>,
}

#[derive(Serialize)]
pub struct ThoughtSignature<'a> {
    pub thought_signature: &'a str,
}

impl<'a> ExtraContent<'a> {
    pub fn of(provider_data: Option<&'a str>) -> Option<Self> {
        provider_data.map(|thought_signature| ExtraContent {
            google: ThoughtSignature { thought_signature },
        })
    }
}

/// An OpenAI `url_citation` annotation.
#[derive(Serialize)]
pub struct Annotation<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url_citation: UrlCitation<'a>,
}

#[derive(Serialize)]
pub struct UrlCitation<'a> {
    pub url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_index: Option<u32>,
}

impl<'a> From<&'a Citation> for Annotation<'a> {
    fn from(citation: &'a Citation) -> Self {
        Annotation {
            kind: "url_citation",
            url_citation: UrlCitation {
                url: &citation.url,
                title: citation.title.as_deref(),
                start_index: citation.start_index,
                end_index: citation.end_index,
            },
        }
    }
}

#[derive(Serialize)]
pub struct FunctionOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

impl<'a> From<&'a ToolCallDelta> for ToolCallOut<'a> {
    fn from(call: &'a ToolCallDelta) -> Self {
        ToolCallOut {
            index: call.index,
            id: call.id.as_deref(),
            kind: call.id.as_ref().map(|_| "function"),
            function: FunctionOut {
                name: call.name.as_deref(),
                arguments: &call.arguments,
            },
            extra_content: ExtraContent::of(call.provider_data.as_deref()),
        }
    }
}

#[derive(Serialize, Default)]
pub struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallOut<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<[Annotation<'a>; 1]>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
}

/// Frames of one streamed answer.
pub struct ChunkWriter {
    /// `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`: the
    /// part every frame of the answer shares, written once.
    head: Vec<u8>,
}

/// What every chunk of an answer repeats, in [`Chunk`]'s field order.
#[derive(Serialize)]
struct ChunkHead<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
}

impl ChunkWriter {
    pub fn new(model: &str) -> Self {
        let id = completion_id();
        let head = ChunkHead {
            id: &id,
            object: "chat.completion.chunk",
            created: unix_seconds(),
            model,
        };
        let mut json = serde_json::to_vec(&head).unwrap_or_default();
        json.pop(); // its closing brace: the choices follow
        let mut frame = b"data: ".to_vec();
        frame.extend_from_slice(&json);
        frame.extend_from_slice(b",\"choices\":[");
        ChunkWriter { head: frame }
    }

    pub fn delta(&self, delta: Delta<'_>) -> Bytes {
        self.frame(
            Some(ChunkChoice {
                index: 0,
                delta,
                finish_reason: None,
            }),
            None,
        )
    }

    pub fn finish(&self, reason: &'static str) -> Bytes {
        self.frame(
            Some(ChunkChoice {
                index: 0,
                delta: Delta::default(),
                finish_reason: Some(reason),
            }),
            None,
        )
    }

    /// The usage frame of `stream_options.include_usage`: no choices.
    pub fn usage(&self, usage: &Usage) -> Bytes {
        self.frame(None, Some(usage.into()))
    }

    /// The same bytes as serializing a whole [`Chunk`], without serializing
    /// the shared head again for every frame.
    fn frame(&self, choice: Option<ChunkChoice<'_>>, usage: Option<UsageOut>) -> Bytes {
        let mut frame = Vec::with_capacity(self.head.len() + 160);
        frame.extend_from_slice(&self.head);
        if let Some(choice) = &choice {
            let _ = serde_json::to_writer(&mut frame, choice);
        }
        frame.push(b']');
        if let Some(usage) = &usage {
            frame.extend_from_slice(b",\"usage\":");
            let _ = serde_json::to_writer(&mut frame, usage);
        }
        frame.extend_from_slice(b"}\n\n");
        Bytes::from(frame)
    }
}

/// One `data:` frame.
pub fn sse_data(json: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(json.len() + 8);
    frame.extend_from_slice(b"data: ");
    frame.extend_from_slice(json);
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

pub const SSE_DONE: &[u8] = b"data: [DONE]\n\n";

/// A whole answer, for a non-streaming reply.
#[derive(Serialize)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: [CompletionChoice; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
}

#[derive(Serialize)]
pub struct CompletionChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: &'static str,
}

#[derive(Serialize)]
pub struct AssistantMessage {
    pub role: &'static str,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallWhole>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<serde_json::Value>,
}

#[derive(Serialize)]
pub struct ToolCallWhole {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionWhole,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<serde_json::Value>,
}

#[derive(Serialize)]
pub struct FunctionWhole {
    pub name: String,
    pub arguments: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole `chat.completion.chunk`, as OpenAI defines it.
    #[derive(Serialize)]
    struct Chunk<'a> {
        id: &'a str,
        object: &'static str,
        created: u64,
        model: &'a str,
        choices: Vec<ChunkChoice<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<UsageOut>,
    }

    /// The writer's frames, head written once, are byte for byte the whole
    /// chunk serialized.
    #[test]
    fn frames_are_whole_chunks() {
        let model = "gemini-2.5-flash \"quoted\"";
        let writer = ChunkWriter::new(model);
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 5,
            reasoning_tokens: Some(2),
            total_tokens: 8,
        };
        let frames = [
            (
                writer.delta(Delta {
                    content: Some("héllo\n\"x\"".into()),
                    ..Delta::default()
                }),
                Some(ChunkChoice {
                    index: 0,
                    delta: Delta {
                        content: Some("héllo\n\"x\"".into()),
                        ..Delta::default()
                    },
                    finish_reason: None,
                }),
                None,
            ),
            (
                writer.finish("stop"),
                Some(ChunkChoice {
                    index: 0,
                    delta: Delta::default(),
                    finish_reason: Some("stop"),
                }),
                None,
            ),
            (writer.usage(&usage), None, Some(UsageOut::from(&usage))),
        ];
        for (frame, choice, usage) in frames {
            let json = frame
                .strip_prefix(b"data: ")
                .and_then(|rest| rest.strip_suffix(b"\n\n"))
                .expect("one SSE data frame");
            let seen: serde_json::Value = serde_json::from_slice(json).unwrap();
            let whole = Chunk {
                id: seen["id"].as_str().unwrap(),
                object: "chat.completion.chunk",
                created: seen["created"].as_u64().unwrap(),
                model,
                choices: choice.into_iter().collect(),
                usage,
            };
            assert_eq!(
                std::str::from_utf8(json).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
        }
    }
}
