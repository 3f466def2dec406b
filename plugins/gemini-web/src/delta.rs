//! Cumulative snapshots → deltas.
//!
//! Each frame re-sends the whole text so far. The tracker remembers what it
//! has emitted and yields only the new suffix. When a snapshot does not extend
//! what was emitted (the upstream reformatted something), it aligns the two
//! while skipping whitespace and Markdown punctuation, and emits what follows
//! the aligned point: a small duplication is better than lost text.

use crate::display_text::displayable;

#[derive(Debug, Default, Clone)]
pub struct DeltaTracker {
    sent: String,
}

impl DeltaTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The new text a snapshot adds, if any.
    pub fn update(&mut self, raw: &str, complete: bool) -> Option<String> {
        let shown = displayable(raw, complete);
        let delta = if let Some(suffix) = shown.strip_prefix(self.sent.as_str()) {
            suffix.to_string()
        } else if self.sent.starts_with(&shown) {
            // A shorter snapshot: keep what was emitted, wait for it to grow.
            return None;
        } else {
            shown[aligned_end(&self.sent, &shown)..].to_string()
        };
        self.sent = shown;
        (!delta.is_empty()).then_some(delta)
    }

    /// Everything emitted so far.
    pub fn sent(&self) -> &str {
        &self.sent
    }
}

/// Characters the upstream adds or drops when it reformats.
fn is_formatting(c: char) -> bool {
    c.is_whitespace() || "\\[]{}()<>`*_#~+:!&^$|-".contains(c)
}

/// The byte offset in `new` up to which it matches `sent`, formatting aside.
fn aligned_end(sent: &str, new: &str) -> usize {
    let mut old = sent.chars().peekable();
    let mut fresh = new.char_indices().peekable();
    while let (Some(&a), Some(&(_, b))) = (old.peek(), fresh.peek()) {
        if a == b {
            old.next();
            fresh.next();
        } else if is_formatting(b) {
            fresh.next();
        } else if is_formatting(a) {
            old.next();
        } else {
            break;
        }
    }
    fresh.peek().map_or(new.len(), |&(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(snapshots: &[(&str, bool)]) -> (Vec<String>, String) {
        let mut tracker = DeltaTracker::new();
        let deltas: Vec<String> = snapshots
            .iter()
            .filter_map(|(raw, complete)| tracker.update(raw, *complete))
            .collect();
        (deltas, tracker.sent().to_string())
    }

    #[test]
    fn growing_snapshots_give_their_suffixes() {
        let (deltas, sent) = run(&[
            ("Hel", false),
            ("Hello, wor", false),
            ("Hello, world! 👋", true),
        ]);
        assert_eq!(deltas, ["Hel", "lo, wor", "ld! 👋"]);
        assert_eq!(sent, "Hello, world! 👋");
    }

    #[test]
    fn deltas_join_to_the_final_text_whatever_the_cut_points() {
        let escaped = "Fish &amp; chips &lt;3 — 你好 𠜎 see http://googleusercontent.com/image_generation_content/0 \\*done\\*\n```rust\nfn x() {}\n```";
        let final_text = displayable(escaped, true);
        let chars: Vec<(usize, char)> = escaped.char_indices().collect();
        for step in 1..8 {
            let mut tracker = DeltaTracker::new();
            let mut joined = String::new();
            for (i, _) in chars.iter().step_by(step) {
                joined.extend(tracker.update(&escaped[..*i], false));
            }
            joined.extend(tracker.update(escaped, true));
            assert_eq!(joined, final_text, "step {step}");
        }
    }

    #[test]
    fn flicker_is_not_duplicated() {
        let (deltas, sent) = run(&[
            ("Use **bold\\*", false),
            ("Use **bold** text\n```", false),
            ("Use **bold** text\n```rust\nfn main() {}\n```", true),
        ]);
        assert_eq!(deltas.concat(), sent);
        assert_eq!(sent, "Use **bold** text\n```rust\nfn main() {}\n```");
    }

    #[test]
    fn a_reformatted_snapshot_continues_after_the_aligned_point() {
        let (deltas, _) = run(&[("- item one", false), ("* item one, two", false)]);
        assert_eq!(deltas, ["- item one", ", two"]);
    }

    #[test]
    fn a_shorter_snapshot_emits_nothing_and_loses_nothing() {
        let (deltas, sent) = run(&[
            ("Hello wor", false),
            ("Hello", false),
            ("Hello world", true),
        ]);
        assert_eq!(deltas, ["Hello wor", "ld"]);
        assert_eq!(sent, "Hello world");
    }
}
