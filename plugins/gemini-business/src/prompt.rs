//! The conversation as one query text plus its attachments.
//!
//! Every request opens a fresh upstream session (the server would keep the
//! history of a reused one, but the gateway may switch accounts between
//! turns), so earlier turns travel flattened into the text, as the seed does
//! when it moves a conversation to a new session.

use wasmgate_plugin_sdk::prompt::attachment_name;
/// The query text, and the files to upload with `widgetAddContextFile`.
pub use wasmgate_plugin_sdk::prompt::{Attachment, Prompt};
use wasmgate_plugin_sdk::{ContentPart, Message, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// The upstream takes file contents only; the host does not fetch URLs.
    ImageUrl,
    NoUserMessage,
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PromptError::ImageUrl => {
                "Gemini Business takes images as data, not URLs: send them as data: URLs"
            }
            PromptError::NoUserMessage => "the conversation has no user message",
        })
    }
}

pub fn build_prompt(messages: &[Message]) -> Result<Prompt, PromptError> {
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(PromptError::NoUserMessage);
    }
    let mut attachments = Vec::new();
    for message in messages.iter().filter(|m| m.role == Role::User) {
        for part in &message.content {
            match part {
                ContentPart::Image(media) | ContentPart::File(media) => {
                    attachments.push(Attachment {
                        name: attachment_name(attachments.len() + 1, &media.mime_type),
                        mime_type: media.mime_type.clone(),
                        data: media.data.clone(),
                    })
                }
                ContentPart::ImageUrl(_) => return Err(PromptError::ImageUrl),
                ContentPart::Text(_) | ContentPart::Reasoning(_) => {}
            }
        }
    }
    let turns: Vec<&Message> = messages.iter().filter(|m| m.role != Role::System).collect();
    let system: Vec<String> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(message_text)
        .filter(|t| !t.is_empty())
        .collect();
    let text = match turns.as_slice() {
        // A single question: the system prompt, then the question.
        [only] if only.role == Role::User => {
            let mut parts = system;
            parts.push(message_text(only));
            join_nonempty(&parts)
        }
        _ => {
            let mut parts: Vec<String> = system.iter().map(|s| format!("System: {s}")).collect();
            parts.extend(turns.iter().map(|m| labelled(m)));
            join_nonempty(&parts)
        }
    };
    // An empty query may get an empty answer; a space does not.
    let text = if text.trim().is_empty() {
        " ".to_string()
    } else {
        text
    };
    Ok(Prompt { text, attachments })
}

fn labelled(message: &Message) -> String {
    let label = match message.role {
        Role::System => "System",
        Role::User => "User",
        Role::Assistant => "Assistant",
        Role::Tool => "Tool result",
    };
    let mut text = message_text(message);
    for call in &message.tool_calls {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[called {}({})]", call.name, call.arguments));
    }
    format!("{label}: {text}")
}

fn message_text(message: &Message) -> String {
    let texts: Vec<&str> = message
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_plugin_sdk::{Media, ToolCall};

    #[test]
    fn a_single_question_goes_as_it_is() {
        let prompt = build_prompt(&[Message::text(Role::User, "Hi there")]).unwrap();
        assert_eq!(prompt.text, "Hi there");
        let prompt = build_prompt(&[
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi"),
        ])
        .unwrap();
        assert_eq!(prompt.text, "Be brief.\n\nHi");
    }

    #[test]
    fn a_conversation_is_flattened_with_roles() {
        let mut assistant = Message::text(Role::Assistant, "Let me look.");
        assistant.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "lookup".into(),
            arguments: "{\"q\":1}".into(),
            provider_data: None,
        });
        let prompt = build_prompt(&[
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi"),
            assistant,
            Message::text(Role::Tool, "42"),
            Message::text(Role::User, "And now?"),
        ])
        .unwrap();
        assert_eq!(
            prompt.text,
            "System: Be brief.\n\nUser: Hi\n\nAssistant: Let me look.\n[called lookup({\"q\":1})]\n\nTool result: 42\n\nUser: And now?"
        );
    }

    #[test]
    fn attachments_are_collected_and_urls_refused() {
        let image = ContentPart::Image(Media {
            mime_type: "image/png".into(),
            data: vec![1, 2],
        });
        let pdf = ContentPart::File(Media {
            mime_type: "application/pdf".into(),
            data: vec![3],
        });
        let prompt = build_prompt(&[Message::new(Role::User, vec![image, pdf])]).unwrap();
        assert_eq!(prompt.attachments.len(), 2);
        assert_eq!(prompt.attachments[1].mime_type, "application/pdf");
        assert_eq!(prompt.attachments[1].name, "file_2.pdf");
        // No text at all still sends something.
        assert_eq!(prompt.text, " ");
        let url = ContentPart::ImageUrl("https://example.com/a.png".into());
        assert_eq!(
            build_prompt(&[Message::new(Role::User, vec![url])]),
            Err(PromptError::ImageUrl)
        );
        assert_eq!(
            build_prompt(&[Message::text(Role::System, "x")]),
            Err(PromptError::NoUserMessage)
        );
    }
}
