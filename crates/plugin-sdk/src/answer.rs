//! A completion fed by an SSE body: events are decoded as the host pulls
//! them, so the caller sees each piece as soon as the upstream sent it. The
//! protocol lives in an [`SseDecoder`]; the reading and the mapping of a
//! broken body to a typed error live here, the queueing in [`Pump`].

use crate::http::HttpError;
use crate::pump::{Producer, Pump, Step};
use crate::sse::SseEvent;
use crate::sse_stream::{ChunkSource, SseStream};
use crate::{Event, ProviderError};

/// One upstream protocol's SSE events, as [`Event`]s.
pub trait SseDecoder {
    /// Decodes one event into `out`; `Ok(true)` once the answer is complete
    /// (the rest of the body is then not read).
    fn event(&mut self, event: &SseEvent, out: &mut Vec<Event>) -> Result<bool, ProviderError>;

    /// At the end (complete, or the body ended): the last events, or the
    /// error of an answer cut short.
    fn end(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError>;
}

/// An answer in progress, or one decoded already.
pub type SseAnswer<S, D> = Pump<SseReader<S, D>>;

/// Reads an SSE body one event at a time through its decoder.
pub struct SseReader<S, D> {
    stream: SseStream<S>,
    decoder: D,
}

/// An SSE body to decode as it streams in.
pub fn streaming<S: ChunkSource, D: SseDecoder>(body: S, decoder: D) -> SseAnswer<S, D> {
    Pump::new(SseReader {
        stream: SseStream::new(body),
        decoder,
    })
}

/// Events decoded already (a non-streamed answer).
pub fn complete<S: ChunkSource, D: SseDecoder>(events: Vec<Event>) -> SseAnswer<S, D> {
    Pump::starting_with(events, None)
}

impl<S: ChunkSource, D: SseDecoder> Producer for SseReader<S, D> {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        match self.stream.next_event().map_err(broken)? {
            Some(event) => match self.decoder.event(&event, out)? {
                false => Ok(Step::More),
                true => {
                    self.decoder.end(out)?;
                    Ok(Step::Done)
                }
            },
            None => {
                self.decoder.end(out)?;
                Ok(Step::Done)
            }
        }
    }
}

/// A body that broke mid-answer, as a typed error.
pub fn broken(err: HttpError) -> ProviderError {
    match err {
        HttpError::Timeout(_) => {
            ProviderError::Timeout(format!("the upstream stalled mid-answer: {err}"))
        }
        other => ProviderError::upstream(0, format!("the upstream answer broke off: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// `data: <text>` is text, `data: end` completes, a cut body is an error.
    struct Lines {
        done: bool,
    }

    impl SseDecoder for Lines {
        fn event(&mut self, event: &SseEvent, out: &mut Vec<Event>) -> Result<bool, ProviderError> {
            if event.data == "bad" {
                return Err(ProviderError::BadRequest("bad".into()));
            }
            self.done = event.data == "end";
            if !self.done {
                out.push(Event::Text(event.data.clone()));
            }
            Ok(self.done)
        }

        fn end(&mut self, _out: &mut Vec<Event>) -> Result<(), ProviderError> {
            match self.done {
                true => Ok(()),
                false => Err(ProviderError::upstream(0, "cut")),
            }
        }
    }

    type Body = VecDeque<Result<Vec<u8>, HttpError>>;

    fn answer(pieces: &[Result<&str, HttpError>]) -> SseAnswer<Body, Lines> {
        let body = pieces
            .iter()
            .map(|p| p.clone().map(|s| s.as_bytes().to_vec()));
        streaming(body.collect::<Body>(), Lines { done: false })
    }

    fn drain(answer: &SseAnswer<Body, Lines>) -> (Vec<String>, Option<ProviderError>) {
        let mut texts = Vec::new();
        loop {
            match answer.next_event() {
                Ok(Some(Event::Text(text))) => texts.push(text),
                Ok(Some(other)) => panic!("{other:?}"),
                Ok(None) => return (texts, None),
                Err(err) => return (texts, Some(err)),
            }
        }
    }

    #[test]
    fn a_complete_answer_stops_reading() {
        let (texts, err) = drain(&answer(&[
            Ok("data: a\n\ndata: b\n\n"),
            Ok("data: end\n\n"),
            Err(HttpError::Protocol("never read".into())),
        ]));
        assert_eq!(texts, ["a", "b"]);
        assert!(err.is_none(), "{err:?}");
    }

    #[test]
    fn a_cut_answer_fails_after_its_events() {
        let (texts, err) = drain(&answer(&[Ok("data: a\n\n")]));
        assert_eq!(texts, ["a"]);
        assert!(matches!(err, Some(ProviderError::Upstream(ref f)) if f.message == "cut"));
    }

    #[test]
    fn a_broken_body_is_an_upstream_error_or_a_timeout() {
        let (texts, err) = drain(&answer(&[
            Ok("data: a\n\n"),
            Err(HttpError::Protocol("reset".into())),
        ]));
        assert_eq!(texts, ["a"]);
        assert!(matches!(err, Some(ProviderError::Upstream(ref f)) if f.status == 0));
        let (_, err) = drain(&answer(&[Err(HttpError::Timeout("idle".into()))]));
        assert!(matches!(err, Some(ProviderError::Timeout(_))));
    }

    #[test]
    fn a_decoding_error_ends_the_answer() {
        let answer = answer(&[Ok("data: a\n\ndata: bad\n\ndata: c\n\n")]);
        let (texts, err) = drain(&answer);
        assert_eq!(texts, ["a"]);
        assert!(matches!(err, Some(ProviderError::BadRequest(_))));
        assert!(matches!(answer.next_event(), Ok(None)), "and stays ended");
    }

    #[test]
    fn a_complete_answer_yields_its_events() {
        let answer: SseAnswer<Body, Lines> = complete(vec![Event::Text("x".into())]);
        let (texts, err) = drain(&answer);
        assert_eq!(texts, ["x"]);
        assert!(err.is_none(), "{err:?}");
    }
}
