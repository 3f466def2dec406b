//! The parts inside a frame: answer snapshots, in-band status blocks, and
//! bookkeeping the client ignores.
//!
//! A frame is a list of parts. The interesting ones are
//! `["wrb.fr", rpcid, "<inner JSON>", null, null, <status>]`: either element 2
//! holds the inner response (encoded a second time as a JSON string), or
//! element 5 holds a status block, which carries an error code at
//! `[2][0][1][0]` (the `BardErrorInfo` wrapper).

use serde_json::Value;

use crate::json_path::at;

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A cumulative snapshot of the answer: the decoded inner response.
    Snapshot(Value),
    /// An in-band error code (HTTP was 200).
    ErrorCode(i64),
    /// A bare status without an error code that reports the request as refused.
    Rejected(i64),
    /// A status without an error code: the request waits in a queue.
    Queueing,
    /// A `wrb.fr` part whose inner text is not JSON.
    Unreadable,
    /// Bookkeeping (`di`, `af.httprm`, `e`) or anything unknown.
    Ignored,
}

/// The parts of one frame, in order.
pub fn parts(frame: &Value) -> Vec<Part> {
    match frame {
        Value::Array(parts) => parts.iter().map(classify).collect(),
        _ => vec![Part::Ignored],
    }
}

fn classify(part: &Value) -> Part {
    if at(part, &[0]).and_then(Value::as_str) != Some("wrb.fr") {
        return Part::Ignored;
    }
    if let Some(inner) = at(part, &[2]).and_then(Value::as_str) {
        return match serde_json::from_str(inner) {
            Ok(inner) => Part::Snapshot(inner),
            Err(_) => Part::Unreadable,
        };
    }
    let Some(status) = at(part, &[5]).and_then(Value::as_array) else {
        return Part::Ignored;
    };
    if status.is_empty() {
        return Part::Ignored;
    }
    if let Some(code) = at(part, &[5, 2, 0, 1, 0]).and_then(Value::as_i64) {
        return Part::ErrorCode(code);
    }
    match status.first().and_then(Value::as_i64) {
        Some(code) if is_rejection(code) => Part::Rejected(code),
        _ => Part::Queueing,
    }
}

/// UNCONFIRMED: a bare `[7]` status is reported (by a third-party write-up
/// only) to mean "request rejected, usually expired cookies". The reference
/// library would read it as queueing.
fn is_rejection(status: i64) -> bool {
    status == 7
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::FrameParser;
    use crate::framing::tests::{ERROR_1037, HELLO};
    use serde_json::json;

    fn all_parts(body: &str) -> Vec<Part> {
        let mut parser = FrameParser::new();
        let mut frames = parser.push(body.as_bytes()).unwrap();
        frames.extend(parser.finish().unwrap());
        frames.iter().flat_map(parts).collect()
    }

    #[test]
    fn snapshots_and_bookkeeping() {
        let parts = all_parts(HELLO);
        assert_eq!(parts.len(), 6);
        assert!(matches!(parts[0], Part::Snapshot(_)));
        assert!(matches!(parts[2], Part::Snapshot(_)));
        assert_eq!(parts[3..], [Part::Ignored, Part::Ignored, Part::Ignored]);
        let Part::Snapshot(inner) = &parts[2] else {
            unreachable!()
        };
        assert_eq!(inner[25], "!CtxTokenSynthetic01");
    }

    #[test]
    fn error_codes_are_read_from_the_status_block() {
        assert_eq!(all_parts(ERROR_1037)[0], Part::ErrorCode(1037));
    }

    #[test]
    fn queueing_and_rejection() {
        assert_eq!(
            parts(&json!([["wrb.fr", null, null, null, null, [1]]])),
            [Part::Queueing]
        );
        assert_eq!(
            parts(&json!([["wrb.fr", null, null, null, null, [7]]])),
            [Part::Rejected(7)]
        );
        assert_eq!(
            parts(&json!([["wrb.fr", null, "not json"]])),
            [Part::Unreadable]
        );
        assert_eq!(parts(&json!([["wrb.fr", null, null]])), [Part::Ignored]);
    }
}
