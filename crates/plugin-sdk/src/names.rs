//! Helpers over the contract's types: media as data URLs, finish reasons by
//! their OpenAI names (the names the contract's enum mirrors).

use base64::Engine;

use crate::{FinishReason, Media};

impl Media {
    /// `data:<mime-type>;base64,<data>`.
    pub fn data_url(&self) -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(&self.data);
        format!("data:{};base64,{data}", self.mime_type)
    }
}

impl FinishReason {
    /// By OpenAI's name (`stop`, `length`, `tool_calls` or the older
    /// `function_call`, `content_filter`; `-` for `_` too); anything else is
    /// `other`.
    pub fn from_name(name: &str) -> Self {
        match name.replace('-', "_").as_str() {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{FinishReason, Media};

    #[test]
    fn data_urls() {
        let media = Media {
            mime_type: "image/png".into(),
            data: vec![1, 2, 3, 4],
        };
        assert_eq!(media.data_url(), "data:image/png;base64,AQIDBA==");
    }

    #[test]
    fn finish_reasons_by_name() {
        let named = |name| format!("{:?}", FinishReason::from_name(name));
        assert_eq!(named("stop"), format!("{:?}", FinishReason::Stop));
        assert_eq!(named("length"), format!("{:?}", FinishReason::Length));
        assert_eq!(
            named("tool_calls"),
            format!("{:?}", FinishReason::ToolCalls)
        );
        assert_eq!(
            named("tool-calls"),
            format!("{:?}", FinishReason::ToolCalls)
        );
        assert_eq!(
            named("function_call"),
            format!("{:?}", FinishReason::ToolCalls)
        );
        assert_eq!(
            named("content_filter"),
            format!("{:?}", FinishReason::ContentFilter)
        );
        assert_eq!(named("eos"), format!("{:?}", FinishReason::Other));
    }
}
