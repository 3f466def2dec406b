//! Putting answers on the wire as Google frames them, piece by piece.
//!
//! - `alt=sse`: `data: <json>\r\n\r\n` per chunk (CRLF, as reported from Google);
//! - `streamGenerateContent` without `alt`: one JSON array, sent element by
//!   element (`[{…}` `,\r\n{…}` … `]`);
//! - `generateContent`: one JSON document.
//!
//! The pieces go out through mock-kit's paced body, really streamed.

use bytes::Bytes;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    JsonArray,
    Json,
}

impl Framing {
    pub fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::JsonArray | Framing::Json => "application/json; charset=UTF-8",
        }
    }
}

/// How a streamed answer ends.
#[derive(Debug, Clone)]
pub enum Ending {
    Complete,
    /// An `{"error":…}` element (its `error` object given), then the end.
    Error(Value),
    /// The error object as raw, pretty-printed JSON lines without `data:`
    /// (as Google writes some errors mid-stream), then the end.
    RawError(Value),
    /// The connection is aborted after the pieces.
    Abort,
}

/// The pieces of a streamed answer (SSE or JSON array).
pub fn stream_pieces(framing: Framing, chunks: &[Value], ending: &Ending) -> Vec<Bytes> {
    let error = match ending {
        Ending::Error(error) | Ending::RawError(error) => {
            Some(serde_json::json!({ "error": error }))
        }
        _ => None,
    };
    if let (Framing::Sse, Ending::RawError(_), Some(error)) = (framing, ending, &error) {
        let mut pieces: Vec<Bytes> = chunks
            .iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\r\n\r\n")))
            .collect();
        let pretty = serde_json::to_string_pretty(error).unwrap_or_default();
        pieces.push(Bytes::from(pretty.replace('\n', "\r\n") + "\r\n"));
        return pieces;
    }
    let elements: Vec<&Value> = chunks.iter().chain(error.iter()).collect();
    match framing {
        Framing::Sse => elements
            .iter()
            .map(|element| Bytes::from(format!("data: {element}\r\n\r\n")))
            .collect(),
        Framing::JsonArray | Framing::Json => {
            let mut pieces: Vec<String> = elements
                .iter()
                .enumerate()
                .map(|(index, element)| {
                    let separator = if index == 0 { "[" } else { ",\r\n" };
                    format!("{separator}{element}")
                })
                .collect();
            if !matches!(ending, Ending::Abort) {
                match pieces.last_mut() {
                    Some(last) => last.push(']'),
                    None => pieces.push("[]".into()),
                }
            }
            pieces.into_iter().map(Bytes::from).collect()
        }
    }
}

/// A whole JSON document, cut in two when the answer is held or cut off.
pub fn document_pieces(document: &Value, split: bool) -> Vec<Bytes> {
    let text = document.to_string();
    if !split {
        return vec![Bytes::from(text)];
    }
    let middle = (1..=text.len() / 2)
        .rev()
        .find(|at| text.is_char_boundary(*at))
        .unwrap_or(0);
    vec![
        Bytes::copy_from_slice(&text.as_bytes()[..middle]),
        Bytes::copy_from_slice(&text.as_bytes()[middle..]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(pieces: &[Bytes]) -> Vec<String> {
        pieces
            .iter()
            .map(|p| String::from_utf8(p.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn sse_is_crlf_framed() {
        let chunks = [json!({"a": 1}), json!({"b": 2})];
        assert_eq!(
            text(&stream_pieces(Framing::Sse, &chunks, &Ending::Complete)),
            ["data: {\"a\":1}\r\n\r\n", "data: {\"b\":2}\r\n\r\n"]
        );
        let error =
            json!({"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"});
        assert_eq!(
            text(&stream_pieces(
                Framing::Sse,
                &chunks[..1],
                &Ending::Error(error)
            ))[1],
            "data: {\"error\":{\"code\":500,\"message\":\"Internal error encountered.\",\"status\":\"INTERNAL\"}}\r\n\r\n"
        );
    }

    #[test]
    fn json_arrays_are_sent_element_by_element() {
        let chunks = [json!({"a": 1}), json!({"b": 2})];
        let pieces = text(&stream_pieces(
            Framing::JsonArray,
            &chunks,
            &Ending::Complete,
        ));
        assert_eq!(pieces, ["[{\"a\":1}", ",\r\n{\"b\":2}]"]);
        let whole: Value = serde_json::from_str(&pieces.concat()).unwrap();
        assert_eq!(whole, json!([{"a": 1}, {"b": 2}]));
        let cut = text(&stream_pieces(Framing::JsonArray, &chunks, &Ending::Abort));
        assert_eq!(cut.concat(), "[{\"a\":1},\r\n{\"b\":2}");
    }

    #[test]
    fn documents_split_at_a_character_boundary() {
        let document = json!({"text": "ééééé"});
        let pieces = document_pieces(&document, true);
        assert_eq!(pieces.len(), 2);
        assert!(std::str::from_utf8(&pieces[0]).is_ok());
        assert_eq!(
            [pieces[0].to_vec(), pieces[1].to_vec()].concat(),
            document.to_string().into_bytes()
        );
    }
}
