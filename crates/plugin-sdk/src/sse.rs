//! An incremental Server-Sent-Events parser.
//!
//! Upstreams frame their streams with `\n` or `\r\n`, and a network read may
//! end anywhere: inside a line, between `\r` and `\n`, inside a multi-byte
//! character. The parser keeps the unfinished tail and yields only whole
//! events, so it never splits a character.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes not yet split into lines.
    pending: Vec<u8>,
    /// Where to resume looking for `\n` in `pending`.
    scanned: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the network.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete event in what was fed so far.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let newline = self.pending[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|at| self.scanned + at);
            let Some(newline) = newline else {
                self.scanned = self.pending.len();
                return None;
            };
            let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
            self.scanned = 0;
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.take_line(&line) {
                return Some(event);
            }
        }
    }

    /// At the end of the stream: the last event if it was not followed by a
    /// blank line (some upstreams end with EOF right after the data).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            self.scanned = 0;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.take_line(&line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn take_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None; // a comment, often a keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            _ => {} // `id`, `retry` and unknown fields do not matter to a client here
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in input.chunks(piece) {
            parser.feed(chunk);
            while let Some(event) = parser.next_event() {
                events.push(event);
            }
        }
        events.extend(parser.finish());
        events
    }

    #[test]
    fn crlf_events_split_at_every_byte_boundary() {
        let input = "data: {\"a\":\"héllo\"}\r\n\r\n: keep-alive\r\n\r\nevent: x\r\ndata: 1\r\ndata: 2\r\n\r\ndata: last".as_bytes();
        let whole = parse_in_pieces(input, input.len());
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    event: None,
                    data: "{\"a\":\"héllo\"}".into()
                },
                SseEvent {
                    event: Some("x".into()),
                    data: "1\n2".into()
                },
                SseEvent {
                    event: None,
                    data: "last".into()
                },
            ]
        );
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), whole, "piece size {piece}");
        }
    }

    #[test]
    fn lf_only_and_no_space_after_colon() {
        let events = parse_in_pieces(b"data:a\n\ndata:b\n\n", 3);
        let data: Vec<_> = events.into_iter().map(|e| e.data).collect();
        assert_eq!(data, ["a", "b"]);
    }
}
