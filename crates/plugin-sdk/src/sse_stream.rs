//! Server-Sent Events read from a response body as they arrive: the
//! [`SseParser`](crate::sse::SseParser) fed from the network, one event at a
//! time, so a plugin's completion yields each piece as soon as it is in.

use crate::http::HttpError;
use crate::sse::{SseEvent, SseParser};

/// A body that arrives in pieces: the SDK's one body trait, under the name
/// the SSE readers have always used.
pub use crate::http::Body as ChunkSource;

/// Pieces given up front, for tests.
impl ChunkSource for std::collections::VecDeque<Result<Vec<u8>, HttpError>> {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.pop_front().transpose()
    }
}

/// The events of an SSE body.
pub struct SseStream<S> {
    /// `None` once the body ended or broke.
    source: Option<S>,
    parser: SseParser,
}

impl<S: ChunkSource> SseStream<S> {
    pub fn new(source: S) -> Self {
        SseStream {
            source: Some(source),
            parser: SseParser::new(),
        }
    }

    /// The next event, reading the body as needed; `None` once the body has
    /// ended (an event not followed by a blank line at the end still counts).
    /// A broken body is reported once, after the events that came before it.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, HttpError> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Ok(Some(event));
            }
            let Some(source) = self.source.as_mut() else {
                return Ok(None);
            };
            match source.next_chunk() {
                Ok(Some(bytes)) => self.parser.feed(&bytes),
                Ok(None) => {
                    self.source = None;
                    return Ok(self.parser.finish());
                }
                Err(err) => {
                    self.source = None;
                    return Err(err);
                }
            }
        }
    }

    /// Every event complete so far, reading only when there is none (so a
    /// whole read's worth at once, for a completion that hands events over
    /// in batches); empty once the body has ended. A broken body is reported
    /// once, after the events before it.
    pub fn next_events(&mut self) -> Result<Vec<SseEvent>, HttpError> {
        let mut events = Vec::new();
        loop {
            events.extend(std::iter::from_fn(|| self.parser.next_event()));
            let Some(source) = self.source.as_mut() else {
                return Ok(events);
            };
            if !events.is_empty() {
                return Ok(events);
            }
            match source.next_chunk() {
                Ok(Some(bytes)) => self.parser.feed(&bytes),
                Ok(None) => {
                    self.source = None;
                    events.extend(self.parser.finish());
                }
                Err(err) => {
                    self.source = None;
                    return Err(err);
                }
            }
        }
    }

    /// Stops reading (the body is dropped, so a lingering connection is not
    /// waited on).
    pub fn close(&mut self) {
        self.source = None;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn stream(
        pieces: &[Result<&str, HttpError>],
    ) -> SseStream<VecDeque<Result<Vec<u8>, HttpError>>> {
        SseStream::new(
            pieces
                .iter()
                .map(|p| p.clone().map(|s| s.as_bytes().to_vec()))
                .collect(),
        )
    }

    fn data(stream: &mut SseStream<VecDeque<Result<Vec<u8>, HttpError>>>) -> Vec<String> {
        std::iter::from_fn(|| stream.next_event().unwrap().map(|e| e.data)).collect()
    }

    #[test]
    fn events_split_across_reads_are_joined() {
        let mut s = stream(&[Ok("data: {\"a\""), Ok(":1}\n\nda"), Ok("ta: [DONE]\n\n")]);
        assert_eq!(data(&mut s), ["{\"a\":1}", "[DONE]"]);
        assert_eq!(s.next_event().unwrap(), None, "stays ended");
    }

    #[test]
    fn a_last_event_without_its_blank_line_counts() {
        let mut s = stream(&[Ok("data: one\n\ndata: two")]);
        assert_eq!(data(&mut s), ["one", "two"]);
    }

    #[test]
    fn a_broken_body_is_reported_after_the_events_before_it() {
        let mut s = stream(&[
            Ok("data: one\n\n"),
            Err(HttpError::Protocol("reset".into())),
            Ok("data: never\n\n"),
        ]);
        assert_eq!(s.next_event().unwrap().unwrap().data, "one");
        assert_eq!(s.next_event(), Err(HttpError::Protocol("reset".into())));
        assert_eq!(s.next_event(), Ok(None), "nothing is read after a break");
    }

    #[test]
    fn next_events_hands_over_a_whole_read_at_once() {
        let mut s = stream(&[
            Ok("data: one\n\ndata: tw"),
            Ok("o\n\ndata: three\n\n"),
            Ok("data: four"),
            Err(HttpError::Protocol("reset".into())),
        ]);
        let mut batch = || -> Result<Vec<String>, HttpError> {
            Ok(s.next_events()?.into_iter().map(|e| e.data).collect())
        };
        assert_eq!(batch().unwrap(), ["one"]);
        assert_eq!(batch().unwrap(), ["two", "three"]);
        // "four" never got its blank line: the break comes instead.
        assert_eq!(batch(), Err(HttpError::Protocol("reset".into())));
        assert_eq!(batch().unwrap(), Vec::<String>::new(), "ended");

        let mut s = stream(&[Ok("data: last")]);
        assert_eq!(s.next_events().unwrap()[0].data, "last");
        assert!(s.next_events().unwrap().is_empty());
    }

    #[test]
    fn close_stops_reading() {
        let mut s = stream(&[Ok("data: one\n\n"), Ok("data: two\n\n")]);
        assert_eq!(s.next_event().unwrap().unwrap().data, "one");
        s.close();
        assert_eq!(s.next_event(), Ok(None));
    }
}
