//! The `streamGenerateContent?alt=sse` body, split into JSON payloads.
//!
//! Mostly plain SSE: one `data:` event per response object. But Google also
//! writes an error that happens mid-stream as raw JSON lines without the
//! `data:` prefix, pretty-printed over several lines; google-genai
//! (`_api_client.py`, `_iter_response_stream`) collects such lines until the
//! braces balance and treats the result as one chunk. This parser does the
//! same, so such an error is classified instead of silently dropped.

/// Incremental splitter: feed network bytes (any split), take payloads.
#[derive(Debug, Default)]
pub struct StreamParser {
    /// Bytes not yet split into lines.
    pending: Vec<u8>,
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
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete payload (a `data:` event's data, or a raw JSON
    /// document) in what was fed so far.
    pub fn next_payload(&mut self) -> Option<String> {
        if let Some(raw) = self.raw_done.take() {
            return Some(raw);
        }
        while let Some(newline) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(payload) = self.line(&String::from_utf8_lossy(&line)) {
                return Some(payload);
            }
        }
        None
    }

    /// At the end of the body: what is left, even without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(payload) = self.line(&String::from_utf8_lossy(&line)) {
                return Some(payload);
            }
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
