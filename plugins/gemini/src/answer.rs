//! The completion handed to the host: it pulls the upstream body as the host
//! asks for events, so the caller sees each chunk as soon as it arrives.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasmgate_plugin_sdk::{Event, ProviderError};

use crate::decode::SseDecoder;

/// A response body read piece by piece.
pub trait BodySource {
    /// The next piece, `None` at a clean end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError>;
}

/// An answer in progress, or one already decoded.
pub struct Answer<B> {
    state: RefCell<State<B>>,
}

struct State<B> {
    /// The body still to read; `None` once it ended or no longer matters.
    body: Option<B>,
    decoder: SseDecoder,
    queue: VecDeque<Event>,
    /// Reported once the events decoded before it have been yielded.
    error: Option<ProviderError>,
}

impl<B: BodySource> Answer<B> {
    /// An SSE body to decode as it streams in.
    pub fn streaming(body: B) -> Self {
        Self::with(Some(body), VecDeque::new())
    }

    /// Events decoded already (a non-streamed answer).
    pub fn complete(events: Vec<Event>) -> Self {
        Self::with(None, events.into())
    }

    fn with(body: Option<B>, queue: VecDeque<Event>) -> Self {
        Answer {
            state: RefCell::new(State {
                body,
                decoder: SseDecoder::new(),
                queue,
                error: None,
            }),
        }
    }

    /// The events ready now (reading the body until there is one); empty at
    /// the end.
    pub fn next_batch(&self) -> Result<Vec<Event>, ProviderError> {
        let Some(first) = self.next_event()? else {
            return Ok(Vec::new());
        };
        let mut batch = vec![first];
        batch.extend(self.state.borrow_mut().queue.drain(..));
        Ok(batch)
    }

    /// The next event, reading the body as needed; `None` at the end.
    pub fn next_event(&self) -> Result<Option<Event>, ProviderError> {
        let mut state = self.state.borrow_mut();
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Ok(Some(event));
            }
            if let Some(error) = state.error.take() {
                state.body = None;
                return Err(error);
            }
            if state.decoder.is_finished() {
                // Finished: stop reading rather than wait on a lingering connection.
                state.body = None;
            }
            let State {
                body,
                decoder,
                queue,
                error,
            } = &mut *state;
            let Some(source) = body.as_mut() else {
                return Ok(None);
            };
            let mut events = Vec::new();
            let outcome = match source.next_chunk() {
                Ok(Some(bytes)) => decoder.feed(&bytes, &mut events),
                Ok(None) => {
                    *body = None;
                    decoder.end(&mut events)
                }
                Err(failure) => {
                    *body = None;
                    Err(failure)
                }
            };
            queue.extend(events);
            if let Err(failure) = outcome {
                *error = Some(failure);
            }
        }
    }
}

#[cfg(test)]
mod tests;
