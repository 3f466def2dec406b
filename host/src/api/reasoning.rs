//! Where a model's reasoning goes, per route: the `reasoning_content` field
//! (the default), inline in the content between `<think>` and `</think>`
//! (Gemi2Api's `ENABLE_THINKING`, for clients that only show content), or
//! nowhere.

use crate::config::ReasoningMode;

pub const OPEN: &str = "<think>\n";
pub const CLOSE: &str = "\n</think>\n\n";

/// What one piece of reasoning becomes.
#[derive(Debug, PartialEq, Eq)]
pub enum Shaped {
    Field(String),
    Content(String),
    Nothing,
}

/// Tracks an open `<think>` across the pieces of a stream.
#[derive(Debug)]
pub struct Reasoning {
    mode: ReasoningMode,
    open: bool,
}

impl Reasoning {
    pub fn new(mode: ReasoningMode) -> Self {
        Reasoning { mode, open: false }
    }

    pub fn piece(&mut self, text: &str) -> Shaped {
        match self.mode {
            ReasoningMode::ReasoningContent => Shaped::Field(text.to_string()),
            ReasoningMode::Drop => Shaped::Nothing,
            ReasoningMode::Think if self.open => Shaped::Content(text.to_string()),
            ReasoningMode::Think => {
                self.open = true;
                Shaped::Content(format!("{OPEN}{text}"))
            }
        }
    }

    /// The closing tag, once, before anything that is not reasoning (and at
    /// the end of the answer).
    pub fn close(&mut self) -> Option<&'static str> {
        std::mem::take(&mut self.open).then_some(CLOSE)
    }

    /// A whole answer's content and reasoning field.
    pub fn whole(mode: ReasoningMode, content: String, reasoning: String) -> (String, String) {
        match mode {
            ReasoningMode::ReasoningContent => (content, reasoning),
            ReasoningMode::Drop => (content, String::new()),
            ReasoningMode::Think if reasoning.is_empty() => (content, reasoning),
            ReasoningMode::Think => (format!("{OPEN}{reasoning}{CLOSE}{content}"), String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_mode_wraps_the_reasoning_once_in_a_stream_and_whole() {
        let mut shaper = Reasoning::new(ReasoningMode::Think);
        assert_eq!(shaper.close(), None, "nothing open yet");
        assert_eq!(shaper.piece("a"), Shaped::Content("<think>\na".into()));
        assert_eq!(shaper.piece("b"), Shaped::Content("b".into()));
        assert_eq!(shaper.close(), Some(CLOSE));
        assert_eq!(shaper.close(), None);
        assert_eq!(
            Reasoning::whole(ReasoningMode::Think, "hi".into(), "ab".into()),
            ("<think>\nab\n</think>\n\nhi".to_string(), String::new())
        );
        assert_eq!(
            Reasoning::whole(ReasoningMode::Drop, "hi".into(), "ab".into()).1,
            ""
        );
        assert_eq!(
            Reasoning::new(ReasoningMode::Drop).piece("x"),
            Shaped::Nothing
        );
    }
}
