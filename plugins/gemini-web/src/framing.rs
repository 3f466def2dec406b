//! The length-prefixed framing of StreamGenerate and batchexecute bodies.
//!
//! A body is `)]}'`, blank line(s), then frames `<length>\n<json>\n`, where the
//! length counts UTF-16 code units (JavaScript `String.length`) from the newline
//! after the digits through the newline after the JSON. Network reads can end
//! anywhere — inside the digits, inside a multi-byte character, inside the JSON —
//! so the parser keeps raw bytes and only decides once a frame is whole.
//!
//! If a length turns out wrong (the text it delimits is not JSON), the parser
//! falls back to the frame's first line: JSON text never holds a raw newline.

use serde_json::Value;

/// The anti-JSON-hijacking prefix the body starts with.
const PREFIX: &[u8] = b")]}'";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes are not frames of JSON (an HTML error page, a broken body).
    Malformed(String),
    /// The body ended inside a frame.
    Truncated,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Malformed(what) => write!(f, "malformed response frame: {what}"),
            FrameError::Truncated => write!(f, "the response ended inside a frame"),
        }
    }
}

/// A frame whose length is known and whose body is being counted.
#[derive(Debug, Clone, Copy)]
struct Counting {
    /// Byte offset of the newline after the digits, where counting starts.
    start: usize,
    /// Declared length in UTF-16 units.
    length: usize,
    /// Byte offset reached so far, and the units counted up to it.
    pos: usize,
    units: usize,
}

#[derive(Debug, Default)]
pub struct FrameParser {
    buf: Vec<u8>,
    prefix_done: bool,
    counting: Option<Counting>,
    /// The error found after frames that were handed out first.
    failed: Option<FrameError>,
}

impl FrameParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next bytes of the body; returns the frames they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Value>, FrameError> {
        self.buf.extend_from_slice(bytes);
        self.drain(false)
    }

    /// The body has ended: returns the frames left in the buffer, or
    /// [`FrameError::Truncated`] if it ended inside one.
    pub fn finish(&mut self) -> Result<Vec<Value>, FrameError> {
        self.drain(true)
    }

    /// The frames completed so far. An error comes after the frames read
    /// before it (in the same call they are returned, and the error on the
    /// next call), so that where reads end does not change what is seen;
    /// once failed, the parser stays failed.
    fn drain(&mut self, at_end: bool) -> Result<Vec<Value>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut frames = Vec::new();
        match self.drain_into(&mut frames, at_end) {
            Ok(()) => Ok(frames),
            Err(err) => {
                self.failed = Some(err.clone());
                if frames.is_empty() {
                    Err(err)
                } else {
                    Ok(frames)
                }
            }
        }
    }

    fn drain_into(&mut self, frames: &mut Vec<Value>, at_end: bool) -> Result<(), FrameError> {
        if !self.prefix_done && !self.skip_prefix(at_end) {
            return Ok(());
        }
        loop {
            if self.counting.is_none() {
                let skipped = self
                    .buf
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                self.buf.drain(..skipped);
                if self.buf.is_empty() {
                    return Ok(());
                }
                let digits = self.buf.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 {
                    // Not a length: the body is unframed, read it line by line.
                    match self.take_line(0, at_end)? {
                        Some(frame) => {
                            frames.push(frame);
                            continue;
                        }
                        None => return Ok(()),
                    }
                }
                if digits == self.buf.len() {
                    match self.recover_at_end(at_end)? {
                        Some(frame) => {
                            frames.push(frame);
                            continue;
                        }
                        None => return Ok(()),
                    }
                }
                let length = std::str::from_utf8(&self.buf[..digits])
                    .ok()
                    .and_then(|text| text.parse::<usize>().ok())
                    .ok_or_else(|| FrameError::Malformed("frame length out of range".into()))?;
                self.counting = Some(Counting {
                    start: digits,
                    length,
                    pos: digits,
                    units: 0,
                });
            }
            let Some(counting) = self.count() else {
                // The frames after a recovered one are still to be read.
                match self.recover_at_end(at_end)? {
                    Some(frame) => {
                        frames.push(frame);
                        continue;
                    }
                    None => return Ok(()),
                }
            };
            self.counting = None;
            match parse_json(&self.buf[counting.start..counting.pos]) {
                Some(frame) => {
                    self.buf.drain(..counting.pos);
                    frames.push(frame);
                }
                // The length was wrong: fall back to the line once it is whole.
                None => match self.take_line(counting.start, at_end)? {
                    Some(frame) => frames.push(frame),
                    None => {
                        self.counting = Some(counting);
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Consumes `)]}'` if the body starts with it. Returns false while too few
    /// bytes have arrived to tell.
    fn skip_prefix(&mut self, at_end: bool) -> bool {
        let leading = self
            .buf
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let rest = &self.buf[leading..];
        if rest.len() < PREFIX.len() && PREFIX.starts_with(rest) && !at_end {
            return false;
        }
        if rest.starts_with(PREFIX) {
            self.buf.drain(..leading + PREFIX.len());
        }
        self.prefix_done = true;
        true
    }

    /// Advances the current frame's count over the bytes that have arrived.
    /// Returns the finished count once the declared length is reached.
    fn count(&mut self) -> Option<Counting> {
        let counting = self.counting.as_mut()?;
        while counting.units < counting.length {
            let &lead = self.buf.get(counting.pos)?;
            let width = utf8_width(lead);
            if counting.pos + width > self.buf.len() {
                return None; // a character split across reads
            }
            let units = if width == 4 { 2 } else { 1 };
            if counting.units + units > counting.length {
                break; // the length ends inside a surrogate pair: it is wrong
            }
            counting.units += units;
            counting.pos += width;
        }
        Some(*counting)
    }

    /// Reads the line starting after `from` (a newline, or the start of an
    /// unframed body) as one JSON frame and consumes through its end.
    fn take_line(&mut self, from: usize, at_end: bool) -> Result<Option<Value>, FrameError> {
        let start = if self.buf.get(from) == Some(&b'\n') {
            from + 1
        } else {
            from
        };
        let end = match self.buf[start..].iter().position(|&b| b == b'\n') {
            Some(offset) => start + offset,
            None if at_end => self.buf.len(),
            None => return Ok(None),
        };
        let Some(frame) = parse_json(&self.buf[start..end]) else {
            let snippet = String::from_utf8_lossy(&self.buf[start..end.min(start + 60)]);
            return Err(FrameError::Malformed(format!("not JSON: {snippet:?}")));
        };
        self.buf.drain(..(end + 1).min(self.buf.len()));
        Ok(Some(frame))
    }

    /// More bytes are needed for the current frame. Before the end that
    /// means waiting (`None`); at the end, the frame may still be whole on
    /// its line if only its length was off (too long): that line is the
    /// frame, and what follows it is read on.
    fn recover_at_end(&mut self, at_end: bool) -> Result<Option<Value>, FrameError> {
        if !at_end {
            return Ok(None);
        }
        let leftover_is_blank = self.buf.iter().all(|b| b.is_ascii_whitespace());
        if leftover_is_blank {
            return Ok(None);
        }
        let from = self.counting.take().map_or(0, |c| c.start);
        match self.take_line(from, true) {
            Ok(Some(frame)) => Ok(Some(frame)),
            _ => Err(FrameError::Truncated),
        }
    }
}

/// Bytes in the UTF-8 sequence a byte starts; stray bytes count as one
/// (decoded as U+FFFD, one UTF-16 unit).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A frame is a JSON array of parts.
fn parse_json(bytes: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_str(text.trim()) {
        Ok(frame @ Value::Array(_)) => Some(frame),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mock_gemini_web::frame;
    use serde_json::json;

    /// The UTF-16 length of a text, as the framing counts it.
    fn utf16_len(text: &str) -> usize {
        text.chars().map(char::len_utf16).sum()
    }

    pub(crate) const HELLO: &str = include_str!("../fixtures/hello.frames");
    pub(crate) const ERROR_1037: &str = include_str!("../fixtures/error-1037.frames");

    fn parse_in_pieces(body: &[u8], cuts: &[usize]) -> Result<Vec<Value>, FrameError> {
        let mut parser = FrameParser::new();
        let mut frames = Vec::new();
        let mut last = 0;
        for &cut in cuts {
            frames.extend(parser.push(&body[last..cut])?);
            last = cut;
        }
        frames.extend(parser.push(&body[last..])?);
        frames.extend(parser.finish()?);
        Ok(frames)
    }

    #[test]
    fn the_reference_fixture_has_the_documented_lengths() {
        let lengths: Vec<&str> = HELLO
            .lines()
            .filter(|line| line.chars().all(|c| c.is_ascii_digit()) && !line.is_empty())
            .collect();
        assert_eq!(lengths, ["437", "444", "470", "56", "26"]);
        for (line, next) in HELLO.lines().zip(HELLO.lines().skip(1)) {
            if let Ok(length) = line.parse::<usize>() {
                assert_eq!(length, utf16_len(next) + 2, "frame {next:.40}");
            }
        }
    }

    #[test]
    fn whole_body_parses_into_all_frames() {
        let frames = parse_in_pieces(HELLO.as_bytes(), &[]).unwrap();
        assert_eq!(frames.len(), 5);
        assert_eq!(frames[0][0][0], "wrb.fr");
        assert_eq!(frames[4], json!([["e", 5, null, null, 1234]]));
    }

    #[test]
    fn every_single_split_point_gives_the_same_frames() {
        let body = HELLO.as_bytes();
        let whole = parse_in_pieces(body, &[]).unwrap();
        for cut in 0..=body.len() {
            assert_eq!(
                parse_in_pieces(body, &[cut]).unwrap(),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn byte_by_byte_reads_give_the_same_frames() {
        let body = HELLO.as_bytes();
        let cuts: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            parse_in_pieces(body, &cuts).unwrap(),
            parse_in_pieces(body, &[]).unwrap()
        );
    }

    #[test]
    fn astral_and_cjk_text_counts_utf16_units_across_splits() {
        let texts = ["𠜎𠜱𠝹", "你好，世界", "emoji 👋🏽 and é", "a\u{10FFFF}b"];
        let mut body = String::from(")]}'\n\n");
        for text in texts {
            body.push_str(&frame(&json!([["wrb.fr", null, text]])));
        }
        let bytes = body.as_bytes();
        // Cut inside every multi-byte character at once.
        let cuts: Vec<usize> = (1..bytes.len())
            .filter(|&i| (bytes[i] & 0xC0) == 0x80)
            .collect();
        let frames = parse_in_pieces(bytes, &cuts).unwrap();
        let got: Vec<&str> = frames.iter().map(|f| f[0][2].as_str().unwrap()).collect();
        assert_eq!(got, texts);
    }

    #[test]
    fn an_incomplete_frame_waits_for_more_bytes() {
        let body = HELLO.as_bytes();
        let mut parser = FrameParser::new();
        let first_frame_end = HELLO.find("\n444").unwrap() + 1;
        assert_eq!(parser.push(&body[..first_frame_end - 2]).unwrap().len(), 0);
        assert_eq!(
            parser
                .push(&body[first_frame_end - 2..first_frame_end])
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_body_cut_inside_a_frame_is_truncated() {
        let body = &HELLO.as_bytes()[..200];
        let mut parser = FrameParser::new();
        assert!(parser.push(body).unwrap().is_empty());
        assert_eq!(parser.finish(), Err(FrameError::Truncated));
    }

    #[test]
    fn a_wrong_length_falls_back_to_the_line() {
        let body = ")]}'\n\n5\n[[\"a\",1]]\n30\n[[\"b\",2]]\n";
        let frames = parse_in_pieces(body.as_bytes(), &[]).unwrap();
        assert_eq!(frames, vec![json!([["a", 1]]), json!([["b", 2]])]);
        // Too long: it swallows part of the next frame, then recovers.
        let body = ")]}'\n\n15\n[[\"a\",1]]\n11\n[[\"b\",2]]\n";
        let frames = parse_in_pieces(body.as_bytes(), &[]).unwrap();
        assert_eq!(frames, vec![json!([["a", 1]]), json!([["b", 2]])]);
        // The recovery does not depend on where reads end.
        for body in [body, ")]}'\n\n5\n[[\"a\",1]]\n30\n[[\"b\",2]]\n"] {
            for cut in 0..body.len() {
                assert_eq!(parse_in_pieces(body.as_bytes(), &[cut]).unwrap(), frames);
            }
        }
    }

    /// Found by `tests/fuzz_stream.rs`: a length too long by a few units,
    /// on a frame that is not the last, runs to the end of the body; the
    /// frame was recovered from its line but the frames after it were lost.
    #[test]
    fn frames_after_an_overlong_length_at_the_end_are_kept() {
        let body = ")]}'\n\n10\n[]\n4\n[]\n";
        let expected = vec![json!([]), json!([])];
        for cut in 0..=body.len() {
            assert_eq!(
                parse_in_pieces(body.as_bytes(), &[cut]).unwrap(),
                expected,
                "cut at {cut}"
            );
        }
        let body = ")]}'\n\n40\n[[\"a\"]]\n9\n[[\"b\"]]\n9\n[[\"c\"]]\n";
        assert_eq!(
            parse_in_pieces(body.as_bytes(), &[]).unwrap(),
            vec![json!([["a"]]), json!([["b"]]), json!([["c"]])]
        );
    }

    /// Found by `tests/fuzz_stream.rs`: a read holding a frame and then
    /// something malformed lost the frame (the error came instead), so an
    /// in-band error code read together with garbage was reported as a
    /// malformed body, but as that code when the reads ended between them.
    #[test]
    fn an_error_comes_after_the_frames_read_before_it() {
        let body = b")]}'\n\n[[\"a\"]]\n<html>\n";
        for cut in 0..=body.len() {
            let mut parser = FrameParser::new();
            let mut frames = Vec::new();
            let mut error = None;
            for piece in [&body[..cut], &body[cut..]] {
                match parser.push(piece) {
                    Ok(more) => frames.extend(more),
                    Err(err) => {
                        error = Some(err);
                        break;
                    }
                }
            }
            let error = error.or_else(|| parser.finish().err());
            assert_eq!(frames, vec![json!([["a"]])], "cut at {cut}");
            assert!(
                matches!(error, Some(FrameError::Malformed(_))),
                "cut at {cut}"
            );
            assert!(parser.push(b"[[1]]\n").is_err(), "the error sticks");
        }
    }

    #[test]
    fn a_missing_prefix_and_unframed_lines_are_tolerated() {
        let frames = parse_in_pieces(b"[[\"x\"]]\n[[\"y\"]]", &[3]).unwrap();
        assert_eq!(frames, vec![json!([["x"]]), json!([["y"]])]);
    }

    #[test]
    fn html_is_malformed() {
        let mut parser = FrameParser::new();
        let err = parser
            .push(b"<html><body>Sorry</body></html>\n")
            .unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)));
    }

    #[test]
    fn the_prefix_may_itself_be_split() {
        let body = ERROR_1037.as_bytes();
        let whole = parse_in_pieces(body, &[]).unwrap();
        assert_eq!(whole.len(), 3);
        for cut in 1..6 {
            assert_eq!(parse_in_pieces(body, &[cut]).unwrap(), whole);
        }
    }
}
