//! The caller's conversation → the single prompt text both sites take.
//!
//! Neither web chat accepts a whole history in one request, and neither knows
//! a system role, so the history is folded into one user message (the
//! documented mapping; the fold formats are the ones the reference proxies
//! use and live in one function per site).

use serde_json::Value;
use wasmgate_plugin_sdk::{
    ChatRequest, ContentPart, Message, ProviderError, ReasoningEffort, Role, ToolChoice,
};

/// A conversation folded for one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedPrompt {
    pub text: String,
    /// Images given as `http(s)` URLs, in order (chat.qwen.ai only).
    pub image_urls: Vec<String>,
}

/// Rejects what neither site can do, instead of silently dropping it.
pub fn check_supported(request: &ChatRequest) -> Result<(), ProviderError> {
    // Tools are not native to either site: with `auto` the model simply
    // answers in text, but a caller that insists on a call must be told.
    match &request.tool_choice {
        Some(ToolChoice::Required) | Some(ToolChoice::Function(_)) if !request.tools.is_empty() => {
            Err(ProviderError::BadRequest(
                "the Qwen web chat cannot call tools; tool_choice must be auto or none".into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Tongyi: one text; several messages become `<|im_start|>role … <|im_end|>`
/// blocks (qwen-free-api's fold), ending with an open assistant block.
/// Images cannot be passed without the upload flow, which is not implemented.
pub fn fold_for_tongyi(messages: &[Message]) -> Result<FoldedPrompt, ProviderError> {
    let turns = turns(messages, false)?;
    let text = match turns.as_slice() {
        [(Role::User, text)] => text.clone(),
        _ => {
            let mut folded = String::new();
            for (role, text) in &turns {
                folded.push_str(&format!(
                    "<|im_start|>{}\n{text}<|im_end|>\n",
                    role_name(*role)
                ));
            }
            folded.push_str("<|im_start|>assistant\n");
            folded
        }
    };
    Ok(FoldedPrompt {
        text,
        image_urls: Vec::new(),
    })
}

/// chat.qwen.ai: one text; several messages become `role:text` joined by `;`
/// with system messages first (the fold of Rfym21/Qwen2API and the Go proxy).
/// Image URLs pass through as image items.
pub fn fold_for_chat_qwen_ai(messages: &[Message]) -> Result<FoldedPrompt, ProviderError> {
    let mut image_urls = Vec::new();
    for message in messages.iter().filter(|m| m.role == Role::User) {
        for part in &message.content {
            if let ContentPart::ImageUrl(url) = part {
                image_urls.push(url.clone());
            }
        }
    }
    let mut turns = turns(messages, true)?;
    turns.sort_by_key(|(role, _)| *role != Role::System);
    let text = match turns.as_slice() {
        [(Role::User, text)] => text.clone(),
        [] => String::new(),
        _ => turns
            .iter()
            .map(|(role, text)| format!("{}:{text}", role_name(*role)))
            .collect::<Vec<_>>()
            .join(";"),
    };
    if text.is_empty() && image_urls.is_empty() {
        return Err(ProviderError::BadRequest(
            "the conversation has no text".into(),
        ));
    }
    Ok(FoldedPrompt { text, image_urls })
}

/// Each message's text, with unsupported parts refused.
fn turns(
    messages: &[Message],
    image_urls_allowed: bool,
) -> Result<Vec<(Role, String)>, ProviderError> {
    let mut turns = Vec::new();
    for message in messages {
        let mut pieces: Vec<String> = Vec::new();
        for part in &message.content {
            match part {
                ContentPart::Text(text) if text.is_empty() => {}
                ContentPart::Reasoning(_) => {}
                ContentPart::Text(text) => pieces.push(text.clone()),
                ContentPart::ImageUrl(_) if image_urls_allowed => {}
                ContentPart::ImageUrl(_) => {
                    return Err(ProviderError::BadRequest(
                        "tongyi accounts cannot take images yet (the upload flow is not implemented)".into(),
                    ));
                }
                ContentPart::Image(_) | ContentPart::File(_) => {
                    return Err(ProviderError::BadRequest(
                        "the Qwen web plugin cannot upload inline images or files yet; pass images as http(s) URLs to a chat.qwen.ai account".into(),
                    ));
                }
            }
        }
        for call in &message.tool_calls {
            pieces.push(format!("[called {}({})]", call.name, call.arguments));
        }
        let text = pieces.join("\n");
        if !text.trim().is_empty() {
            turns.push((message.role, text));
        }
    }
    if turns.is_empty() && !image_urls_allowed {
        return Err(ProviderError::BadRequest(
            "the conversation has no text".into(),
        ));
    }
    Ok(turns)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// Whether the caller asked for thinking: `enable_thinking` (Qwen's own
/// switch, in the extra fields) wins over the reasoning effort.
pub fn asked_thinking(request: &ChatRequest) -> Option<bool> {
    let extra: Option<Value> = request
        .extra
        .as_deref()
        .and_then(|extra| serde_json::from_str(extra).ok());
    if let Some(enabled) = extra
        .as_ref()
        .and_then(|extra| extra.get("enable_thinking")?.as_bool())
    {
        return Some(enabled);
    }
    let effort = request.reasoning_effort?;
    Some(!matches!(
        effort,
        ReasoningEffort::None | ReasoningEffort::Minimal
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_plugin_sdk::{Media, ToolCall};

    fn request_of(messages: Vec<Message>) -> ChatRequest {
        ChatRequest::new("qwen-max", messages, true)
    }

    #[test]
    fn a_single_user_message_is_sent_as_is() {
        let messages = [Message::text(Role::User, "Hello")];
        assert_eq!(fold_for_tongyi(&messages).unwrap().text, "Hello");
        assert_eq!(fold_for_chat_qwen_ai(&messages).unwrap().text, "Hello");
    }

    #[test]
    fn tongyi_folds_history_into_im_blocks() {
        let messages = [
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi"),
            Message::text(Role::Assistant, "Hello!"),
            Message::text(Role::User, "2+2?"),
        ];
        assert_eq!(
            fold_for_tongyi(&messages).unwrap().text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn chat_qwen_ai_folds_history_with_system_first() {
        let messages = [
            Message::text(Role::User, "Hi"),
            Message::text(Role::System, "Be brief."),
            Message::text(Role::Assistant, "Hello!"),
            Message::new(
                Role::User,
                vec![
                    ContentPart::Text("What is this?".into()),
                    ContentPart::ImageUrl("https://example.com/cat.png".into()),
                ],
            ),
        ];
        let folded = fold_for_chat_qwen_ai(&messages).unwrap();
        assert_eq!(
            folded.text,
            "system:Be brief.;user:Hi;assistant:Hello!;user:What is this?"
        );
        assert_eq!(folded.image_urls, ["https://example.com/cat.png"]);
    }

    #[test]
    fn tool_turns_are_kept_as_text() {
        let mut call = Message::text(Role::Assistant, "");
        call.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "clock".into(),
            arguments: "{}".into(),
            provider_data: None,
        }];
        let messages = [
            Message::text(Role::User, "time?"),
            call,
            Message::text(Role::Tool, "12:00"),
        ];
        assert_eq!(
            fold_for_chat_qwen_ai(&messages).unwrap().text,
            "user:time?;assistant:[called clock({})];tool:12:00"
        );
    }

    #[test]
    fn media_is_refused_not_dropped() {
        let image = Media {
            mime_type: "image/png".into(),
            data: vec![1, 2, 3],
        };
        let inline = [Message::new(
            Role::User,
            vec![ContentPart::Text("x".into()), ContentPart::Image(image)],
        )];
        assert!(matches!(
            fold_for_tongyi(&inline),
            Err(ProviderError::BadRequest(_))
        ));
        assert!(matches!(
            fold_for_chat_qwen_ai(&inline),
            Err(ProviderError::BadRequest(_))
        ));
        let url = [Message::new(
            Role::User,
            vec![ContentPart::ImageUrl("https://x/y.png".into())],
        )];
        assert!(matches!(
            fold_for_tongyi(&url),
            Err(ProviderError::BadRequest(_))
        ));
        assert!(fold_for_chat_qwen_ai(&url).is_ok());
    }

    #[test]
    fn an_empty_conversation_is_a_bad_request() {
        assert!(matches!(
            fold_for_tongyi(&[]),
            Err(ProviderError::BadRequest(_))
        ));
        assert!(matches!(
            fold_for_chat_qwen_ai(&[Message::text(Role::User, "  ")]),
            Err(ProviderError::BadRequest(_))
        ));
    }

    #[test]
    fn insisting_on_tools_is_refused() {
        let mut request = request_of(vec![Message::text(Role::User, "hi")]);
        request.tools = vec![wasmgate_plugin_sdk::Tool {
            name: "clock".into(),
            description: None,
            parameters: None,
        }];
        request.tool_choice = Some(ToolChoice::Auto);
        assert!(check_supported(&request).is_ok());
        request.tool_choice = Some(ToolChoice::Required);
        assert!(matches!(
            check_supported(&request),
            Err(ProviderError::BadRequest(_))
        ));
    }

    #[test]
    fn thinking_switches() {
        let ask = |effort: Option<ReasoningEffort>, extra: Option<&str>| {
            let mut request = request_of(vec![Message::text(Role::User, "hi")]);
            request.reasoning_effort = effort;
            request.extra = extra.map(str::to_string);
            asked_thinking(&request)
        };
        assert_eq!(ask(None, None), None);
        assert_eq!(ask(None, Some(r#"{"enable_thinking":true}"#)), Some(true));
        assert_eq!(ask(Some(ReasoningEffort::High), None), Some(true));
        assert_eq!(ask(Some(ReasoningEffort::None), None), Some(false));
        assert_eq!(ask(Some(ReasoningEffort::Minimal), None), Some(false));
        assert_eq!(
            ask(
                Some(ReasoningEffort::High),
                Some(r#"{"enable_thinking":false}"#)
            ),
            Some(false)
        );
        assert_eq!(ask(None, Some("not json")), None);
    }
}
