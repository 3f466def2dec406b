//! Canned behaviours (`docs/protocols/vertex.md`, "The mock"), chosen by the
//! `x-mock-scenario` header or by the model name: `mock-<scenario>` (so a
//! gateway route `"vertex-*"` reaches it as `vertex-mock-429`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// An echo of the last user text.
    Normal,
    /// A `thought: true` part first, and `thoughtsTokenCount`.
    Thinking,
    /// A `functionCall` of the first declared function, or, once the last
    /// turn carries its `functionResponse`, a text quoting it.
    ToolCall,
    /// `200` with `promptFeedback.blockReason: SAFETY` and no candidates.
    BlockedPrompt,
    /// A candidate with `finishReason: SAFETY` and no content.
    BlockedOutput,
    /// `finishReason: MAX_TOKENS`.
    MaxTokens,
    /// `401 UNAUTHENTICATED`, whatever the token.
    ExpiredToken,
    /// `403 PERMISSION_DENIED`.
    Permission,
    /// `404 NOT_FOUND` publisher model.
    NotFound,
    /// `400 INVALID_ARGUMENT` "Please use a valid role: user, model."
    BadRole,
    /// `429 RESOURCE_EXHAUSTED` with a `RetryInfo.retryDelay`.
    RateLimited,
    /// `500 INTERNAL`.
    Internal,
    /// `503 UNAVAILABLE`.
    Unavailable,
    /// Two chunks, then `data: {"error":{"code":503,…}}`, then the end.
    MidstreamError,
    /// Two chunks, then the connection is aborted.
    Disconnect,
    /// The first chunk, then nothing until the test calls `release()`.
    Hold,
}

impl Scenario {
    pub const ALL: &[(&str, Scenario)] = &[
        ("normal", Scenario::Normal),
        ("thinking", Scenario::Thinking),
        ("tool_call", Scenario::ToolCall),
        ("blocked_prompt", Scenario::BlockedPrompt),
        ("blocked_output", Scenario::BlockedOutput),
        ("max_tokens", Scenario::MaxTokens),
        ("expired_token", Scenario::ExpiredToken),
        ("permission", Scenario::Permission),
        ("not_found", Scenario::NotFound),
        ("bad_role", Scenario::BadRole),
        ("429", Scenario::RateLimited),
        ("500", Scenario::Internal),
        ("503", Scenario::Unavailable),
        ("midstream_error", Scenario::MidstreamError),
        ("disconnect", Scenario::Disconnect),
        ("hold", Scenario::Hold),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, scenario)| *scenario == self)
            .map(|(name, _)| *name)
            .unwrap_or("normal")
    }

    fn named(name: &str) -> Option<Scenario> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, scenario)| *scenario)
    }

    /// The header wins; then a `mock-<scenario>` model; else `Normal`.
    pub fn select(header: Option<&str>, model: &str) -> Scenario {
        header
            .and_then(Self::named)
            .or_else(|| model.strip_prefix("mock-").and_then(Self::named))
            .unwrap_or(Scenario::Normal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        assert_eq!(Scenario::select(None, "gemini-2.5-flash"), Scenario::Normal);
        assert_eq!(Scenario::select(None, "mock-429"), Scenario::RateLimited);
        assert_eq!(Scenario::select(None, "mock-tool-call"), Scenario::ToolCall);
        assert_eq!(Scenario::select(Some("hold"), "mock-429"), Scenario::Hold);
        assert_eq!(Scenario::select(Some("nonsense"), "x"), Scenario::Normal);
        for (name, scenario) in Scenario::ALL {
            assert_eq!(scenario.name(), *name);
        }
    }
}
