//! What an ask should run into, chosen by a token in the prompt (mock-kit's
//! `#scenario=429`, or the older `[mock:429]`, several allowed), by `POST /__mock/scenario {"scenario": "429"}`, or by
//! [`crate::MockUpstream::set_next_scenario`] (the last two apply to the
//! next ask only).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// HTTP 429 with the RESOURCE_EXHAUSTED body. Token `429`.
    RateLimited,
    /// 200 whose first element is `{"error": {"code": 429, …}}`. Token `429-stream`.
    RateLimitedInStream,
    /// HTTP 403 PERMISSION_DENIED. Token `403`.
    Forbidden,
    /// The first ask in a session gets 401 and the key it was signed with is
    /// revoked, so the client must fetch a new key and retry. Token `401-once`.
    UnauthorizedOnce,
    /// `[`, two text elements, then the connection drops. Token `cut`.
    Cut,
    /// 200 with only `[{"uToken": …}]`. Token `utoken`.
    TokenOnly,
    /// Thought elements, then SUCCEEDED with no text. Token `thoughts-only`.
    ThoughtsOnly,
    /// `state: SKIPPED` with `CUSTOMER_POLICY_VIOLATION`. Token `skip`.
    PolicySkip,
    /// The answer is [`crate::TRICKY_PARTS`]: quotes, backslashes, `\u`
    /// escapes, multi-byte characters, a raw tab. Token `tricky`.
    Tricky,
    /// The answer is the query text the mock received. Token `echo`.
    Echo,
    /// A generated image even without `imageGenerationSpec`. Token `image`.
    Image,
    /// `widgetListSessionFileMetadata` answers 500 for this session. Token `metadata-500`.
    MetadataFails,
    /// The first download of this session's files answers 401. Token `download-401-once`.
    DownloadUnauthorizedOnce,
    /// Downloads answer 302 to an unauthenticated URL on another origin
    /// (`http://localhost:<port>/__mock/files/…`, like a signed storage
    /// URL). Token `download-redirect`.
    DownloadRedirect,
    /// The whole answer, then the body ends cleanly without the closing `]`.
    /// Token `unterminated`.
    Unterminated,
    /// The answer's text, then the body ends cleanly without its last
    /// element (and without `]`). Token `unterminated-mid-element`.
    UnterminatedMidElement,
    /// A 500 `INTERNAL` error element after the thoughts, then the answer as
    /// usual. Token `error-element`.
    ErrorElement,
    /// Only a 500 `INTERNAL` error element. Token `error-element-only`.
    ErrorElementOnly,
    /// `downloadFile` answers 503 twice, then the file. Token `download-503-twice`.
    DownloadUnavailableTwice,
    /// The stream's first piece, then nothing until
    /// [`crate::MockUpstream::release`]. Token `hold`.
    Hold,
}

impl Scenario {
    pub const ALL: [Scenario; 20] = [
        Scenario::RateLimited,
        Scenario::RateLimitedInStream,
        Scenario::Forbidden,
        Scenario::UnauthorizedOnce,
        Scenario::Cut,
        Scenario::TokenOnly,
        Scenario::ThoughtsOnly,
        Scenario::PolicySkip,
        Scenario::Tricky,
        Scenario::Echo,
        Scenario::Image,
        Scenario::MetadataFails,
        Scenario::DownloadUnauthorizedOnce,
        Scenario::DownloadRedirect,
        Scenario::Unterminated,
        Scenario::UnterminatedMidElement,
        Scenario::ErrorElement,
        Scenario::ErrorElementOnly,
        Scenario::DownloadUnavailableTwice,
        Scenario::Hold,
    ];

    pub fn token(self) -> &'static str {
        match self {
            Scenario::RateLimited => "429",
            Scenario::RateLimitedInStream => "429-stream",
            Scenario::Forbidden => "403",
            Scenario::UnauthorizedOnce => "401-once",
            Scenario::Cut => "cut",
            Scenario::TokenOnly => "utoken",
            Scenario::ThoughtsOnly => "thoughts-only",
            Scenario::PolicySkip => "skip",
            Scenario::Tricky => "tricky",
            Scenario::Echo => "echo",
            Scenario::Image => "image",
            Scenario::MetadataFails => "metadata-500",
            Scenario::DownloadUnauthorizedOnce => "download-401-once",
            Scenario::DownloadRedirect => "download-redirect",
            Scenario::Unterminated => "unterminated",
            Scenario::UnterminatedMidElement => "unterminated-mid-element",
            Scenario::ErrorElement => "error-element",
            Scenario::ErrorElementOnly => "error-element-only",
            Scenario::DownloadUnavailableTwice => "download-503-twice",
            Scenario::Hold => "hold",
        }
    }

    pub fn from_token(token: &str) -> Option<Self> {
        Scenario::ALL.into_iter().find(|s| s.token() == token)
    }

    /// The `[mock:…]` marker to put in a prompt.
    pub fn marker(self) -> String {
        format!("[mock:{}]", self.token())
    }
}

/// Every `[mock:<token>]` marker in `text`.
pub fn scenarios_in(text: &str) -> Vec<Scenario> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[mock:") {
        let after = &rest[start + "[mock:".len()..];
        let Some(end) = after.find(']') else { break };
        if let Some(scenario) = Scenario::from_token(&after[..end]) {
            found.push(scenario);
        }
        rest = &after[end..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_anywhere_in_the_prompt() {
        assert_eq!(
            scenarios_in("draw [mock:image] then [mock:download-401-once] [mock:nope]"),
            vec![Scenario::Image, Scenario::DownloadUnauthorizedOnce]
        );
        assert!(scenarios_in("no markers [mock:").is_empty());
        for scenario in Scenario::ALL {
            assert_eq!(scenarios_in(&scenario.marker()), vec![scenario]);
        }
    }
}
