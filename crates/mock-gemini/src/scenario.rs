//! Canned behaviours, chosen by the `x-mock-scenario` header or by the model
//! name (`thinking`, `mock-thinking`, `mock-tool-call`: `-` and `_` are the same).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The echo answer, 2–4 chunks when streamed.
    Normal,
    /// A `thought: true` part first, and `thoughtsTokenCount`.
    Thinking,
    /// A `functionCall` part (with a `thoughtSignature`) and `finishReason: STOP`.
    ToolCall,
    /// `promptFeedback.blockReason`, no candidates.
    BlockedPrompt,
    /// A candidate with `finishReason: SAFETY` and no content.
    BlockedOutput,
    /// One empty text part.
    Empty,
    /// A prefix of the echo, `finishReason: MAX_TOKENS`.
    MaxTokens,
    /// 503 UNAVAILABLE.
    Overloaded,
    /// 500 INTERNAL.
    Internal,
    /// The request is held ([`crate::MockOptions::timeout_hold`]) before any answer.
    Timeout,
    /// Two chunks, then a `{"error":…}` event, then the end.
    MidstreamError,
    /// Two chunks, then the error as raw JSON lines (no `data:`), then the end.
    MidstreamRawError,
    /// Two chunks, then the connection is aborted.
    Disconnect,
    /// A wait ([`crate::MockOptions::slow_first_byte`]) before the first chunk.
    SlowFirstByte,
    /// The first chunk, then nothing until [`crate::MockUpstream::release`].
    Hold,
}

impl Scenario {
    pub const ALL: [Scenario; 15] = [
        Scenario::Normal,
        Scenario::Thinking,
        Scenario::ToolCall,
        Scenario::BlockedPrompt,
        Scenario::BlockedOutput,
        Scenario::Empty,
        Scenario::MaxTokens,
        Scenario::Overloaded,
        Scenario::Internal,
        Scenario::Timeout,
        Scenario::MidstreamError,
        Scenario::MidstreamRawError,
        Scenario::Disconnect,
        Scenario::SlowFirstByte,
        Scenario::Hold,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::Thinking => "thinking",
            Scenario::ToolCall => "tool_call",
            Scenario::BlockedPrompt => "blocked_prompt",
            Scenario::BlockedOutput => "blocked_output",
            Scenario::Empty => "empty",
            Scenario::MaxTokens => "max_tokens",
            Scenario::Overloaded => "overloaded",
            Scenario::Internal => "internal",
            Scenario::Timeout => "timeout",
            Scenario::MidstreamError => "midstream_error",
            Scenario::MidstreamRawError => "midstream_raw_error",
            Scenario::Disconnect => "disconnect",
            Scenario::SlowFirstByte => "slow_first_byte",
            Scenario::Hold => "hold",
        }
    }

    /// A scenario name, with or without a `mock-` prefix.
    pub fn parse(text: &str) -> Option<Scenario> {
        let name = text.trim().to_ascii_lowercase().replace('-', "_");
        let name = name.strip_prefix("mock_").unwrap_or(&name);
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == name)
    }

    /// The scenario of a request: the header wins over the model name.
    pub fn of_request(header: Option<&str>, model: &str) -> Scenario {
        header
            .and_then(Scenario::parse)
            .or_else(|| Scenario::parse(model))
            .unwrap_or(Scenario::Normal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_models_and_headers() {
        assert_eq!(Scenario::parse("thinking"), Some(Scenario::Thinking));
        assert_eq!(Scenario::parse("mock-tool-call"), Some(Scenario::ToolCall));
        assert_eq!(
            Scenario::parse("MOCK_blocked_prompt"),
            Some(Scenario::BlockedPrompt)
        );
        assert_eq!(Scenario::parse("gemini-2.5-flash"), None);
        assert_eq!(
            Scenario::of_request(Some("hold"), "mock-thinking"),
            Scenario::Hold
        );
        assert_eq!(
            Scenario::of_request(Some("nonsense"), "mock-empty"),
            Scenario::Empty
        );
        assert_eq!(
            Scenario::of_request(None, "gemini-2.5-pro"),
            Scenario::Normal
        );
        for scenario in Scenario::ALL {
            assert_eq!(Scenario::parse(scenario.name()), Some(scenario));
        }
    }
}
