//! The streamed JSON array of `widgetStreamAssist`, written as the upstream
//! writes it: `[`, pretty-printed objects separated by `,` and newlines,
//! `]`, flushed element by element (or re-cut into pieces of a fixed size).

use bytes::Bytes;
use serde_json::{Value, json};

/// One element of the answer.
#[derive(Debug, Clone)]
pub struct Element {
    pub json: Value,
    /// Write non-ASCII characters as `\uXXXX` escapes (as Python clients'
    /// JSON does), to exercise escapes split across reads.
    pub ascii_escaped: bool,
}

impl Element {
    pub fn plain(json: Value) -> Self {
        Element {
            json,
            ascii_escaped: false,
        }
    }

    pub(crate) fn render(&self) -> String {
        let pretty = serde_json::to_string_pretty(&self.json).unwrap_or_default();
        if self.ascii_escaped {
            escape_non_ascii(&pretty)
        } else {
            pretty
        }
    }
}

/// `\uXXXX` (with surrogate pairs) for every non-ASCII character; valid
/// because JSON text has non-ASCII characters only inside strings.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for ch in json.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

pub fn thought(text: &str, first: bool) -> Element {
    let mut json = json!({
        "streamAssistResponse": {
            "answer": {"state": "IN_PROGRESS", "replies": [
                {"groundedContent": {"content": {"role": "model", "text": text, "thought": true}}}
            ]},
            "sessionInfo": {},
            "assistToken": "mock-assist-token"
        }
    });
    if first {
        json["uToken"] = json!("mock-utoken");
    }
    Element::plain(json)
}

pub fn text(text: &str) -> Element {
    Element::plain(json!({
        "streamAssistResponse": {"answer": {"state": "IN_PROGRESS", "replies": [
            {"groundedContent": {"content": {"role": "model", "text": text}}}
        ]}}
    }))
}

pub fn succeeded(session: &str, turn: usize, file: Option<Value>) -> Element {
    let mut answer = json!({"state": "SUCCEEDED"});
    if let Some(file) = file {
        answer["replies"] = json!([{"groundedContent": {"content": {"file": file}}}]);
    }
    Element::plain(json!({
        "streamAssistResponse": {
            "answer": answer,
            "sessionInfo": {
                "session": session,
                "queryId": format!("q-{turn:04}"),
                "turnId": format!("t-{turn:04}")
            }
        }
    }))
}

pub fn token_only() -> Element {
    Element::plain(json!({"uToken": "mock-utoken"}))
}

pub fn policy_skip() -> Element {
    Element::plain(json!({
        "streamAssistResponse": {"answer": {
            "state": "SKIPPED",
            "assistSkippedReasons": ["CUSTOMER_POLICY_VIOLATION"],
            "customerPolicyEnforcementResult": {"policyResults": [
                {"modelArmorEnforcementResult": {"modelArmorViolation": "mock violation"}}
            ]}
        }}
    }))
}

/// A non-429 error element (the forks log these and read on).
pub fn internal_error() -> Element {
    Element::plain(json!({"error": {
        "code": 500,
        "message": "Internal error encountered.",
        "status": "INTERNAL"
    }}))
}

pub fn rate_limit_error() -> Element {
    Element::plain(crate::routes::rate_limit_body())
}

/// The body's pieces: `[` with the first element, then `,\n` with each next
/// one, then `\n]` (left out when `closed` is false).
pub fn pieces(elements: &[Element], closed: bool, chunk_size: Option<usize>) -> Vec<Bytes> {
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        let separator = if i == 0 { "[" } else { ",\n" };
        pieces.push(format!("{separator}{}", element.render()).into_bytes());
    }
    if closed {
        pieces.push(if elements.is_empty() { "[]" } else { "\n]" }.into());
    }
    match chunk_size {
        Some(size) if size > 0 => pieces
            .concat()
            .chunks(size)
            .map(Bytes::copy_from_slice)
            .collect(),
        _ => pieces.into_iter().map(Bytes::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_form_one_json_array() {
        let elements = [text("Hello"), text(", wörld"), succeeded("s", 1, None)];
        let body: Vec<u8> = pieces(&elements, true, None).concat();
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 3);
        let rechunked = pieces(&elements, true, Some(1));
        assert!(rechunked.iter().all(|p| p.len() == 1));
        assert_eq!(rechunked.concat(), body);
    }

    #[test]
    fn escaped_elements_stay_equal() {
        let mut element = text("é😀\"");
        element.ascii_escaped = true;
        let rendered = element.render();
        assert!(rendered.is_ascii());
        assert!(rendered.contains("\\ud83d\\ude00"));
        let parsed: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed, element.json);
    }

    #[test]
    fn an_unclosed_body_has_no_bracket() {
        let body = pieces(&[text("a")], false, None).concat();
        assert!(!body.ends_with(b"]"));
        assert_eq!(pieces(&[], true, None).concat(), b"[]");
    }
}
