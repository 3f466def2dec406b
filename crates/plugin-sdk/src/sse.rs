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

/// Network reads → whole lines, for the parsers of line-framed bodies (this
/// one, and plugins' own). A read may end inside a line, between `\r` and
/// `\n`, or inside a multi-byte character: the unfinished tail waits for the
/// next read.
#[derive(Debug, Default)]
pub struct LineBuffer {
    /// Bytes received; those before `start` were handed out already.
    pending: Vec<u8>,
    /// Where the line not yet handed out begins. Lines are taken by moving
    /// it, not by shifting the rest of the buffer down each time (a body of
    /// many short lines read at once would move the tail once per line).
    start: usize,
    /// How far past `start` is known to hold no `\n`, so that a long line
    /// (an inline image) arriving in many reads is not rescanned each time.
    scanned: usize,
}

impl LineBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the network.
    pub fn feed(&mut self, bytes: &[u8]) {
        // What was handed out goes before the buffer grows.
        if self.start > 0 {
            self.pending.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole line, without its `\n` or `\r\n`.
    pub fn next_line(&mut self) -> Option<Vec<u8>> {
        let from = self.scanned.max(self.start);
        // memchr reads a word at a time; a byte loop was the plugins' most
        // expensive function in the bench's profile.
        let Some(at) = memchr::memchr(b'\n', &self.pending[from..]) else {
            self.scanned = self.pending.len();
            return None;
        };
        let end = from + at;
        let mut line = &self.pending[self.start..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let line = line.to_vec();
        self.start = end + 1;
        self.scanned = self.start;
        Some(line)
    }

    /// At the end of the body: the last line, if it had no line end.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let mut line = self.pending.split_off(self.start);
        self.pending.clear();
        self.start = 0;
        self.scanned = 0;
        if line.is_empty() {
            return None;
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(line)
    }

    /// The bytes of the line not yet ended.
    pub fn unfinished(&self) -> &[u8] {
        &self.pending[self.start..]
    }
}

/// A line as text, invalid UTF-8 replaced. Valid text (nearly always) is
/// checked by the standard library's fast validator and borrowed; only
/// invalid text pays for the slower lossy scan.
pub fn text(line: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(line) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(line),
    }
}

#[derive(Debug, Default)]
pub struct SseParser {
    lines: LineBuffer,
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
        self.lines.feed(bytes);
    }

    /// The next complete event in what was fed so far.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        while let Some(line) = self.lines.next_line() {
            if let Some(event) = self.take_line(&line) {
                return Some(event);
            }
        }
        None
    }

    /// At the end of the stream: the last event if it was not followed by a
    /// blank line (some upstreams end with EOF right after the data).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if let Some(line) = self.lines.finish()
            && let Some(event) = self.take_line(&line)
        {
            return Some(event);
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
        let line = text(line);
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
    fn a_long_line_in_many_reads_is_scanned_once() {
        let mut lines = LineBuffer::new();
        let mut fed = 0;
        lines.feed(b"data: ");
        for _ in 0..1000 {
            lines.feed(&[b'A'; 64]);
            fed += 64;
            assert_eq!(lines.next_line(), None);
            // Only the new bytes are searched for a newline next time.
            assert_eq!(lines.scanned, 6 + fed);
        }
        lines.feed(b"\r\nrest");
        assert_eq!(lines.next_line().map(|line| line.len()), Some(6 + 64_000));
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.finish(), Some(b"rest".to_vec()));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn lf_only_and_no_space_after_colon() {
        let events = parse_in_pieces(b"data:a\n\ndata:b\n\n", 3);
        let data: Vec<_> = events.into_iter().map(|e| e.data).collect();
        assert_eq!(data, ["a", "b"]);
    }
}

/// Bounded property-based fuzzing (#13): any bytes, any read boundaries.
#[cfg(test)]
mod prop {
    use super::*;
    use fuzz_support::{config, cuts};
    use proptest::prelude::*;

    /// Feeds `input` cut at `cuts` (sorted, deduplicated, in range), draining
    /// events after every read; checks the buffer only keeps an unfinished line.
    fn parse_with_cuts(input: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            parser.feed(&input[last..cut]);
            last = cut;
            while let Some(event) = parser.next_event() {
                events.push(event);
            }
            let unfinished = parser.lines.unfinished();
            assert!(
                !unfinished.contains(&b'\n'),
                "a whole line was left in the buffer"
            );
            assert!(unfinished.len() <= cut);
        }
        events.extend(parser.finish());
        assert!(parser.lines.unfinished().is_empty());
        assert_eq!(parser.finish(), None, "finish yields at most one event");
        events
    }

    /// Bytes rich in what matters to the parser: newlines, CR, colons, spaces,
    /// field names, and multi-byte or broken UTF-8.
    fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b":".to_vec()),
            Just(b" ".to_vec()),
            Just(b"data".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"event:".to_vec()),
            Just(b"id: 1".to_vec()),
            Just("é😀中".as_bytes().to_vec()),
            Just(vec![0xF0, 0x9F]),
            Just(vec![0xFF]),
            proptest::collection::vec(any::<u8>(), 0..8),
        ];
        proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    /// A line of field text: no CR or LF.
    fn line_text() -> impl Strategy<Value = String> {
        "[^\r\n]{0,12}"
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_split_gives_the_same_events_as_whole_reads(
            input in sse_bytes(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let whole = parse_with_cuts(&input, &[]);
            let split = parse_with_cuts(&input, &cuts(input.len(), raw_cuts));
            prop_assert_eq!(&split, &whole);
            // Output stays bounded by the input (a broken byte may become
            // U+FFFD, three bytes).
            let out: usize = whole
                .iter()
                .map(|e| e.data.len() + e.event.as_ref().map_or(0, String::len))
                .sum();
            prop_assert!(out <= 3 * input.len());
        }

        #[test]
        fn byte_at_a_time_reads_give_the_same_events(input in sse_bytes()) {
            let every: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(parse_with_cuts(&input, &every), parse_with_cuts(&input, &[]));
        }

        #[test]
        fn encoded_events_round_trip(
            events in proptest::collection::vec(
                (
                    proptest::option::of(line_text()),
                    proptest::collection::vec(line_text(), 1..4),
                    any::<bool>(),
                ),
                0..6,
            ),
            crlf in any::<bool>(),
            blank_last in any::<bool>(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut body = String::new();
            for (name, lines, comment) in &events {
                if *comment {
                    body.push_str(&format!(": keep-alive{nl}"));
                }
                if let Some(name) = name {
                    body.push_str(&format!("event: {name}{nl}"));
                }
                for line in lines {
                    body.push_str(&format!("data: {line}{nl}"));
                }
                body.push_str(nl);
            }
            if !blank_last && !events.is_empty() {
                // The stream may end right after the last data line.
                body.truncate(body.len() - nl.len());
            }
            let expected: Vec<SseEvent> = events
                .iter()
                .map(|(name, lines, _)| SseEvent {
                    event: name.clone(),
                    data: lines.join("\n"),
                })
                .collect();
            let bytes = body.as_bytes();
            prop_assert_eq!(parse_with_cuts(bytes, &cuts(bytes.len(), raw_cuts)), expected);
        }
    }
}
