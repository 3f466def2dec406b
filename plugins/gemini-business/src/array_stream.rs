//! Splits the streamed JSON array of `widgetStreamAssist` into its elements
//! as the bytes arrive.
//!
//! The body is one JSON array written progressively: `[`, objects separated
//! by `,` and newlines, `]`. A network read can end anywhere, so the scanner
//! keeps its state (nesting depth, inside a string, after a backslash)
//! between pushes. It works on bytes: every structural character is ASCII
//! and never occurs inside a multi-byte UTF-8 sequence, so a character split
//! across reads is simply carried along in the element's buffer.

/// Elements larger than this are refused (an inline image is the largest
/// thing the upstream may put in one).
pub const DEFAULT_MAX_ELEMENT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the opening `[` (anything there, such as an anti-XSSI
    /// prefix, is skipped).
    BeforeArray,
    /// Between elements: whitespace, `,`, or the closing `]`.
    BetweenElements,
    InElement,
    /// After the closing `]`.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// A byte that cannot appear between elements of the array.
    Unexpected {
        byte: u8,
        offset: u64,
    },
    ElementTooLarge {
        limit: usize,
    },
    /// The body ended before the closing `]`.
    Truncated {
        inside_element: bool,
    },
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Unexpected { byte, offset } => write!(
                f,
                "the answer is not a JSON array: unexpected byte 0x{byte:02x} at offset {offset}"
            ),
            ScanError::ElementTooLarge { limit } => {
                write!(f, "an element of the answer exceeds {limit} bytes")
            }
            ScanError::Truncated { inside_element } => write!(
                f,
                "the answer stream ended before its closing `]`{}",
                if *inside_element {
                    " (inside an element)"
                } else {
                    ""
                }
            ),
        }
    }
}

#[derive(Debug)]
pub struct ArrayScanner {
    phase: Phase,
    /// Nesting of `{`/`[` inside the current element.
    depth: u32,
    in_string: bool,
    /// The previous byte inside a string was an unescaped backslash.
    escaped: bool,
    element: Vec<u8>,
    max_element: usize,
    /// Bytes consumed so far, for error messages.
    offset: u64,
    /// The error found after elements that were handed out first.
    failed: Option<ScanError>,
}

impl Default for ArrayScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl ArrayScanner {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_ELEMENT_BYTES)
    }

    pub fn with_limit(max_element: usize) -> Self {
        ArrayScanner {
            phase: Phase::BeforeArray,
            depth: 0,
            in_string: false,
            escaped: false,
            element: Vec::new(),
            max_element,
            offset: 0,
            failed: None,
        }
    }

    /// Whether the closing `]` was seen.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Feeds bytes; returns the elements completed by them, each the raw
    /// JSON text of one top-level value. An error comes after the elements
    /// before it (returned now, the error on the next call), so that where
    /// reads end does not change what is seen; once failed, it stays failed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, ScanError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut complete = Vec::new();
        match self.scan(bytes, &mut complete) {
            Ok(()) => Ok(complete),
            Err(err) => {
                self.failed = Some(err.clone());
                if complete.is_empty() {
                    Err(err)
                } else {
                    Ok(complete)
                }
            }
        }
    }

    fn scan(&mut self, bytes: &[u8], complete: &mut Vec<Vec<u8>>) -> Result<(), ScanError> {
        for &byte in bytes {
            self.offset += 1;
            match self.phase {
                Phase::BeforeArray => {
                    if byte == b'[' {
                        self.phase = Phase::BetweenElements;
                    }
                }
                Phase::BetweenElements => match byte {
                    b' ' | b'\t' | b'\r' | b'\n' | b',' => {}
                    b']' => self.phase = Phase::Done,
                    b'{' | b'[' => {
                        self.phase = Phase::InElement;
                        self.depth = 1;
                        self.element.push(byte);
                    }
                    _ => {
                        return Err(ScanError::Unexpected {
                            byte,
                            offset: self.offset - 1,
                        });
                    }
                },
                Phase::InElement => {
                    let closed = self.element_byte(byte);
                    // Checked before an element is handed out, so that its
                    // closing byte cannot take it past the limit.
                    if self.element.len() > self.max_element {
                        return Err(ScanError::ElementTooLarge {
                            limit: self.max_element,
                        });
                    }
                    if closed {
                        complete.push(std::mem::take(&mut self.element));
                        self.phase = Phase::BetweenElements;
                    }
                }
                // Whatever follows the array is not ours to judge.
                Phase::Done => {}
            }
        }
        Ok(())
    }

    /// Adds one byte of an element; true when it closed the element.
    fn element_byte(&mut self, byte: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            } else if byte < 0x20 {
                // JSON forbids raw control characters in strings; the
                // upstream's own clients parse leniently, so escape them.
                self.element
                    .extend_from_slice(format!("\\u{byte:04x}").as_bytes());
                return false;
            }
            self.element.push(byte);
            return false;
        }
        self.element.push(byte);
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }

    /// Called at the end of the body: an error unless the array was closed.
    pub fn finish(&self) -> Result<(), ScanError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.phase {
            Phase::Done => Ok(()),
            Phase::InElement => Err(ScanError::Truncated {
                inside_element: true,
            }),
            Phase::BeforeArray | Phase::BetweenElements => Err(ScanError::Truncated {
                inside_element: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Pretty-printed like the upstream, with escapes, `\u` sequences,
    /// multi-byte characters, brackets inside strings and a raw tab.
    const BODY: &str = "[{\n  \"a\": \"quote \\\" back\\\\slash \\u00e9 \\ud83d\\ude00 }]{[\",\n  \"b\": [1, {\"c\": \"é😀中\"}]\n}\n,{\"d\": \"tab\there\"}\n,\r\n[true]\n]";

    fn parsed(elements: &[Vec<u8>]) -> Vec<Value> {
        elements
            .iter()
            .map(|raw| serde_json::from_slice(raw).unwrap())
            .collect()
    }

    fn expected() -> Vec<Value> {
        vec![
            serde_json::json!({"a": "quote \" back\\slash é 😀 }]{[", "b": [1, {"c": "é😀中"}]}),
            serde_json::json!({"d": "tab\there"}),
            serde_json::json!([true]),
        ]
    }

    #[test]
    fn a_whole_body_yields_every_element() {
        let mut scanner = ArrayScanner::new();
        let elements = scanner.push(BODY.as_bytes()).unwrap();
        assert_eq!(parsed(&elements), expected());
        assert!(scanner.is_done());
        assert_eq!(scanner.finish(), Ok(()));
    }

    #[test]
    fn every_split_point_gives_the_same_elements() {
        let bytes = BODY.as_bytes();
        for split in 0..=bytes.len() {
            let mut scanner = ArrayScanner::new();
            let mut elements = scanner.push(&bytes[..split]).unwrap();
            elements.extend(scanner.push(&bytes[split..]).unwrap());
            assert_eq!(parsed(&elements), expected(), "split at {split}");
            assert_eq!(scanner.finish(), Ok(()));
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_elements() {
        let mut scanner = ArrayScanner::new();
        let mut elements = Vec::new();
        for byte in BODY.as_bytes() {
            elements.extend(scanner.push(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(parsed(&elements), expected());
    }

    #[test]
    fn elements_come_out_as_soon_as_they_close() {
        let mut scanner = ArrayScanner::new();
        assert_eq!(scanner.push(b"[{\"x\":1}").unwrap().len(), 1);
        assert!(scanner.push(b"\n,{\"y\":").unwrap().is_empty());
        assert_eq!(scanner.push(b"2}").unwrap().len(), 1);
        assert_eq!(
            scanner.finish(),
            Err(ScanError::Truncated {
                inside_element: false
            })
        );
    }

    #[test]
    fn a_cut_inside_an_element_is_reported() {
        let mut scanner = ArrayScanner::new();
        scanner.push(b"[{\"x\":\"abc").unwrap();
        assert_eq!(
            scanner.finish(),
            Err(ScanError::Truncated {
                inside_element: true
            })
        );
        assert!(ArrayScanner::new().finish().is_err());
    }

    #[test]
    fn a_prefix_before_the_array_is_skipped() {
        let mut scanner = ArrayScanner::new();
        let elements = scanner.push(b")]}'\n[{\"x\":1}]").unwrap();
        assert_eq!(elements.len(), 1);
        assert!(scanner.is_done());
    }

    #[test]
    fn garbage_between_elements_is_an_error() {
        let mut scanner = ArrayScanner::new();
        // The element before the garbage comes first, then the error.
        assert_eq!(scanner.push(b"[{} x").unwrap().len(), 1);
        assert_eq!(
            scanner.finish(),
            Err(ScanError::Unexpected {
                byte: b'x',
                offset: 4
            })
        );
        let mut scanner = ArrayScanner::new();
        assert_eq!(
            scanner.push(b"[ x"),
            Err(ScanError::Unexpected {
                byte: b'x',
                offset: 2
            })
        );
    }

    /// Found by `tests/fuzz_array_stream.rs`: the closing byte was added
    /// after the size check, so an element one byte over the limit passed.
    #[test]
    fn an_element_one_byte_over_the_limit_is_refused() {
        let mut scanner = ArrayScanner::with_limit(1);
        assert_eq!(
            scanner.push(b"[[]]"),
            Err(ScanError::ElementTooLarge { limit: 1 })
        );
        let mut scanner = ArrayScanner::with_limit(8);
        assert_eq!(scanner.push(b"[{\"a\":12}]").unwrap().len(), 1);
        let mut scanner = ArrayScanner::with_limit(8);
        assert_eq!(
            scanner.push(b"[{\"a\":123}]"),
            Err(ScanError::ElementTooLarge { limit: 8 })
        );
    }

    /// Found by `tests/fuzz_array_stream.rs`: a read holding an element and
    /// then a stray byte lost the element (the error came instead), so an
    /// upstream error element read with garbage went unclassified, though
    /// it was read when the reads ended between them.
    #[test]
    fn an_error_comes_after_the_elements_read_before_it() {
        let body = b"[{\"error\":{\"code\":429}} x";
        for cut in 0..=body.len() {
            let mut scanner = ArrayScanner::new();
            let mut elements = Vec::new();
            let mut error = None;
            for piece in [&body[..cut], &body[cut..]] {
                match scanner.push(piece) {
                    Ok(more) => elements.extend(more),
                    Err(err) => {
                        error = Some(err);
                        break;
                    }
                }
            }
            let error = error.or_else(|| scanner.finish().err());
            assert_eq!(elements.len(), 1, "cut at {cut}");
            assert_eq!(
                error,
                Some(ScanError::Unexpected {
                    byte: b'x',
                    offset: 24
                }),
                "cut at {cut}"
            );
            assert!(scanner.push(b"]").is_err(), "the error sticks");
        }
    }

    #[test]
    fn oversized_elements_are_refused() {
        let mut scanner = ArrayScanner::with_limit(8);
        assert_eq!(
            scanner.push(b"[{\"long\":\"0123456789\"}]"),
            Err(ScanError::ElementTooLarge { limit: 8 })
        );
    }
}
