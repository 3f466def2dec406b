//! What one element of the `widgetStreamAssist` array says, and what the
//! whole answer amounted to.
//!
//! Text sits at `streamAssistResponse.answer.replies[*].groundedContent
//! .content.text` and is a delta; `thought: true` marks reasoning; `file`
//! names a generated file to download; `inlineData` (UNCONFIRMED that the
//! server sends it) carries bytes directly. A top-level `error` is a failure
//! inside a 200 answer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::errors::GoogleError;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Element {
    stream_assist_response: Option<StreamAssistResponse>,
    error: Option<GoogleError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StreamAssistResponse {
    answer: Option<AnswerBody>,
    session_info: Option<SessionInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AnswerBody {
    state: Option<String>,
    replies: Vec<Reply>,
    assist_skipped_reasons: Vec<String>,
    customer_policy_enforcement_result: Option<serde_json::Value>,
}

/// The `modelArmorViolation` details of a policy result, for the caller's
/// message (it says what in their prompt was refused).
fn armor_violations(result: &serde_json::Value) -> impl Iterator<Item = String> + '_ {
    result
        .get("policyResults")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|policy| {
            policy
                .pointer("/modelArmorEnforcementResult/modelArmorViolation")
                .and_then(serde_json::Value::as_str)
                .filter(|detail| !detail.is_empty())
                .map(|detail| {
                    format!(
                        "model armor: {}",
                        detail.chars().take(200).collect::<String>()
                    )
                })
        })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Reply {
    grounded_content: Option<GroundedContent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GroundedContent {
    content: Option<Content>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Content {
    text: Option<String>,
    thought: Option<bool>,
    file: Option<FileRef>,
    inline_data: Option<InlineData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct InlineData {
    mime_type: Option<String>,
    data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SessionInfo {
    session: Option<String>,
}

/// A generated file the answer refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileRef {
    pub file_id: String,
    pub mime_type: Option<String>,
    pub name: Option<String>,
}

impl FileRef {
    /// The seed's default when the upstream names no type.
    pub fn mime(&self) -> &str {
        self.mime_type
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or("image/png")
    }
}

/// One thing an element says, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Thought(String),
    GeneratedFile(FileRef),
    InlineImage {
        mime_type: String,
        data: Vec<u8>,
    },
    /// The session the answer belongs to (`sessionInfo.session`).
    Session(String),
    /// `state: SKIPPED`, with the reasons given.
    Skipped(Vec<String>),
    Error(GoogleError),
}

/// An element that is not valid JSON of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedElement(pub String);

/// Reads one raw element, as [`crate::array_stream::ArrayScanner`] cuts it.
///
/// The second value says whether the element carried a
/// `streamAssistResponse` (an answer made only of `uToken` elements is the
/// upstream's way of refusing the credentials).
pub fn interpret(raw: &[u8]) -> Result<(Vec<Piece>, bool), MalformedElement> {
    let element: Element = serde_json::from_slice(raw)
        .map_err(|err| MalformedElement(format!("line {}, column {}", err.line(), err.column())))?;
    let mut pieces = Vec::new();
    if let Some(error) = element.error {
        pieces.push(Piece::Error(error));
    }
    let Some(response) = element.stream_assist_response else {
        return Ok((pieces, false));
    };
    if let Some(answer) = response.answer {
        for content in answer
            .replies
            .into_iter()
            .filter_map(|reply| reply.grounded_content?.content)
        {
            if let Some(text) = content.text.filter(|t| !t.is_empty()) {
                pieces.push(if content.thought == Some(true) {
                    Piece::Thought(text)
                } else {
                    Piece::Text(text)
                });
            }
            if let Some(file) = content.file.filter(|f| !f.file_id.is_empty()) {
                pieces.push(Piece::GeneratedFile(file));
            }
            if let Some(inline) = content.inline_data {
                pieces.push(inline_image(inline)?);
            }
        }
        if answer.state.as_deref() == Some("SKIPPED") {
            let mut reasons = answer.assist_skipped_reasons;
            if let Some(result) = &answer.customer_policy_enforcement_result {
                reasons.extend(armor_violations(result));
            }
            pieces.push(Piece::Skipped(reasons));
        }
    }
    if let Some(session) = response
        .session_info
        .and_then(|info| info.session)
        .filter(|s| !s.is_empty())
    {
        pieces.push(Piece::Session(session));
    }
    Ok((pieces, true))
}

fn inline_image(inline: InlineData) -> Result<Piece, MalformedElement> {
    let data = STANDARD
        .decode(inline.data.unwrap_or_default().trim())
        .map_err(|_| MalformedElement("inlineData is not base64".into()))?;
    Ok(Piece::InlineImage {
        mime_type: inline
            .mime_type
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "image/png".into()),
        data,
    })
}

/// What the answer amounted to when the stream ends.
#[derive(Debug, Default)]
pub struct Tally {
    pub text: bool,
    pub thoughts: bool,
    pub images: bool,
    /// Some element carried a `streamAssistResponse`.
    pub responded: bool,
    /// Generated files in order, without duplicates.
    pub files: Vec<FileRef>,
    /// The latest session named by the answer.
    pub session: Option<String>,
    pub skipped: Option<Vec<String>>,
}

impl Tally {
    /// Records a generated file; false if it was already seen.
    pub fn add_file(&mut self, file: FileRef) -> bool {
        if self.files.iter().any(|seen| seen.file_id == file.file_id) {
            return false;
        }
        self.files.push(file);
        true
    }

    pub fn verdict(&self) -> Verdict {
        if self.text || self.images || !self.files.is_empty() {
            Verdict::Answered
        } else if let Some(reasons) = &self.skipped {
            Verdict::Skipped(reasons.clone())
        } else if !self.responded {
            Verdict::CredentialsRefused
        } else if self.thoughts {
            Verdict::ThoughtsOnly
        } else {
            Verdict::Empty
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Answered,
    /// A policy skip (`CUSTOMER_POLICY_VIOLATION`, …).
    Skipped(Vec<String>),
    /// Only `uToken` elements: the upstream did not take the credentials.
    CredentialsRefused,
    /// Thinking with no answer.
    ThoughtsOnly,
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(json: &str) -> Vec<Piece> {
        interpret(json.as_bytes()).unwrap().0
    }

    #[test]
    fn text_and_thoughts_are_told_apart() {
        let thought = r#"{"uToken":"u","streamAssistResponse":{"answer":{"state":"IN_PROGRESS","replies":[{"groundedContent":{"content":{"role":"model","text":"Working out…","thought":true}}}]},"sessionInfo":{}}}"#;
        assert_eq!(pieces(thought), vec![Piece::Thought("Working out…".into())]);
        let text = r#"{"streamAssistResponse":{"answer":{"replies":[{"groundedContent":{"content":{"text":"Hello"}}},{"groundedContent":{"content":{"text":", world"}}}]}}}"#;
        assert_eq!(
            pieces(text),
            vec![Piece::Text("Hello".into()), Piece::Text(", world".into())]
        );
    }

    #[test]
    fn a_generated_file_and_its_session_are_read() {
        let tail = r#"{"streamAssistResponse": {"answer": {"state": "SUCCEEDED", "replies": [
           {"groundedContent": {"content": {"file": {"fileId": "f-9a8b7c6d", "mimeType": "image/png",
                                                     "name": "generated_image_1.png"}}}}]},
          "sessionInfo": {"session": "collections/default_collection/engines/agentspace-engine/sessions/7305"}}}"#;
        assert_eq!(
            pieces(tail),
            vec![
                Piece::GeneratedFile(FileRef {
                    file_id: "f-9a8b7c6d".into(),
                    mime_type: Some("image/png".into()),
                    name: Some("generated_image_1.png".into()),
                }),
                Piece::Session(
                    "collections/default_collection/engines/agentspace-engine/sessions/7305".into()
                ),
            ]
        );
    }

    #[test]
    fn inline_images_are_decoded() {
        let inline = r#"{"streamAssistResponse":{"answer":{"replies":[{"groundedContent":{"content":{"inlineData":{"mimeType":"image/jpeg","data":"AAEC"}}}}]}}}"#;
        assert_eq!(
            pieces(inline),
            vec![Piece::InlineImage {
                mime_type: "image/jpeg".into(),
                data: vec![0, 1, 2]
            }]
        );
    }

    #[test]
    fn errors_skips_and_bare_tokens_are_recognised() {
        let error = r#"{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}"#;
        let (found, responded) = interpret(error.as_bytes()).unwrap();
        assert!(!responded);
        assert!(matches!(&found[..], [Piece::Error(e)] if e.code == Some(429)));
        let skipped = r#"{"streamAssistResponse":{"answer":{"state":"SKIPPED","assistSkippedReasons":["CUSTOMER_POLICY_VIOLATION"]}}}"#;
        assert_eq!(
            pieces(skipped),
            vec![Piece::Skipped(vec!["CUSTOMER_POLICY_VIOLATION".into()])]
        );
        assert_eq!(interpret(br#"{"uToken":"x"}"#).unwrap(), (vec![], false));
        assert!(interpret(b"{\"streamAssistResponse\": 3}").is_err());
    }

    #[test]
    fn the_verdict_follows_what_was_seen() {
        let mut tally = Tally::default();
        assert_eq!(tally.verdict(), Verdict::CredentialsRefused);
        tally.responded = true;
        assert_eq!(tally.verdict(), Verdict::Empty);
        tally.thoughts = true;
        assert_eq!(tally.verdict(), Verdict::ThoughtsOnly);
        tally.skipped = Some(vec!["X".into()]);
        assert_eq!(tally.verdict(), Verdict::Skipped(vec!["X".into()]));
        assert!(tally.add_file(FileRef {
            file_id: "f".into(),
            ..FileRef::default()
        }));
        assert!(!tally.add_file(FileRef {
            file_id: "f".into(),
            ..FileRef::default()
        }));
        assert_eq!(tally.verdict(), Verdict::Answered);
        assert_eq!(tally.files[0].mime(), "image/png");
    }
}
