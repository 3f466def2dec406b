//! The upstream's response framing and the JSON shapes inside it, written
//! from `docs/protocols/gemini-web.md`, "Response framing" (independently of
//! the plugin's parser).
//!
//! Body: `)]}'\n\n`, then frames `<len>\n<json>\n` where `len` is the UTF-16
//! length of the JSON text plus 2 (both newlines).

use serde_json::{Value, json};

pub const PREFIX: &str = ")]}'\n\n";
pub const ERROR_INFO_TYPE: &str =
    "type.googleapis.com/assistant.boq.bard.application.BardErrorInfo";

/// One frame around a JSON value, as the upstream writes it.
pub fn frame(value: &Value) -> String {
    let text = value.to_string();
    let units: usize = text.chars().map(char::len_utf16).sum();
    format!("{}\n{}\n", units + 2, text)
}

/// What a mock answer candidate holds.
#[derive(Debug, Clone, Default)]
pub struct CandidateSpec {
    pub rcid: String,
    /// Already HTML-escaped, as the upstream sends it.
    pub text: String,
    pub complete: bool,
    pub thoughts: Option<String>,
    /// `(url, alt, image id)` of generated images.
    pub images: Vec<(String, String, String)>,
    /// Read-chat only: the turn is still being generated.
    pub generating: bool,
    /// Images in the sparse field `[12][0]["8"]` (image edits) instead of `[12][7]`.
    pub sparse_images: bool,
}

/// A candidate, padded so that slot 37 exists.
pub fn candidate(spec: &CandidateSpec) -> Value {
    let mut slots = vec![Value::Null; 38];
    slots[0] = json!(spec.rcid);
    slots[1] = json!([spec.text]);
    slots[8] = json!([if spec.complete { 2 } else { 1 }]);
    if !spec.images.is_empty() || spec.generating {
        let mut media = vec![Value::Null; 8];
        if spec.generating {
            media[6] = json!([1]);
        }
        if !spec.images.is_empty() {
            let images: Vec<Value> = spec
                .images
                .iter()
                .map(|(url, alt, id)| json!([[null, null, null, [null, null, alt, url]], [id]]))
                .collect();
            if spec.sparse_images {
                media[0] = json!({"8": [images]});
            } else {
                media[7] = json!([images]);
            }
        }
        slots[12] = Value::Array(media);
    }
    if let Some(thoughts) = &spec.thoughts {
        slots[37] = json!([[thoughts]]);
    }
    Value::Array(slots)
}

/// The inner response of a snapshot, padded so that slot 25 exists.
pub fn inner(cid: &str, rid: &str, candidate: Value, context: Option<&str>) -> Value {
    let mut slots = vec![Value::Null; 26];
    slots[1] = json!([cid, rid]);
    slots[4] = json!([candidate]);
    if let Some(context) = context {
        slots[25] = json!(context);
    }
    Value::Array(slots)
}

/// A StreamGenerate snapshot frame: the inner response encoded as a string.
pub fn snapshot_frame(inner: &Value) -> String {
    frame(&json!([["wrb.fr", null, inner.to_string()]]))
}

/// An in-band error: HTTP 200, code inside the `BardErrorInfo` wrapper.
pub fn error_frame(code: i64) -> String {
    frame(&json!([[
        "wrb.fr",
        null,
        null,
        null,
        null,
        [4, null, [[ERROR_INFO_TYPE, [code]]]]
    ]]))
}

/// A status block without an error code (`[1]` queueing, `[7]` rejected).
pub fn status_frame(status: i64) -> String {
    frame(&json!([["wrb.fr", null, null, null, null, [status]]]))
}

/// The bookkeeping that ends every stream.
pub fn trailer_frames() -> String {
    let mut out = frame(&json!([
        ["di", 57],
        ["af.httprm", 56, "-1234567890123456789", 12]
    ]));
    out.push_str(&frame(&json!([["e", 5, null, null, 1234]])));
    out
}

/// A batchexecute answer part.
pub fn rpc_frame(rpcid: &str, payload: &Value) -> String {
    frame(&json!([[
        "wrb.fr",
        rpcid,
        payload.to_string(),
        null,
        null,
        null,
        "generic"
    ]]))
}

/// The text escaped the way the upstream escapes answers.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cut points that grow a text over `count` snapshots (char boundaries of
/// the escaped text, so a snapshot may end inside an entity).
pub fn growth(text: &str, count: usize) -> Vec<usize> {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let count = count.max(1);
    (1..=count)
        .map(|k| boundaries[(boundaries.len() - 1) * k / count])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_the_documented_example() {
        // `docs/protocols/gemini-web.md`, "Response framing": a 1037 error
        // frame is 121 long, the bookkeeping frames 56 and 26.
        assert!(error_frame(1037).starts_with("121\n"));
        let trailer = trailer_frames();
        assert!(trailer.starts_with("56\n"));
        assert!(trailer.contains("\n26\n"));
        // Astral characters count two units.
        assert_eq!(frame(&json!(["👋"])), "8\n[\"👋\"]\n");
    }

    #[test]
    fn the_reference_snapshot_has_its_documented_length() {
        let spec = CandidateSpec {
            rcid: "rc_a1b2c3d4e5f60718".into(),
            text: "Hello, world! 👋".into(),
            complete: true,
            thoughts: Some("**Planning** the greeting".into()),
            ..CandidateSpec::default()
        };
        let inner = inner(
            "c_3f9a1b2c4d5e6f70",
            "r_8e7d6c5b4a392817",
            candidate(&spec),
            Some("!CtxTokenSynthetic01"),
        );
        assert!(snapshot_frame(&inner).starts_with("470\n"));
    }

    #[test]
    fn growth_ends_with_the_whole_text() {
        let cuts = growth("ab&amp;cd", 3);
        assert_eq!(cuts, [3, 6, 9]);
        assert_eq!(growth("", 3), [0, 0, 0]);
    }
}
