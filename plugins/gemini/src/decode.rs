//! Response bodies → events: the `alt=sse` stream, read as it arrives, and
//! whole JSON bodies (`generateContent`, or a stream a proxy answered as JSON).

use gemini_format::{ResponseMapper, StreamParser};
use serde_json::Value;
use wasmgate_plugin_sdk::{Event, ProviderError};

/// An incremental decoder for `streamGenerateContent?alt=sse`.
///
/// Each `data:` event is one `GenerateContentResponse`; there is no sentinel,
/// the chunk with `finishReason` ends the answer, and an error after the start
/// arrives as a `data: {"error":…}` event or as raw JSON lines.
#[derive(Debug, Default)]
pub struct SseDecoder {
    sse: StreamParser,
    mapper: ResponseMapper,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the answer is complete; what follows can be ignored.
    pub fn is_finished(&self) -> bool {
        self.mapper.is_finished()
    }

    /// Decodes bytes read from the network (any split), appending events.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<Event>) -> Result<(), ProviderError> {
        self.sse.feed(bytes);
        while !self.is_finished()
            && let Some(data) = self.sse.next_payload()
        {
            self.data(&data, events)?;
        }
        Ok(())
    }

    /// The body ended cleanly: decodes a last event not followed by a blank
    /// line, then fails if the answer never finished.
    pub fn end(&mut self, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        while !self.is_finished()
            && let Some(data) = self.sse.finish()
        {
            self.data(&data, events)?;
        }
        self.mapper.end()
    }

    fn data(&mut self, data: &str, events: &mut Vec<Event>) -> Result<(), ProviderError> {
        match data.trim() {
            // Not Gemini's, but harmless from an OpenAI-minded proxy.
            "" | "[DONE]" => Ok(()),
            json => self.mapper.push(json, events),
        }
    }
}

/// Decodes a whole body: one response object, or a JSON array of them (the
/// framing of `streamGenerateContent` without `alt=sse`).
pub fn decode_whole(body: &[u8]) -> Result<Vec<Event>, ProviderError> {
    let mut mapper = ResponseMapper::new();
    let mut events = Vec::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(chunks)) => {
            for chunk in &chunks {
                mapper.push_value(chunk, &mut events)?;
            }
        }
        Ok(value) => mapper.push_value(&value, &mut events)?,
        Err(_) => mapper.push(&String::from_utf8_lossy(body), &mut events)?,
    }
    mapper.end()?;
    Ok(events)
}

#[cfg(test)]
mod tests;
