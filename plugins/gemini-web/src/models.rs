//! The model table: names clients use → the hash the web app selects a model
//! by, carried in header `x-goog-ext-525001261-jspb`.
//!
//! Google changes these hashes without notice (a stale one surfaces as in-band
//! error 1050/1052). Update [`MODELS`], or override per account with the
//! `model-overrides` setting (`name=hexid[:capacity]`, comma-separated) without
//! rebuilding the plugin.

/// One row: name, model hash (`None`: send no model header, the server picks),
/// account capacity tail of the header, and a display name.
pub struct ModelRow {
    pub name: &'static str,
    pub id: Option<&'static str>,
    pub capacity: u8,
    pub display: &'static str,
}

/// As of the reference library's newest snapshot (2026-04). Capacity: 1 free,
/// 2 advanced/Pro, 4 Plus.
pub const MODELS: &[ModelRow] = &[
    row("gemini-3-pro", Some("9d8ca3786ebdfbea"), 1, "Gemini 3 Pro"),
    row(
        "gemini-3-flash",
        Some("fbb127bbb056c959"),
        1,
        "Gemini 3 Flash",
    ),
    row(
        "gemini-3-flash-thinking",
        Some("5bf011840784117a"),
        1,
        "Gemini 3 Flash Thinking",
    ),
    row(
        "gemini-3-pro-plus",
        Some("e6fa609c3fa255c0"),
        4,
        "Gemini 3 Pro (Plus)",
    ),
    row(
        "gemini-3-flash-plus",
        Some("56fdd199312815e2"),
        4,
        "Gemini 3 Flash (Plus)",
    ),
    row(
        "gemini-3-flash-thinking-plus",
        Some("e051ce1aa80aa576"),
        4,
        "Gemini 3 Flash Thinking (Plus)",
    ),
    row(
        "gemini-3-pro-advanced",
        Some("e6fa609c3fa255c0"),
        2,
        "Gemini 3 Pro (Advanced)",
    ),
    row(
        "gemini-3-flash-advanced",
        Some("56fdd199312815e2"),
        2,
        "Gemini 3 Flash (Advanced)",
    ),
    row(
        "gemini-3-flash-thinking-advanced",
        Some("e051ce1aa80aa576"),
        2,
        "Gemini 3 Flash Thinking (Advanced)",
    ),
    row("unspecified", None, 1, "Gemini (server default)"),
];

const fn row(
    name: &'static str,
    id: Option<&'static str>,
    capacity: u8,
    display: &'static str,
) -> ModelRow {
    ModelRow {
        name,
        id,
        capacity,
        display,
    }
}

/// A resolved model: what the request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: String,
    pub id: Option<String>,
    pub capacity: u8,
}

impl Model {
    /// The value of `x-goog-ext-525001261-jspb`, or `None` for the server's
    /// default model. UNCONFIRMED: accounts whose status uses "capacity field
    /// 13" want `null,<capacity>` as the tail instead.
    pub fn header(&self) -> Option<String> {
        let id = self.id.as_ref()?;
        Some(format!(
            "[1,null,null,null,\"{id}\",null,null,0,[4],null,null,{}]",
            self.capacity
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    Unknown(String),
    BadOverride(String),
}

/// The model for a requested name (case-insensitive); overrides first.
pub fn resolve(name: &str, overrides: Option<&str>) -> Result<Model, ModelError> {
    let wanted = name.trim().to_ascii_lowercase();
    if let Some(overrides) = overrides {
        for model in parse_overrides(overrides)? {
            if model.name == wanted {
                return Ok(model);
            }
        }
    }
    MODELS
        .iter()
        .find(|row| row.name == wanted)
        .map(|row| Model {
            name: row.name.to_string(),
            id: row.id.map(str::to_string),
            capacity: row.capacity,
        })
        .ok_or_else(|| ModelError::Unknown(name.to_string()))
}

/// Parses `name=hexid[:capacity]` entries separated by commas or whitespace.
pub fn parse_overrides(text: &str) -> Result<Vec<Model>, ModelError> {
    text.split([',', ' ', '\n', '\t'])
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = || ModelError::BadOverride(entry.to_string());
            let (name, spec) = entry.split_once('=').ok_or_else(bad)?;
            let (id, capacity) = match spec.split_once(':') {
                Some((id, capacity)) => (id, capacity.parse::<u8>().map_err(|_| bad())?),
                None => (spec, 1),
            };
            let is_hash = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
            if name.is_empty() || !is_hash {
                return Err(bad());
            }
            Ok(Model {
                name: name.to_ascii_lowercase(),
                id: Some(id.to_ascii_lowercase()),
                capacity,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_resolve_and_build_the_header() {
        let model = resolve("Gemini-3-Pro", None).unwrap();
        assert_eq!(
            model.header().unwrap(),
            r#"[1,null,null,null,"9d8ca3786ebdfbea",null,null,0,[4],null,null,1]"#
        );
        let plus = resolve("gemini-3-flash-thinking-plus", None).unwrap();
        assert!(plus.header().unwrap().ends_with(",4]"));
        assert_eq!(resolve("unspecified", None).unwrap().header(), None);
        assert_eq!(
            resolve("gpt-4", None),
            Err(ModelError::Unknown("gpt-4".into()))
        );
        let header: serde_json::Value = serde_json::from_str(&model.header().unwrap()).unwrap();
        assert_eq!(header[4], "9d8ca3786ebdfbea");
    }

    #[test]
    fn overrides_replace_and_add_models() {
        let overrides = "gemini-3-pro=ABCDEF0123456789:2, gemini-lite=cf41b0e0dd7d53e5";
        let pro = resolve("gemini-3-pro", Some(overrides)).unwrap();
        assert_eq!(pro.id.as_deref(), Some("abcdef0123456789"));
        assert_eq!(pro.capacity, 2);
        let lite = resolve("gemini-lite", Some(overrides)).unwrap();
        assert_eq!(lite.capacity, 1);
        assert!(resolve("gemini-3-flash", Some(overrides)).is_ok());
        assert!(matches!(
            resolve("x", Some("x=not-hex")),
            Err(ModelError::BadOverride(_))
        ));
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in MODELS.iter().enumerate() {
            assert!(MODELS[i + 1..].iter().all(|b| b.name != a.name));
        }
    }
}
