//! chat.qwen.ai phase text: increments, with a fallback for snapshots.
//!
//! With `incremental_output:true` each delta carries only new text (what the
//! proxies rely on). One third-party capture of the web client shows the
//! answer as growing snapshots instead. UNCONFIRMED which the server sends in
//! which case, so the mode is read off the stream: if the second non-empty
//! piece extends the first, the pieces are snapshots and are diffed.

use crate::snapshot::SnapshotDiff;

#[derive(Debug, Default)]
pub struct PhaseText {
    pieces: u32,
    first: String,
    cumulative: bool,
    diff: SnapshotDiff,
}

impl PhaseText {
    pub fn new() -> Self {
        Self::default()
    }

    /// The new text one delta's `content` adds.
    pub fn next(&mut self, content: &str) -> String {
        if content.is_empty() {
            return String::new();
        }
        self.pieces += 1;
        match self.pieces {
            1 => {
                self.first = content.to_string();
                self.diff.next(content);
                return content.to_string();
            }
            2 => self.cumulative = looks_cumulative(&self.first, content),
            _ => {}
        }
        if self.cumulative {
            self.diff.next(content).text
        } else {
            content.to_string()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pieces == 0
    }
}

/// Snapshots: the second piece repeats the first and goes on.
fn looks_cumulative(first: &str, second: &str) -> bool {
    second.len() > first.len() && second.starts_with(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str]) -> String {
        let mut text = PhaseText::new();
        pieces.iter().map(|p| text.next(p)).collect()
    }

    #[test]
    fn increments_are_passed_through() {
        assert_eq!(run(&["Hel", "lo", "", "!", " Hel", "lo"]), "Hello! Hello");
    }

    #[test]
    fn snapshots_are_detected_and_diffed() {
        assert_eq!(
            run(&["Hel", "Hello", "Hello, wor", "Hello, world"]),
            "Hello, world"
        );
    }
}
