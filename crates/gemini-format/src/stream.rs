//! The `streamGenerateContent?alt=sse` body, split into JSON payloads.
//!
//! Mostly plain SSE: one `data:` event per response object. But Google also
//! writes an error that happens mid-stream as raw JSON lines without the
//! `data:` prefix, pretty-printed over several lines; google-genai
//! (`_api_client.py`, `_iter_response_stream`) collects such lines until the
//! braces balance and treats the result as one chunk. This parser does the
//! same, so such an error is classified instead of silently dropped.

use wasmgate_plugin_sdk::sse::{LineBuffer, text};

/// Incremental splitter: feed network bytes (any split), take payloads.
#[derive(Debug, Default)]
pub struct StreamParser {
    lines: LineBuffer,
    /// The `data:` lines of the current event.
    data: Option<String>,
    /// A raw JSON document spanning lines, with its bracket depth.
    raw: Option<String>,
    /// A raw document completed while an event was still being dispatched.
    raw_done: Option<String>,
    depth: i64,
    in_string: bool,
    escaped: bool,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the network.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes);
    }

    /// The next complete payload (a `data:` event's data, or a raw JSON
    /// document) in what was fed so far.
    pub fn next_payload(&mut self) -> Option<String> {
        if let Some(raw) = self.raw_done.take() {
            return Some(raw);
        }
        while let Some(line) = self.lines.next_line() {
            if let Some(payload) = self.line(&text(&line)) {
                return Some(payload);
            }
        }
        None
    }

    /// At the end of the body: what is left, even without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        if let Some(line) = self.lines.finish()
            && let Some(payload) = self.line(&text(&line))
        {
            return Some(payload);
        }
        self.raw_done
            .take()
            .or_else(|| self.raw.take())
            .or_else(|| self.data.take())
    }

    fn line(&mut self, line: &str) -> Option<String> {
        if self.raw.is_some() {
            return self.raw_line(line);
        }
        if line.is_empty() {
            return self.data.take();
        }
        if line.starts_with(':') {
            return None; // a comment (keep-alive)
        }
        if line.starts_with('{') || line.starts_with('[') {
            // Raw JSON: first end the event whose data came before it.
            let before = self.data.take();
            self.raw = Some(String::new());
            self.depth = 0;
            self.in_string = false;
            self.escaped = false;
            let raw = self.raw_line(line);
            return match (before, raw) {
                (Some(data), Some(raw)) => {
                    // Both complete: keep the raw one for the next call.
                    self.raw_done = Some(raw);
                    Some(data)
                }
                (Some(data), None) => Some(data),
                (None, raw) => raw,
            };
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
        None
    }

    /// Adds a line to the raw document; returns it once its brackets close.
    fn raw_line(&mut self, line: &str) -> Option<String> {
        for c in line.chars() {
            if self.in_string {
                match (self.escaped, c) {
                    (true, _) => self.escaped = false,
                    (false, '\\') => self.escaped = true,
                    (false, '"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => self.in_string = true,
                '{' | '[' => self.depth += 1,
                '}' | ']' => self.depth -= 1,
                _ => {}
            }
        }
        let raw = self.raw.as_mut()?;
        if !raw.is_empty() {
            raw.push('\n');
        }
        raw.push_str(line);
        if self.depth <= 0 {
            self.raw.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(input: &str, piece: usize) -> Vec<String> {
        let mut parser = StreamParser::new();
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            parser.feed(chunk);
            while let Some(payload) = parser.next_payload() {
                out.push(payload);
            }
        }
        out.extend(parser.finish());
        out
    }

    #[test]
    fn data_events_and_raw_json_lines_in_any_split() {
        let input = "data: {\"a\":1}\r\n\r\n: keep-alive\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\n{\r\n  \"error\": {\r\n    \"code\": 429,\r\n    \"message\": \"a } in text\"\r\n  }\r\n}\r\n";
        for piece in [1, 2, 5, 1000] {
            assert_eq!(
                payloads(input, piece),
                [
                    "{\"a\":1}",
                    "{\"b\":\n2}",
                    "{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"a } in text\"\n  }\n}"
                ],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn a_long_line_in_many_reads_is_one_payload() {
        let mut parser = StreamParser::new();
        parser.feed(b"data: ");
        for _ in 0..1000 {
            parser.feed(&[b'A'; 64]);
            assert_eq!(parser.next_payload(), None);
        }
        parser.feed(b"\n\n");
        assert_eq!(parser.next_payload().map(|p| p.len()), Some(64_000));
    }

    #[test]
    fn a_last_event_without_its_blank_line_and_a_one_line_array() {
        assert_eq!(
            payloads(
                "data: {\"a\":1}\n[{\"error\":{\"code\":400}}]\ndata: {\"c\":3}",
                3
            ),
            ["{\"a\":1}", "[{\"error\":{\"code\":400}}]", "{\"c\":3}"]
        );
    }
}

/// Bounded property-based fuzzing (#13): any bytes, any read boundaries.
#[cfg(test)]
mod prop {
    use super::*;
    use fuzz_support::{config, json_document, pieces};
    use proptest::prelude::*;
    use serde_json::Value;

    /// Feeds `input` in the reads `raw_cuts` pick, draining after every read,
    /// then calls `finish` until it has nothing left, as the plugins do.
    fn payloads_in_reads(input: &[u8], raw_cuts: &[usize]) -> Vec<String> {
        let mut parser = StreamParser::new();
        let mut out = Vec::new();
        for read in pieces(input, raw_cuts) {
            parser.feed(&read);
            out.extend(std::iter::from_fn(|| parser.next_payload()));
            assert!(!parser.lines.unfinished().contains(&b'\n'));
        }
        let mut rounds = 0;
        while let Some(payload) = parser.finish() {
            out.push(payload);
            rounds += 1;
            assert!(rounds <= 3, "finish keeps yielding");
        }
        out
    }

    fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b":".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"{".to_vec()),
            Just(b"[".to_vec()),
            Just(b"}".to_vec()),
            Just(b"]".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just("é😀".as_bytes().to_vec()),
            Just(vec![0xE4, 0xB8]),
            proptest::collection::vec(any::<u8>(), 0..8),
        ];
        proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    #[derive(Debug, Clone)]
    enum Item {
        /// `data:` lines of one event; whether a blank line ends it (else
        /// it is ended by a raw document or the end of the body).
        Data(Vec<String>, bool),
        /// A raw document, pretty-printed or on one line.
        Raw(Value, bool),
        Comment,
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            (
                proptest::collection::vec("[^\r\n]{0,12}", 1..3),
                any::<bool>()
            )
                .prop_map(|(lines, blank)| Item::Data(lines, blank)),
            (json_document(), any::<bool>()).prop_map(|(v, pretty)| Item::Raw(v, pretty)),
            Just(Item::Comment),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_split_gives_the_same_payloads_as_whole_reads(
            input in stream_bytes(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let whole = payloads_in_reads(&input, &[]);
            let every: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&payloads_in_reads(&input, &every), &whole);
            prop_assert_eq!(
                &payloads_in_reads(&input, &raw_cuts),
                &whole
            );
            let out: usize = whole.iter().map(String::len).sum();
            prop_assert!(out <= 3 * input.len());
        }

        #[test]
        fn data_events_and_raw_documents_round_trip(
            items in proptest::collection::vec(item(), 0..6),
            crlf in any::<bool>(),
            trailing_newline in any::<bool>(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut body = String::new();
            let mut expected = Vec::new();
            for (index, item) in items.iter().enumerate() {
                match item {
                    Item::Data(lines, blank) => {
                        for line in lines {
                            body.push_str(&format!("data: {line}{nl}"));
                        }
                        let next_ends_it =
                            matches!(items.get(index + 1), None | Some(Item::Raw(..)));
                        if *blank || !next_ends_it {
                            body.push_str(nl);
                        }
                        expected.push(lines.join("\n"));
                    }
                    Item::Raw(value, pretty) => {
                        let text = if *pretty {
                            serde_json::to_string_pretty(value).unwrap()
                        } else {
                            value.to_string()
                        };
                        for line in text.lines() {
                            body.push_str(line);
                            body.push_str(nl);
                        }
                        expected.push(text);
                    }
                    Item::Comment => body.push_str(&format!(": keep-alive{nl}")),
                }
            }
            if !trailing_newline {
                // EOF right after the last line.
                while body.ends_with('\n') {
                    body.pop();
                    if body.ends_with('\r') {
                        body.pop();
                    }
                }
            }
            let bytes = body.as_bytes();
            let got = payloads_in_reads(bytes, &raw_cuts);
            prop_assert_eq!(&got, &expected);
            let payload_items = items.iter().filter(|item| !matches!(item, Item::Comment));
            for (payload, item) in got.iter().zip(payload_items) {
                if let Item::Raw(value, _) = item {
                    prop_assert_eq!(&serde_json::from_str::<Value>(payload).unwrap(), value);
                }
            }
        }
    }
}
