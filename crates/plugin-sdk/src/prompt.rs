//! Folds a conversation into one prompt, for upstreams that take a single
//! text (web chats, completion-style APIs).
//!
//! The gateway's API is stateless, so every request carries the whole
//! history: `System:` / `Human:` / `Assistant:` blocks separated by blank
//! lines, ending with `Assistant: ` for the model to continue. A lone user
//! message is sent as it is. Inline images and files come back as
//! attachments for the plugin to upload; the transcript names them where
//! they occurred. Earlier thinking stays out.

use crate::{ContentPart, Message, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// A remote image URL: the host does not fetch them and neither do we.
    RemoteImage,
    Empty,
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PromptError::RemoteImage => write!(
                f,
                "this upstream cannot fetch remote image URLs; send the image inline as a data: URL"
            ),
            PromptError::Empty => write!(f, "the conversation has no text or attachment to send"),
        }
    }
}

pub fn fold(messages: &[Message]) -> Result<Prompt, PromptError> {
    let mut attachments = Vec::new();
    let mut blocks = Vec::new();
    for message in messages {
        let mut pieces = Vec::new();
        for part in &message.content {
            match part {
                ContentPart::Text(text) => pieces.push(text.clone()),
                ContentPart::Image(media) | ContentPart::File(media) => {
                    let name = attachment_name(attachments.len() + 1, &media.mime_type);
                    pieces.push(format!("[attached: {name}]"));
                    attachments.push(Attachment {
                        name,
                        mime_type: media.mime_type.clone(),
                        data: media.data.clone(),
                    });
                }
                ContentPart::ImageUrl(_) => return Err(PromptError::RemoteImage),
                ContentPart::Reasoning(_) => {}
            }
        }
        for call in &message.tool_calls {
            pieces.push(format!(
                "[called tool {} (id {}) with arguments {}]",
                call.name, call.id, call.arguments
            ));
        }
        blocks.push((message, pieces));
    }

    let has_text = blocks
        .iter()
        .any(|(_, pieces)| pieces.iter().any(|piece| !piece.trim().is_empty()));
    if !has_text && attachments.is_empty() {
        return Err(PromptError::Empty);
    }
    let lone_user_message = blocks.len() == 1 && blocks[0].0.role == Role::User;
    let text = if lone_user_message {
        // Attachment markers are noise when nothing else is in the prompt.
        blocks[0]
            .1
            .iter()
            .filter(|piece| !piece.starts_with("[attached: "))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let mut transcript: Vec<String> = blocks
            .iter()
            .filter(|(_, pieces)| !pieces.is_empty())
            .map(|(message, pieces)| format!("{}: {}", speaker(message), pieces.join("\n")))
            .collect();
        transcript.push("Assistant: ".to_string());
        transcript.join("\n\n")
    };
    Ok(Prompt { text, attachments })
}

fn speaker(message: &Message) -> String {
    match message.role {
        Role::System => "System".to_string(),
        Role::User => "Human".to_string(),
        Role::Assistant => "Assistant".to_string(),
        Role::Tool => match &message.tool_call_id {
            Some(id) => format!("Tool result ({id})"),
            None => "Tool result".to_string(),
        },
    }
}

/// The name [`fold`] gives the `index`th attachment (from 1): `image_1.png`,
/// `file_2.pdf`, by its type.
pub fn attachment_name(index: usize, mime_type: &str) -> String {
    let extension = match mime_type.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        _ => "bin",
    };
    let kind = if mime_type.starts_with("image/") {
        "image"
    } else {
        "file"
    };
    format!("{kind}_{index}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Media, ToolCall};

    fn text(t: &str) -> ContentPart {
        ContentPart::Text(t.into())
    }

    #[test]
    fn a_lone_user_message_is_sent_as_is() {
        let prompt = fold(&[Message::new(Role::User, vec![text("Hi there")])]).unwrap();
        assert_eq!(prompt.text, "Hi there");
        assert!(prompt.attachments.is_empty());
    }

    #[test]
    fn a_conversation_becomes_a_transcript() {
        let mut assistant = Message::new(Role::Assistant, vec![text("Hello!")]);
        assistant.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "clock".into(),
            arguments: "{}".into(),
            provider_data: None,
        }];
        let mut tool = Message::new(Role::Tool, vec![text("12:00")]);
        tool.tool_call_id = Some("c1".into());
        let prompt = fold(&[
            Message::new(Role::System, vec![text("Be brief.")]),
            Message::new(Role::User, vec![text("Hi")]),
            assistant,
            tool,
            Message::new(Role::User, vec![text("Time?")]),
        ])
        .unwrap();
        assert_eq!(
            prompt.text,
            "System: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n[called tool clock (id c1) with arguments {}]\n\nTool result (c1): 12:00\n\nHuman: Time?\n\nAssistant: "
        );
    }

    #[test]
    fn images_are_attached_in_order() {
        let image = |mime: &str, byte| {
            ContentPart::Image(Media {
                mime_type: mime.into(),
                data: vec![byte],
            })
        };
        let prompt = fold(&[Message::new(
            Role::User,
            vec![
                text("Compare"),
                image("image/png", 1),
                image("image/jpeg", 2),
            ],
        )])
        .unwrap();
        assert_eq!(prompt.text, "Compare");
        let names: Vec<&str> = prompt.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["image_1.png", "image_2.jpg"]);
        assert_eq!(prompt.attachments[1].data, [2]);

        let prompt = fold(&[
            Message::new(Role::System, vec![text("s")]),
            Message::new(Role::User, vec![image("image/webp", 3), text("what is it")]),
        ])
        .unwrap();
        assert!(
            prompt
                .text
                .contains("Human: [attached: image_1.webp]\nwhat is it")
        );
    }

    #[test]
    fn remote_images_and_empty_prompts_are_refused() {
        assert_eq!(
            fold(&[Message::new(
                Role::User,
                vec![ContentPart::ImageUrl("https://x/y.png".into())]
            )]),
            Err(PromptError::RemoteImage)
        );
        assert_eq!(
            fold(&[Message::new(Role::User, vec![text("  ")])]),
            Err(PromptError::Empty)
        );
        assert_eq!(fold(&[]), Err(PromptError::Empty));
    }
}
