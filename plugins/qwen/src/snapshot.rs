//! Cumulative snapshots → deltas.
//!
//! Tongyi sends the whole answer so far in every event (and chat.qwen.ai does
//! the same for its thinking summaries). A client wants only what is new.
//!
//! Two irregularities are handled:
//! - a snapshot cut inside a multi-byte character: the server decodes it
//!   lossily, so the snapshot ends in U+FFFD. That tail is held back until a
//!   later snapshot completes it.
//! - a snapshot that does not extend the previous one. If it is a prefix of
//!   what was already emitted (the text shrank), nothing is emitted until it
//!   grows past it again. Otherwise the upstream restarted its answer: the
//!   new text is emitted whole, as Qwen-2api does, since emitted text cannot
//!   be taken back.

/// What one snapshot adds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    /// Text to append; may be empty.
    pub text: String,
    /// The snapshot did not continue the previous text.
    pub restarted: bool,
}

#[derive(Debug, Default)]
pub struct SnapshotDiff {
    /// The text the current snapshot sequence has produced so far.
    seen: String,
}

impl SnapshotDiff {
    pub fn new() -> Self {
        Self::default()
    }

    /// Diffs the next snapshot against what came before.
    pub fn next(&mut self, snapshot: &str) -> Delta {
        let settled = snapshot.trim_end_matches(char::REPLACEMENT_CHARACTER);
        if let Some(new) = settled.strip_prefix(self.seen.as_str()) {
            let text = new.to_string();
            self.seen.push_str(new);
            return Delta {
                text,
                restarted: false,
            };
        }
        if self.seen.starts_with(settled) {
            return Delta::default();
        }
        self.seen = settled.to_string();
        Delta {
            text: settled.to_string(),
            restarted: true,
        }
    }

    /// The text produced so far.
    pub fn text(&self) -> &str {
        &self.seen
    }

    /// Whether any text was produced.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deltas(snapshots: &[&str]) -> Vec<String> {
        let mut diff = SnapshotDiff::new();
        snapshots.iter().map(|s| diff.next(s).text).collect()
    }

    #[test]
    fn growing_snapshots_become_suffixes() {
        assert_eq!(
            deltas(&["Hel", "Hello, I am", "Hello, I am", "Hello, I am Qwen."]),
            ["Hel", "lo, I am", "", " Qwen."]
        );
    }

    #[test]
    fn a_character_cut_in_a_snapshot_waits_for_the_next_one() {
        // "你好，我是" with the last character cut: the server shows U+FFFD.
        assert_eq!(
            deltas(&[
                "你好，我\u{FFFD}",
                "你好，我是",
                "你好，我是通\u{FFFD}\u{FFFD}",
                "你好，我是通义千问。"
            ]),
            ["你好，我", "是", "通", "义千问。"]
        );
    }

    #[test]
    fn a_restarted_snapshot_is_emitted_whole_and_becomes_the_new_base() {
        let mut diff = SnapshotDiff::new();
        assert_eq!(diff.next("Hello, wor").text, "Hello, wor");
        let restart = diff.next("Sorry, ");
        assert_eq!(
            restart,
            Delta {
                text: "Sorry, ".into(),
                restarted: true
            }
        );
        assert_eq!(diff.next("Sorry, let me retry.").text, "let me retry.");
    }

    #[test]
    fn a_shrunk_snapshot_emits_nothing_until_it_grows_past_the_old_text() {
        assert_eq!(
            deltas(&["Hello, world", "Hello", "Hello, world", "Hello, world!"]),
            ["Hello, world", "", "", "!"]
        );
    }

    #[test]
    fn empty_and_replacement_only_snapshots_emit_nothing() {
        let mut diff = SnapshotDiff::new();
        assert_eq!(diff.next(""), Delta::default());
        assert_eq!(diff.next("\u{FFFD}"), Delta::default());
        assert!(diff.is_empty());
    }
}
