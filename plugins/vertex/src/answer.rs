//! The completion handed to the host: Vertex's answer decoded into events,
//! read from the network only as fast as the host asks for events.
//!
//! `streamGenerateContent?alt=sse` sends one `GenerateContentResponse` per
//! `data:` event (CRLF line ends in practice), no sentinel: the chunk with a
//! `finishReason` ends the answer, a `data: {"error":…}` event fails it, and
//! a body ending before either is a broken answer. The JSON → event mapping
//! is `gemini-format`'s, shared with the Gemini plugin.

use std::cell::RefCell;
use std::collections::VecDeque;

use gemini_format::{ResponseMapper, StreamParser};
use serde_json::Value;
use wasmgate_plugin_sdk::{Event, ProviderError};

/// A response body, piece by piece as the network delivers it.
pub trait BodySource {
    /// The next piece; `None` at a clean end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError>;
}

/// An answer: either still streaming in, or decoded whole already.
pub struct Answer<B> {
    inner: RefCell<Pump<B>>,
}

struct Pump<B> {
    /// `None` once the body ended, failed, or is no longer needed.
    body: Option<B>,
    sse: StreamParser,
    mapper: ResponseMapper,
    ready: VecDeque<Event>,
    /// Yielded after the events decoded before it.
    failure: Option<ProviderError>,
}

impl<B: BodySource> Answer<B> {
    /// An SSE body, decoded as it arrives.
    pub fn streaming(body: B) -> Self {
        Self::new(Some(body), Vec::new())
    }

    /// An answer decoded already (`generateContent`).
    pub fn decoded(events: Vec<Event>) -> Self {
        Self::new(None, events)
    }

    fn new(body: Option<B>, events: Vec<Event>) -> Self {
        Answer {
            inner: RefCell::new(Pump {
                body,
                sse: StreamParser::new(),
                mapper: ResponseMapper::new(),
                ready: events.into(),
                failure: None,
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
        batch.extend(self.inner.borrow_mut().ready.drain(..));
        Ok(batch)
    }

    /// The next event, reading more of the body when none is ready.
    pub fn next_event(&self) -> Result<Option<Event>, ProviderError> {
        let mut pump = self.inner.borrow_mut();
        loop {
            if let Some(event) = pump.ready.pop_front() {
                return Ok(Some(event));
            }
            if let Some(failure) = pump.failure.take() {
                pump.body = None;
                return Err(failure);
            }
            if pump.mapper.is_finished() {
                // Done: do not wait for the server to close the connection.
                pump.body = None;
            }
            if pump.body.is_none() {
                return Ok(None);
            }
            pump.read_more();
        }
    }
}

impl<B: BodySource> Pump<B> {
    /// Reads one piece of the body and decodes what it completes.
    fn read_more(&mut self) {
        let Some(body) = self.body.as_mut() else {
            return;
        };
        let outcome = match body.next_chunk() {
            Ok(Some(bytes)) => {
                self.sse.feed(&bytes);
                self.decode_events(false)
            }
            Ok(None) => {
                self.body = None;
                self.decode_events(true).and_then(|()| self.mapper.end())
            }
            Err(failure) => {
                self.body = None;
                Err(failure)
            }
        };
        if let Err(failure) = outcome {
            self.failure = Some(failure);
        }
    }

    /// Maps every complete event; at the end also a last one that lacks its
    /// blank line.
    fn decode_events(&mut self, at_end: bool) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        let mut outcome = Ok(());
        while outcome.is_ok() && !self.mapper.is_finished() {
            let data = match self.sse.next_payload() {
                Some(data) => data,
                None if at_end => match self.sse.finish() {
                    Some(data) => data,
                    None => break,
                },
                None => break,
            };
            outcome = push_data(&mut self.mapper, &data, &mut events);
        }
        self.ready.extend(events);
        outcome
    }
}

fn push_data(
    mapper: &mut ResponseMapper,
    data: &str,
    events: &mut Vec<Event>,
) -> Result<(), ProviderError> {
    match data.trim() {
        // Keep-alives, and the sentinel of OpenAI-minded proxies.
        "" | "[DONE]" => Ok(()),
        json => mapper.push(json, events),
    }
}

/// Decodes a whole body: one response object, or the JSON array that
/// `streamGenerateContent` sends without `alt=sse`.
pub fn decode_whole(body: &[u8]) -> Result<Vec<Event>, ProviderError> {
    let mut mapper = ResponseMapper::new();
    let mut events = Vec::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => {
            for item in items {
                mapper.push(&item.to_string(), &mut events)?;
            }
        }
        Ok(value) => mapper.push(&value.to_string(), &mut events)?,
        // Let the mapper describe what arrived.
        Err(_) => mapper.push(&String::from_utf8_lossy(body), &mut events)?,
    }
    mapper.end()?;
    Ok(events)
}

#[cfg(test)]
mod tests;
