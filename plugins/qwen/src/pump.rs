//! A streamed body through the SSE reader and a site's decoder, as a
//! producer for the SDK's [`Pump`](wasmgate_plugin_sdk::Pump): each read
//! hands over every event it completed, and a failure comes after them.

use wasmgate_plugin_sdk::answer::broken;
use wasmgate_plugin_sdk::http::Response;
use wasmgate_plugin_sdk::sse_stream::SseStream;
use wasmgate_plugin_sdk::{Event, Producer, ProviderError, Step};

/// A site's stream semantics, fed one SSE `data` payload at a time.
/// [`Step::Done`] means the answer is complete: the rest of the body is not
/// read.
pub trait Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Step, ProviderError>;
    /// The body ended before the decoder said [`Step::Done`].
    fn end_of_stream(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError>;
}

/// The events of one SSE answer.
pub struct SseProducer<D> {
    stream: SseStream<Response>,
    pub decoder: D,
}

impl<D: Decoder> SseProducer<D> {
    pub fn new(body: Response, decoder: D) -> Self {
        SseProducer {
            stream: SseStream::new(body),
            decoder,
        }
    }

    fn decode_a_read(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        let events = self.stream.next_events().map_err(broken)?;
        if events.is_empty() {
            return self.decoder.end_of_stream(out).map(|()| Step::Done);
        }
        for event in events {
            if self.decoder.data(&event.data, out)? == Step::Done {
                return Ok(Step::Done);
            }
        }
        Ok(Step::More)
    }
}

impl<D: Decoder> Producer for SseProducer<D> {
    /// Decodes every event one read of the body completed.
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        let step = self.decode_a_read(out);
        if !matches!(step, Ok(Step::More)) {
            // Over: the connection is not held open for what follows.
            self.stream.close();
        }
        step
    }
}

#[cfg(test)]
pub mod testing {
    //! Helpers shared by the decoders' tests.

    use std::collections::VecDeque;

    use super::*;
    use wasmgate_plugin_sdk::http::HttpError;
    use wasmgate_plugin_sdk::{FinishReason, Pump};

    /// A body of fixed pieces (the SDK's test source), then its end or a
    /// reset connection.
    pub type PiecesBody = VecDeque<Result<Vec<u8>, HttpError>>;

    pub fn pieces_body(pieces: Vec<Vec<u8>>, then_fail: bool) -> PiecesBody {
        let reset = then_fail.then(|| Err(HttpError::Protocol("connection reset".into())));
        pieces.into_iter().map(Ok).chain(reset).collect()
    }

    /// `bytes` cut every `size` bytes (so inside characters and CRLFs).
    pub fn split_body(bytes: &[u8], size: usize) -> PiecesBody {
        pieces_body(bytes.chunks(size).map(<[u8]>::to_vec).collect(), false)
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

    /// A decoder reading `body` as a response's.
    pub fn producer<D: Decoder>(body: PiecesBody, decoder: D) -> SseProducer<D> {
        SseProducer::new(Response::new(200, Vec::new(), Box::new(body)), decoder)
    }

    /// Runs a whole body through a decoder on the SDK's pump: the events,
    /// then the error if any.
    pub fn run<D: Decoder>(body: PiecesBody, decoder: D) -> (Vec<Ev>, Option<ProviderError>) {
        let pump = Pump::new(producer(body, decoder));
        let mut events = Vec::new();
        loop {
            match pump.next_batch() {
                Ok(batch) if batch.is_empty() => return (events, None),
                Ok(batch) => events.extend(batch.iter().map(ev)),
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
    use wasmgate_plugin_sdk::Pump;

    /// Echoes each payload as text; `end` finishes, `boom` fails.
    struct Echo;

    impl Decoder for Echo {
        fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
            match data {
                "end" => Ok(Step::Done),
                "boom" => Err(ProviderError::upstream(0, "boom")),
                _ => {
                    out.push(Event::Text(data.to_string()));
                    Ok(Step::More)
                }
            }
        }

        fn end_of_stream(&mut self, _out: &mut Vec<Event>) -> Result<(), ProviderError> {
            Err(ProviderError::upstream(0, "cut"))
        }
    }

    fn pump(pieces: &[&str], then_fail: bool) -> Pump<SseProducer<Echo>> {
        let pieces = pieces.iter().map(|p| p.as_bytes().to_vec()).collect();
        Pump::new(producer(pieces_body(pieces, then_fail), Echo))
    }

    #[test]
    fn stops_reading_when_done() {
        let (events, error) = run(
            pieces_body(
                vec![
                    b"data: a\n\ndata: end\n\n".to_vec(),
                    b"data: ignored\n\n".to_vec(),
                ],
                true,
            ),
            Echo,
        );
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(error.is_none());
    }

    #[test]
    fn a_batch_is_every_event_of_one_read_and_an_error_comes_after_it() {
        let pump = pump(&["data: a\n\ndata: b\n\ndata: boom\n\ndata: c\n\n"], false);
        let batch: Vec<Ev> = pump.next_batch().unwrap().iter().map(ev).collect();
        assert_eq!(batch, [Ev::Text("a".into()), Ev::Text("b".into())]);
        assert!(matches!(pump.next_batch(), Err(ProviderError::Upstream(_))));
        assert!(pump.next_batch().unwrap().is_empty());
    }

    #[test]
    fn a_last_event_without_blank_line_is_still_decoded() {
        let (events, error) = run(
            pieces_body(vec![b"data: a\n\ndata: end".to_vec()], false),
            Echo,
        );
        assert_eq!(events, [Ev::Text("a".into())]);
        assert!(error.is_none());
    }

    #[test]
    fn prime_surfaces_an_immediate_error_but_keeps_one_after_events() {
        assert!(pump(&["data: boom\n\n"], false).prime().is_err());

        let pump = pump(&["data: a\n\ndata: boom\n\n"], false);
        assert!(pump.prime().is_ok());
        assert!(matches!(pump.next_event(), Ok(Some(Event::Text(_)))));
        assert!(pump.next_event().is_err());
    }

    #[test]
    fn a_broken_connection_is_an_upstream_error() {
        let (events, error) = run(pieces_body(vec![b"data: a\n\n".to_vec()], true), Echo);
        assert_eq!(events, [Ev::Text("a".into())]);
        match error {
            Some(ProviderError::Upstream(failure)) => {
                assert_eq!(failure.status, 0);
                assert!(failure.message.contains("broke off"), "{failure:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
