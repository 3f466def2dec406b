//! Which answer a StreamGenerate prompt asks for: mock-kit's
//! `#scenario=<token>`, or the older `[mock:<token>]` (e.g. `1037`, `cut`,
//! `http:500`, `after:1096`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    Answer,
    Echo,
    InBandError(i64),
    ErrorAfterAnswer(i64),
    HttpStatus(u16),
    Rejected,
    Queue,
    Flicker,
    Cut,
    CutPersisted,
    Image,
    /// An edited image, delivered in the sparse field `"8"`.
    ImageEdit,
}

pub fn pick(prompt: &str) -> Scenario {
    let marked = mock_kit::scenario_of(None, prompt.as_bytes());
    let tokens = marked.iter().map(String::as_str).chain(tokens(prompt));
    for token in tokens {
        let scenario = match token {
            "echo" => Scenario::Echo,
            "rejected" => Scenario::Rejected,
            "queue" => Scenario::Queue,
            "flicker" => Scenario::Flicker,
            "cut" => Scenario::Cut,
            "cut-persisted" => Scenario::CutPersisted,
            "image" => Scenario::Image,
            "image-edit" => Scenario::ImageEdit,
            other => {
                if let Some(code) = other.strip_prefix("after:").and_then(|c| c.parse().ok()) {
                    Scenario::ErrorAfterAnswer(code)
                } else if let Some(status) =
                    other.strip_prefix("http:").and_then(|s| s.parse().ok())
                {
                    Scenario::HttpStatus(status)
                } else if let Ok(code) = other.parse() {
                    Scenario::InBandError(code)
                } else {
                    continue;
                }
            }
        };
        return scenario;
    }
    if prompt.to_ascii_lowercase().contains("generate an image") {
        return Scenario::Image;
    }
    Scenario::Answer
}

fn tokens(prompt: &str) -> impl Iterator<Item = &str> {
    prompt
        .split("[mock:")
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(token, _)| token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_pick_scenarios() {
        assert_eq!(pick("hello"), Scenario::Answer);
        assert_eq!(pick("x [mock:1037] y"), Scenario::InBandError(1037));
        assert_eq!(pick("[mock:after:1096]"), Scenario::ErrorAfterAnswer(1096));
        assert_eq!(pick("[mock:http:500]"), Scenario::HttpStatus(500));
        assert_eq!(pick("Human: [mock:cut]\n\nAssistant: "), Scenario::Cut);
        assert_eq!(pick("[mock:cut-persisted]"), Scenario::CutPersisted);
        assert_eq!(pick("Please generate an image of a cat"), Scenario::Image);
        assert_eq!(pick("[mock:unknown] [mock:echo]"), Scenario::Echo);
        assert_eq!(pick("[mock:image-edit]"), Scenario::ImageEdit);
        assert_eq!(pick("hi #scenario=1037"), Scenario::InBandError(1037));
        assert_eq!(
            pick("#scenario=http:429 [mock:cut]"),
            Scenario::HttpStatus(429)
        );
    }
}
