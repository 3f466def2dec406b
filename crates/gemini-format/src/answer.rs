//! A `generateContent` answer as the events a completion hands the host,
//! for every plugin that speaks this format (the Gemini API, Vertex AI).
//!
//! `streamGenerateContent?alt=sse` sends one response object per `data:`
//! event, with no sentinel: the chunk with a `finishReason` ends the answer,
//! an error after the start arrives as a `data: {"error":…}` event or as raw
//! JSON lines ([`StreamParser`]), and a body that ends before the finish is
//! a broken answer. The body is read only as fast as the host asks for
//! events; the queueing, and an error coming after the events decoded
//! before it, are the SDK's [`Pump`].

use serde_json::Value;
use wasmgate_plugin_sdk::http::{Body, Response};
use wasmgate_plugin_sdk::{Event, Producer, ProviderError, Pump, Step};

use crate::{ResponseMapper, StreamParser};

/// An answer streaming in from a body `B`, or one decoded whole already.
pub type Answer<B> = Pump<StreamReader<B>>;

/// An SSE body to decode as it streams in.
pub fn streaming<B: Body>(body: B) -> Answer<B> {
    Pump::new(StreamReader {
        body: Some(body),
        decoder: StreamDecoder::new(),
    })
}

/// The answer of an accepted (2xx) response: read as it streams in when the
/// caller asked for a stream, else (or when a proxy answered a stream
/// request with plain JSON) its whole body, up to `limit` bytes, decoded.
pub fn of_response(
    response: Response,
    stream: bool,
    limit: usize,
) -> Result<Answer<Response>, ProviderError> {
    let is_json = response
        .header("content-type")
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("application/json"));
    if stream && !is_json {
        Ok(streaming(response))
    } else {
        Ok(complete(decode_whole(&response.bytes(limit)?)?))
    }
}

/// Events decoded already (a non-streamed answer, see [`decode_whole`]).
pub fn complete<B: Body>(events: Vec<Event>) -> Answer<B> {
    Pump::starting_with(events, None)
}

/// Reads a streamed body piece by piece through a [`StreamDecoder`].
pub struct StreamReader<B> {
    /// `None` once the body ended.
    body: Option<B>,
    decoder: StreamDecoder,
}

impl<B: Body> Producer for StreamReader<B> {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        let Some(body) = self.body.as_mut() else {
            return Ok(Step::Done);
        };
        match body
            .next_chunk()
            .map_err(wasmgate_plugin_sdk::answer::broken)?
        {
            Some(bytes) => self.decoder.feed(&bytes, out)?,
            None => {
                self.body = None;
                self.decoder.end(out)?;
                return Ok(Step::Done);
            }
        }
        // Finished: the rest of the body is not read, so a connection the
        // upstream keeps open is not waited on.
        Ok(match self.decoder.is_finished() {
            true => Step::Done,
            false => Step::More,
        })
    }
}

/// The `alt=sse` body → events, fed network reads split anywhere.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    payloads: StreamParser,
    mapper: ResponseMapper,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the answer is complete; what follows is ignored.
    pub fn is_finished(&self) -> bool {
        self.mapper.is_finished()
    }

    /// Decodes bytes read from the network, appending events.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<Event>) -> Result<(), ProviderError> {
        self.payloads.feed(bytes);
        while !self.is_finished()
            && let Some(data) = self.payloads.next_payload()
        {
            self.payload(&data, events)?;
        }
        Ok(())
    }

    /// The body ended cleanly: decodes a last event not followed by a blank
    /// line, then fails if the answer never finished.
    pub fn end(&mut self, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        while !self.is_finished()
            && let Some(data) = self.payloads.finish()
        {
            self.payload(&data, events)?;
        }
        self.mapper.end()
    }

    fn payload(&mut self, data: &str, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        match data.trim() {
            // Keep-alives, and the sentinel of OpenAI-minded proxies.
            "" | "[DONE]" => Ok(()),
            json => self.mapper.push(json, events),
        }
    }
}

/// Decodes a whole body: one response object, or the JSON array of them
/// that `streamGenerateContent` sends without `alt=sse` (and that a proxy
/// may send for a stream request).
pub fn decode_whole(body: &[u8]) -> Result<Vec<Event>, ProviderError> {
    let mut mapper = ResponseMapper::new();
    let mut events = Vec::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => mapper.push_value(&value, &mut events)?,
        // Let the mapper describe what arrived.
        Err(_) => mapper.push(&String::from_utf8_lossy(body), &mut events)?,
    }
    mapper.end()?;
    Ok(events)
}

#[cfg(test)]
mod tests;
