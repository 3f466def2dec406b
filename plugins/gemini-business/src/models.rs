//! The models this plugin serves, in one table.
//!
//! The upstream takes plain model names in `assistGenerationConfig.modelId`;
//! "auto" omits that field and lets the server choose. Image generation is a
//! tool switch (`imageGenerationSpec`), exposed as the virtual model
//! `gemini-imagen` as the seed does.

use serde_json::{Value, json};

/// Which tools a request switches on (`streamAssistRequest.toolsSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tools {
    /// Google search grounding plus the default tool registry.
    Standard,
    /// Image generation only, as the seed's `gemini-imagen` sends it.
    ImageGeneration,
}

impl Tools {
    pub fn spec(self) -> Value {
        match self {
            Tools::Standard => json!({
                "webGroundingSpec": {},
                "toolRegistry": "default_tool_registry",
            }),
            Tools::ImageGeneration => json!({ "imageGenerationSpec": {} }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name clients use.
    pub id: &'static str,
    pub display_name: &'static str,
    /// What goes into `assistGenerationConfig.modelId`; `None` omits the field.
    pub upstream_id: Option<&'static str>,
    pub tools: Tools,
}

impl ModelSpec {
    /// Whether a request to this model spends the account's image quota
    /// rather than its text quota (the seed cools the two down differently).
    pub fn generates_images(&self) -> bool {
        self.tools == Tools::ImageGeneration
    }
}

const fn model(
    id: &'static str,
    display_name: &'static str,
    upstream_id: Option<&'static str>,
    tools: Tools,
) -> ModelSpec {
    ModelSpec {
        id,
        display_name,
        upstream_id,
        tools,
    }
}

pub const MODELS: &[ModelSpec] = &[
    model("gemini-auto", "Gemini (auto)", None, Tools::Standard),
    model(
        "gemini-2.5-flash",
        "Gemini 2.5 Flash",
        Some("gemini-2.5-flash"),
        Tools::Standard,
    ),
    model(
        "gemini-2.5-pro",
        "Gemini 2.5 Pro",
        Some("gemini-2.5-pro"),
        Tools::Standard,
    ),
    model(
        "gemini-3-flash-preview",
        "Gemini 3 Flash (preview)",
        Some("gemini-3-flash-preview"),
        Tools::Standard,
    ),
    model(
        "gemini-3.1-pro-preview",
        "Gemini 3.1 Pro (preview)",
        Some("gemini-3.1-pro-preview"),
        Tools::Standard,
    ),
    model(
        "gemini-imagen",
        "Gemini image generation",
        None,
        Tools::ImageGeneration,
    ),
];

/// Names the seeds and older clients send, each mapped to the nearest model
/// Business has (checked 2026-12-05 against yukkcat `bc97009`, whose
/// `MODEL_MAPPING` dropped `gemini-3-pro-preview`; its aliases route
/// `nano-banana-2` and `gemini-3.1-flash-image` to image generation).
pub const ALIASES: &[(&str, &str)] = &[
    ("gemini-3-pro-preview", "gemini-3.1-pro-preview"),
    ("gemini-3-pro", "gemini-3.1-pro-preview"),
    ("gemini-3.1-pro", "gemini-3.1-pro-preview"),
    ("gemini-3-flash", "gemini-3-flash-preview"),
    ("gemini-2.5-flash-lite", "gemini-2.5-flash"),
    ("gemini-2.0-flash", "gemini-2.5-flash"),
    ("gemini-2.0-flash-001", "gemini-2.5-flash"),
    ("gemini-2.0-flash-lite", "gemini-2.5-flash"),
    ("gemini-2.0-flash-lite-001", "gemini-2.5-flash"),
    ("gemini-flash-latest", "gemini-2.5-flash"),
    ("gemini-pro-latest", "gemini-2.5-pro"),
    ("nano-banana-2", "gemini-imagen"),
    ("gemini-3.1-flash-image", "gemini-imagen"),
    ("gemini-2.5-flash-image", "gemini-imagen"),
];

/// The model a client's name stands for: case-insensitive, a `models/`
/// prefix ignored, aliases resolved.
pub fn find(id: &str) -> Option<&'static ModelSpec> {
    let id = id.trim().to_ascii_lowercase();
    let id = id.strip_prefix("models/").unwrap_or(&id);
    let target = ALIASES
        .iter()
        .find(|(alias, _)| *alias == id)
        .map_or(id, |(_, target)| *target);
    MODELS.iter().find(|spec| spec.id == target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_omits_the_model_id_and_named_models_send_theirs() {
        assert_eq!(find("gemini-auto").unwrap().upstream_id, None);
        assert_eq!(
            find("gemini-2.5-pro").unwrap().upstream_id,
            Some("gemini-2.5-pro")
        );
        assert!(find("gemini-veo").is_none());
    }

    #[test]
    fn image_generation_sends_only_its_tool() {
        let imagen = find("gemini-imagen").unwrap();
        assert!(imagen.generates_images());
        assert_eq!(imagen.tools.spec(), json!({"imageGenerationSpec": {}}));
        assert_eq!(
            Tools::Standard.spec()["toolRegistry"],
            json!("default_tool_registry")
        );
    }

    #[test]
    fn seed_names_map_to_the_nearest_model_case_insensitively() {
        let upstream = |id: &str| find(id).map(|spec| spec.id);
        assert_eq!(
            upstream("gemini-3-pro-preview"),
            Some("gemini-3.1-pro-preview")
        );
        assert_eq!(upstream("Gemini-2.5-PRO"), Some("gemini-2.5-pro"));
        assert_eq!(
            upstream("models/gemini-2.0-flash"),
            Some("gemini-2.5-flash")
        );
        assert_eq!(upstream("nano-banana-2"), Some("gemini-imagen"));
        assert!(find("gemini-veo").is_none());
        for (alias, target) in ALIASES {
            assert!(find(target).is_some(), "{alias} → {target}");
            assert!(
                MODELS.iter().all(|m| m.id != *alias),
                "{alias} is a model too"
            );
        }
    }

    #[test]
    fn ids_are_unique() {
        for (i, a) in MODELS.iter().enumerate() {
            assert!(MODELS[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
        }
    }
}
