//! From response bytes to answer events: frames → parts → snapshots → deltas,
//! with the in-band failures turned into typed errors.
//!
//! Pure, so the whole StreamGenerate reading path is tested natively on split
//! inputs; the wasm glue only moves bytes in and events out.

use serde_json::Value;
use wasmgate_plugin_sdk::{Event, ProviderError};

use crate::delta::DeltaTracker;
use crate::envelope::{Part, parts};
use crate::failures::{InBand, classify_code, in_band_error};
use crate::framing::FrameParser;
use crate::snapshot::{self, Candidate, GeneratedImage};

pub struct Assembler {
    parser: FrameParser,
    text: DeltaTracker,
    thoughts: DeltaTracker,
    complete: bool,
    produced: bool,
    /// The failure so far is passing and came before any output: the
    /// request may be sent again.
    retryable: bool,
    /// The conversation id once a snapshot carried the context token (the
    /// turn is saved upstream and can be read back).
    persisted: Option<String>,
    candidate_id: Option<String>,
    /// `[cid, rid]` of the reply, for the full-size image call.
    reply: Option<(String, String)>,
    images: Vec<GeneratedImage>,
    account: String,
    model: String,
}

impl Assembler {
    /// `account` and `model` name the request in error messages.
    pub fn new(account: &str, model: &str) -> Self {
        Assembler {
            parser: FrameParser::new(),
            text: DeltaTracker::new(),
            thoughts: DeltaTracker::new(),
            complete: false,
            produced: false,
            retryable: false,
            persisted: None,
            candidate_id: None,
            reply: None,
            images: Vec::new(),
            account: account.to_string(),
            model: model.to_string(),
        }
    }

    /// The next bytes of the body; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Event>, ProviderError> {
        let frames = match self.parser.push(bytes) {
            Ok(frames) => frames,
            // After a complete answer the rest is bookkeeping, as at the end.
            Err(_) if self.complete => Vec::new(),
            Err(err) => return Err(malformed(err)),
        };
        self.frames(&frames)
    }

    /// The body ended cleanly: the last events, or why the answer is unusable.
    pub fn finish(&mut self) -> Result<Vec<Event>, ProviderError> {
        let events = match self.parser.finish() {
            Ok(frames) => self.frames(&frames)?,
            Err(_) if self.complete => Vec::new(),
            Err(err) => return Err(malformed(err)),
        };
        self.check_usable()?;
        Ok(events)
    }

    /// The connection broke: fine if the answer was already complete.
    pub fn broken(&mut self, error: ProviderError) -> Result<(), ProviderError> {
        if self.complete {
            return Ok(());
        }
        self.retryable = !self.produced;
        Err(error)
    }

    /// Whether the failure just reported (1013, or a stream that ended or
    /// broke before any output) may be retried with a fresh session.
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    /// The answer is complete; later frames are bookkeeping (or an error
    /// code after success, which is ignored).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Images of the complete answer.
    pub fn images(&self) -> &[GeneratedImage] {
        &self.images
    }

    fn frames(&mut self, frames: &[Value]) -> Result<Vec<Event>, ProviderError> {
        // The events of this call reach the caller only if it succeeds: on
        // an error, output counts as produced only if an earlier call
        // handed some out (else a failure read together with the first
        // text would not be retried, though the client saw nothing).
        let delivered = self.produced;
        let mut events = Vec::new();
        for frame in frames {
            for part in parts(frame) {
                if self.complete {
                    continue;
                }
                match part {
                    Part::Snapshot(inner) => self.snapshot(&inner, &mut events),
                    Part::ErrorCode(code) => {
                        let kind = classify_code(code);
                        self.produced = delivered;
                        self.retryable = matches!(kind, InBand::Transient(_)) && !delivered;
                        return Err(self.in_band(kind));
                    }
                    Part::Rejected(_) => {
                        self.produced = delivered;
                        return Err(self.in_band(InBand::Rejected));
                    }
                    Part::Queueing | Part::Unreadable | Part::Ignored => {}
                }
            }
        }
        Ok(events)
    }

    /// The conversation to read the answer back from, when the stream ended
    /// early but the turn was saved upstream.
    pub fn recoverable(&self) -> Option<&str> {
        if self.complete {
            return None;
        }
        self.persisted.as_deref()
    }

    pub fn candidate_id(&self) -> Option<&str> {
        self.candidate_id.as_deref()
    }

    /// `(cid, rid, rcid)` of the reply, once the stream named them.
    pub fn reply_ids(&self) -> Option<(String, String, String)> {
        let (cid, rid) = self.reply.clone()?;
        Some((cid, rid, self.candidate_id.clone()?))
    }

    /// A candidate read back from the chat: its events if it is complete.
    pub fn recovered(&mut self, candidate: Candidate) -> Option<Vec<Event>> {
        if !candidate.complete {
            return None;
        }
        let mut events = Vec::new();
        self.apply(candidate, &mut events);
        Some(events)
    }

    fn snapshot(&mut self, inner: &Value, events: &mut Vec<Event>) {
        let snapshot = snapshot::read(inner);
        if snapshot.context_token.is_some() {
            self.persisted = snapshot.conversation_id.clone();
        }
        if let (Some(cid), Some(rid)) = (&snapshot.conversation_id, &snapshot.reply_id) {
            self.reply = Some((cid.clone(), rid.clone()));
        }
        let Some(candidate) = snapshot.candidate else {
            return;
        };
        if candidate.id.is_some() {
            self.candidate_id = candidate.id.clone();
        }
        self.apply(candidate, events);
    }

    fn apply(&mut self, candidate: Candidate, events: &mut Vec<Event>) {
        if let Some(thoughts) = &candidate.thoughts
            && let Some(delta) = self.thoughts.update(thoughts, candidate.complete)
        {
            events.push(Event::Reasoning(delta));
        }
        if let Some(delta) = self.text.update(&candidate.text, candidate.complete) {
            events.push(Event::Text(delta));
        }
        self.produced |= !events.is_empty();
        if candidate.complete {
            self.complete = true;
            self.images = candidate.images;
        }
    }

    fn in_band(&self, kind: InBand) -> ProviderError {
        in_band_error(kind, &self.account, &self.model)
    }

    fn check_usable(&mut self) -> Result<(), ProviderError> {
        if !self.complete {
            self.retryable = !self.produced;
            let message = if self.produced {
                "the answer stream ended before Gemini finished the answer"
            } else {
                "Gemini ended the stream without an answer"
            };
            return Err(ProviderError::upstream(0, message));
        }
        let empty = self.text.sent().trim().is_empty()
            && self.thoughts.sent().is_empty()
            && self.images.is_empty();
        if empty {
            return Err(ProviderError::upstream(
                0,
                "Gemini returned an empty answer",
            ));
        }
        Ok(())
    }
}

fn malformed(err: crate::framing::FrameError) -> ProviderError {
    ProviderError::upstream(0, format!("unreadable StreamGenerate answer: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::tests::{ERROR_1037, HELLO};
    use mock_gemini_web::frames::{self, CandidateSpec, error_frame, frame};
    use serde_json::json;

    fn text_of(events: &[Event]) -> (String, String) {
        let mut text = String::new();
        let mut reasoning = String::new();
        for event in events {
            match event {
                Event::Text(t) => text.push_str(t),
                Event::Reasoning(r) => reasoning.push_str(r),
                _ => {}
            }
        }
        (text, reasoning)
    }

    /// Events as comparable text (the WIT types have no `PartialEq`).
    fn describe(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|event| match event {
                Event::Text(t) => format!("text:{t}"),
                Event::Reasoning(r) => format!("reasoning:{r}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn run(body: &[u8], cuts: &[usize]) -> Result<Vec<Event>, ProviderError> {
        let mut assembler = Assembler::new("acct", "gemini-3-pro");
        let mut events = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([body.len()].iter()) {
            events.extend(assembler.push(&body[last..cut])?);
            last = cut;
        }
        events.extend(assembler.finish()?);
        Ok(events)
    }

    fn candidate(text: &str, complete: bool) -> CandidateSpec {
        CandidateSpec {
            rcid: "rc_1".into(),
            text: text.into(),
            complete,
            ..CandidateSpec::default()
        }
    }

    fn snapshot_frame(candidate: CandidateSpec) -> String {
        let candidate = frames::candidate(&candidate);
        frames::snapshot_frame(&frames::inner("c_1", "r_1", candidate, None))
    }

    #[test]
    fn the_reference_stream_yields_deltas_that_join_to_the_final_text() {
        let events = run(HELLO.as_bytes(), &[]).unwrap();
        assert_eq!(
            describe(&events),
            [
                "reasoning:**Planning** the greeting",
                "text:Hel",
                "text:lo, wor",
                "text:ld! 👋",
            ]
        );
    }

    #[test]
    fn any_split_gives_the_same_text() {
        let body = HELLO.as_bytes();
        let whole = text_of(&run(body, &[]).unwrap());
        for cut in 0..body.len() {
            assert_eq!(text_of(&run(body, &[cut]).unwrap()), whole, "cut {cut}");
        }
        let every: Vec<usize> = (1..body.len()).collect();
        assert_eq!(text_of(&run(body, &every).unwrap()), whole);
    }

    #[test]
    fn escaped_multibyte_snapshots_stream_to_the_unescaped_text() {
        let answer = "Fish & chips <3 — 你好 𠜎𠜱 👋🏽 \"quoted\" it's";
        let escaped = answer
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        let chars: Vec<usize> = escaped.char_indices().map(|(i, _)| i).collect();
        let mut body = String::from(")]}'\n\n");
        for cut in chars.iter().step_by(3) {
            body.push_str(&snapshot_frame(candidate(&escaped[..*cut], false)));
        }
        body.push_str(&snapshot_frame(candidate(&escaped, true)));
        body.push_str(&frame(&json!([["di", 57], ["af.httprm", 56, "-1", 12]])));
        let bytes = body.as_bytes();
        let inside_chars: Vec<usize> = (1..bytes.len())
            .filter(|&i| bytes[i] & 0xC0 == 0x80)
            .collect();
        let (text, _) = text_of(&run(bytes, &inside_chars).unwrap());
        assert_eq!(text, answer);
    }

    #[test]
    fn in_band_codes_are_typed_errors() {
        assert!(matches!(
            run(ERROR_1037.as_bytes(), &[]),
            Err(ProviderError::QuotaExhausted(_))
        ));
        let body = format!(")]}}'\n\n{}", error_frame(1060));
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::RateLimited(_))
        ));
        let body = format!(")]}}'\n\n{}", error_frame(1050));
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::ModelNotFound(_))
        ));
        let body = format!(")]}}'\n\n{}", error_frame(1052));
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::Upstream(_))
        ));
        let body = format!(")]}}'\n\n{}", error_frame(1013));
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::Upstream(_))
        ));
        let rejected = frame(&json!([["wrb.fr", null, null, null, null, [7]]]));
        let body = format!(")]}}'\n\n{rejected}");
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::Unauthorized(_))
        ));
    }

    /// Found writing the split property of `tests/fuzz_stream.rs`: text and
    /// a transient code (1013) in one read gave a non-retryable error, though
    /// the text was never handed out; in two reads the same bytes give the
    /// text, then the error.
    #[test]
    fn a_transient_code_read_with_the_first_text_is_retryable() {
        let body = format!(
            ")]}}'\n\n{}{}",
            snapshot_frame(candidate("Hel", false)),
            error_frame(1013)
        );
        let mut assembler = Assembler::new("acct", "gemini-3-pro");
        assert!(assembler.push(body.as_bytes()).is_err());
        assert!(assembler.retryable());

        let cut = body.find(&error_frame(1013)).unwrap();
        let mut assembler = Assembler::new("acct", "gemini-3-pro");
        let events = assembler.push(&body.as_bytes()[..cut]).unwrap();
        assert_eq!(describe(&events), ["text:Hel"]);
        assert!(assembler.push(&body.as_bytes()[cut..]).is_err());
        assert!(!assembler.retryable(), "the text was handed out");
    }

    #[test]
    fn an_error_after_a_complete_answer_is_ignored() {
        let body = format!(
            ")]}}'\n\n{}{}",
            snapshot_frame(candidate("Done.", true)),
            error_frame(1096)
        );
        assert_eq!(text_of(&run(body.as_bytes(), &[]).unwrap()).0, "Done.");
    }

    #[test]
    fn queueing_then_answer() {
        let queue = frame(&json!([["wrb.fr", null, null, null, null, [1]]]));
        let body = format!(")]}}'\n\n{queue}{}", snapshot_frame(candidate("ok", true)));
        assert_eq!(text_of(&run(body.as_bytes(), &[]).unwrap()).0, "ok");
    }

    #[test]
    fn an_unfinished_or_empty_answer_is_an_error() {
        let body = format!(")]}}'\n\n{}", snapshot_frame(candidate("partial", false)));
        let mut assembler = Assembler::new("a", "m");
        assert_eq!(
            describe(&assembler.push(body.as_bytes()).unwrap()),
            ["text:partial"]
        );
        assert!(matches!(
            assembler.finish(),
            Err(ProviderError::Upstream(_))
        ));

        assert!(matches!(
            run(b")]}'\n\n", &[]),
            Err(ProviderError::Upstream(_))
        ));
        let body = format!(")]}}'\n\n{}", snapshot_frame(candidate("", true)));
        assert!(matches!(
            run(body.as_bytes(), &[]),
            Err(ProviderError::Upstream(_))
        ));
        assert!(matches!(
            run(b"<html>oops</html>\n", &[]),
            Err(ProviderError::Upstream(_))
        ));
    }

    #[test]
    fn a_broken_connection_matters_only_before_completion() {
        let mut assembler = Assembler::new("a", "m");
        let error = ProviderError::upstream(0, "reset");
        assert!(assembler.broken(error.clone()).is_err());
        let body = format!(")]}}'\n\n{}", snapshot_frame(candidate("ok", true)));
        assembler.push(body.as_bytes()).unwrap();
        assert!(assembler.broken(error).is_ok());
    }

    #[test]
    fn the_complete_snapshot_carries_the_images() {
        let mut c = candidate(
            "Here:\nhttp://googleusercontent.com/image_generation_content/0\n",
            true,
        );
        c.images = vec![(
            "http://m/mock-img/1=s1024-rj".into(),
            "cat".into(),
            "id0".into(),
        )];
        let body = format!(")]}}'\n\n{}", snapshot_frame(c));
        let mut assembler = Assembler::new("a", "m");
        let events = assembler.push(body.as_bytes()).unwrap();
        assert_eq!(describe(&events), ["text:Here:\n\n"]);
        assert_eq!(assembler.images()[0].url, "http://m/mock-img/1=s1024-rj");
        assert!(assembler.finish().is_ok());
    }
}
