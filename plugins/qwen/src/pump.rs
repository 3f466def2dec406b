//! Pulls a streamed body through the SSE parser and a site's decoder, and
//! hands out events one at a time.

use std::collections::VecDeque;

use wasmgate_plugin_sdk::sse::SseParser;
use wasmgate_plugin_sdk::{Event, ProviderError};

use crate::platform::Body;

/// Whether a decoder wants more of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    More,
    /// The answer is complete; the rest of the body is not read.
    Done,
}

/// A site's stream semantics, fed one SSE `data` payload at a time.
pub trait Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Progress, ProviderError>;
    /// The body ended before the decoder said [`Progress::Done`].
    fn end_of_stream(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError>;
}

pub struct SsePump<D> {
    body: Option<Box<dyn Body>>,
    parser: SseParser,
    pub decoder: D,
    queue: VecDeque<Event>,
    /// An error found while events were still queued: it comes after them.
    failed: Option<ProviderError>,
}

impl<D: Decoder> SsePump<D> {
    pub fn new(body: Box<dyn Body>, decoder: D) -> Self {
        SsePump {
            body: Some(body),
            parser: SseParser::new(),
            decoder,
            queue: VecDeque::new(),
            failed: None,
        }
    }

    /// Reads until there is an event to hand out, the answer failed, or the
    /// stream ended. Used before the answer is accepted, so that a refusal at
    /// the start of the stream surfaces as an error of the call.
    pub fn prime(&mut self) -> Result<(), ProviderError> {
        while self.queue.is_empty() && self.body.is_some() {
            self.read_more();
        }
        match self.failed.take() {
            Some(error) if self.queue.is_empty() => Err(error),
            failed => {
                self.failed = failed;
                Ok(())
            }
        }
    }

    /// The next event; `None` once the answer is complete.
    pub fn next_event(&mut self) -> Result<Option<Event>, ProviderError> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            if let Some(error) = self.failed.take() {
                return Err(error);
            }
            if self.body.is_none() {
                return Ok(None);
            }
            self.read_more();
        }
    }

    /// Reads one piece; a failure is kept to come after the queued events.
    fn read_more(&mut self) {
        let Some(body) = self.body.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        let outcome = match body.next_chunk() {
            Ok(Some(chunk)) => {
                self.parser.feed(&chunk);
                self.drain_events(&mut out)
            }
            Ok(None) => {
                self.body = None;
                let mut progress = Ok(Progress::More);
                if let Some(event) = self.parser.finish() {
                    progress = self.decoder.data(&event.data, &mut out);
                }
                match progress {
                    Ok(Progress::More) => self
                        .decoder
                        .end_of_stream(&mut out)
                        .map(|()| Progress::Done),
                    other => other,
                }
            }
            Err(error) => Err(error),
        };
        self.queue.extend(out);
        match outcome {
            Ok(Progress::Done) => self.body = None,
            Ok(Progress::More) => {}
            Err(error) => {
                self.body = None;
                self.failed = Some(error);
            }
        }
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) -> Result<Progress, ProviderError> {
        while let Some(event) = self.parser.next_event() {
            if self.decoder.data(&event.data, out)? == Progress::Done {
                return Ok(Progress::Done);
            }
        }
        Ok(Progress::More)
    }
}

#[cfg(test)]
pub mod testing {
    //! Helpers shared by the decoders' tests.

    use super::*;
    use wasmgate_plugin_sdk::FinishReason;

    /// A body that yields fixed pieces, then ends (or fails).
    pub struct PiecesBody {
        pieces: VecDeque<Vec<u8>>,
        then_fail: bool,
    }

    impl PiecesBody {
        pub fn new(pieces: Vec<Vec<u8>>, then_fail: bool) -> Self {
            PiecesBody {
                pieces: pieces.into(),
                then_fail,
            }
        }

        /// `bytes` cut every `size` bytes (so inside characters and CRLFs).
        pub fn split(bytes: &[u8], size: usize) -> Self {
            Self::new(bytes.chunks(size).map(<[u8]>::to_vec).collect(), false)
        }
    }

    impl Body for PiecesBody {
        fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
            match self.pieces.pop_front() {
                Some(piece) => Ok(Some(piece)),
                None if self.then_fail => Err(ProviderError::upstream(0, "connection reset")),
                None => Ok(None),
            }
        }
    }

    /// A comparable rendering of an event.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Ev {
        Text(String),
        Reasoning(String),
        Usage(u32, u32, Option<u32>),
        Finish(String),
        Other,
    }

    pub fn ev(event: &Event) -> Ev {
        match event {
            Event::Text(text) => Ev::Text(text.clone()),
            Event::Reasoning(text) => Ev::Reasoning(text.clone()),
            Event::Usage(usage) => Ev::Usage(
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.reasoning_tokens,
            ),
            Event::Finish(reason) => Ev::Finish(
                match reason {
                    FinishReason::Stop => "Stop",
                    FinishReason::Length => "Length",
                    FinishReason::ToolCalls => "ToolCalls",
                    FinishReason::ContentFilter => "ContentFilter",
                    FinishReason::Other => "Other",
                }
                .into(),
            ),
            _ => Ev::Other,
        }
    }

    /// Runs a whole body through a decoder: the events, then the error if any.
    pub fn run<D: Decoder>(body: PiecesBody, decoder: D) -> (Vec<Ev>, Option<ProviderError>) {
        let mut pump = SsePump::new(Box::new(body), decoder);
        let mut events = Vec::new();
        loop {
            match pump.next_event() {
                Ok(Some(event)) => events.push(ev(&event)),
                Ok(None) => return (events, None),
                Err(error) => return (events, Some(error)),
            }
        }
    }

    /// Text events merged (their split depends on the reads).
    pub fn merged(events: &[Ev]) -> Vec<Ev> {
        let mut out: Vec<Ev> = Vec::new();
        for event in events {
            match (out.last_mut(), event) {
                (Some(Ev::Text(acc)), Ev::Text(more))
                | (Some(Ev::Reasoning(acc)), Ev::Reasoning(more)) => acc.push_str(more),
                _ => out.push(event.clone()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    /// Echoes each payload as text; `end` finishes, `boom` fails.
    struct Echo;

    impl Decoder for Echo {
        fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Progress, ProviderError> {
            match data {
                "end" => Ok(Progress::Done),
                "boom" => Err(ProviderError::upstream(0, "boom")),
                _ => {
                    out.push(Event::Text(data.to_string()));
                    Ok(Progress::More)
                }
            }
        }

        fn end_of_stream(&mut self, _out: &mut Vec<Event>) -> Result<(), ProviderError> {
            Err(ProviderError::upstream(0, "cut"))
        }
    }

    #[test]
    fn stops_reading_when_done() {
        let body = PiecesBody::new(
            vec![
                b"data: a\n\ndata: end\n\n".to_vec(),
                b"data: ignored\n\n".to_vec(),
            ],
            true,
        );
        let (events, error) = run(body, Echo);
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(error.is_none());
    }

    #[test]
    fn an_error_comes_after_the_events_before_it() {
        let body = PiecesBody::new(
            vec![b"data: a\n\ndata: boom\n\ndata: b\n\n".to_vec()],
            false,
        );
        let (events, error) = run(body, Echo);
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(matches!(error, Some(ProviderError::Upstream(_))));
    }

    #[test]
    fn a_last_event_without_blank_line_is_still_decoded() {
        let body = PiecesBody::new(vec![b"data: a\n\ndata: end".to_vec()], false);
        let (events, error) = run(body, Echo);
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(error.is_none());
    }

    #[test]
    fn prime_surfaces_an_immediate_error_but_keeps_one_after_events() {
        let mut pump = SsePump::new(
            Box::new(PiecesBody::new(vec![b"data: boom\n\n".to_vec()], false)),
            Echo,
        );
        assert!(pump.prime().is_err());

        let mut pump = SsePump::new(
            Box::new(PiecesBody::new(
                vec![b"data: a\n\ndata: boom\n\n".to_vec()],
                false,
            )),
            Echo,
        );
        assert!(pump.prime().is_ok());
        assert!(matches!(pump.next_event(), Ok(Some(Event::Text(_)))));
        assert!(pump.next_event().is_err());
    }

    #[test]
    fn a_broken_connection_is_an_error() {
        let (events, error) = run(PiecesBody::new(vec![b"data: a\n\n".to_vec()], true), Echo);
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(matches!(error, Some(ProviderError::Upstream(_))));
    }
}
