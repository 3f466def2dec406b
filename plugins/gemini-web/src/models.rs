//! Models: the names clients send → what the web app selects a model by.
//!
//! The web app selects a model with a hex id plus a "model number" (1 Flash,
//! 3 Pro, 6 Flash-Lite) and a thinking level, all in header
//! `x-goog-ext-525001261-jspb`. Ids go stale without notice, so the ids come
//! from the account's own model list (RPC `otAQ7b`, see [`crate::rpc`]) when
//! it is known; [`MODELS`] is only the fallback. A client's name is read as a
//! family (Flash, Pro, Flash-Lite), a tier and a thinking level, so the names
//! other gateways use (`gemini-2.5-pro`, `gemini-3.6-flash-extended`, …) land
//! on the nearest model. The `model-overrides` setting
//! (`name=hexid[:capacity[:number]]`) pins ids without a rebuild.

use serde::{Deserialize, Serialize};

/// Model families by the number the web app sends with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Flash,
    Pro,
    Lite,
}

impl Family {
    pub fn number(self) -> u32 {
        match self {
            Family::Flash => 1,
            Family::Pro => 3,
            Family::Lite => 6,
        }
    }

    pub fn from_number(number: u32) -> Option<Family> {
        [Family::Flash, Family::Pro, Family::Lite]
            .into_iter()
            .find(|family| family.number() == number)
    }

    /// The plugin's own name for the family's base model.
    pub fn name(self) -> &'static str {
        match self {
            Family::Flash => "gemini-3-flash",
            Family::Pro => "gemini-3-pro",
            Family::Lite => "gemini-3-flash-lite",
        }
    }
}

/// Subscription tier a name asks for: the paid tiers use other ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Base,
    Advanced,
    Plus,
}

/// One row of the fallback table.
pub struct ModelRow {
    pub family: Family,
    pub tier: Tier,
    pub id: &'static str,
    /// The header's capacity element: 1 free, 2 advanced/Pro, 4 Plus.
    pub capacity: u8,
}

/// The fallback table, checked 2026-12-05 against Gemi2Api-Server's README
/// (2026-07-22, browser captures) and gemini_webapi (2026-04). The two
/// "thinking" ids of early 2026 appear in no newer source: thinking is now
/// a level in the header, not a model.
pub const MODELS: &[ModelRow] = &[
    row(Family::Flash, Tier::Base, "fbb127bbb056c959", 1),
    row(Family::Pro, Tier::Base, "9d8ca3786ebdfbea", 1),
    row(Family::Lite, Tier::Base, "cf41b0e0dd7d53e5", 1),
    row(Family::Flash, Tier::Advanced, "56fdd199312815e2", 2),
    row(Family::Pro, Tier::Advanced, "e6fa609c3fa255c0", 2),
    row(Family::Lite, Tier::Advanced, "8c46e95b1a07cecc", 2),
    row(Family::Flash, Tier::Plus, "56fdd199312815e2", 4),
    row(Family::Pro, Tier::Plus, "e6fa609c3fa255c0", 4),
    row(Family::Lite, Tier::Plus, "8c46e95b1a07cecc", 4),
];

const fn row(family: Family, tier: Tier, id: &'static str, capacity: u8) -> ModelRow {
    ModelRow {
        family,
        tier,
        id,
        capacity,
    }
}

/// The name of the server's default model (no model header).
pub const UNSPECIFIED: &str = "unspecified";

/// The names [`crate::component`] lists when the account's list is unknown.
pub fn table_names() -> Vec<(String, String)> {
    let mut names = Vec::new();
    for row in MODELS {
        let suffix = match row.tier {
            Tier::Base => "",
            Tier::Advanced => "-advanced",
            Tier::Plus => "-plus",
        };
        names.push((
            format!("{}{suffix}", row.family.name()),
            display(row.family, row.tier),
        ));
    }
    names.push((UNSPECIFIED.into(), "Gemini (server default)".into()));
    names
}

fn display(family: Family, tier: Tier) -> String {
    let family = match family {
        Family::Flash => "Gemini 3 Flash",
        Family::Pro => "Gemini 3 Pro",
        Family::Lite => "Gemini 3 Flash-Lite",
    };
    match tier {
        Tier::Base => family.to_string(),
        Tier::Advanced => format!("{family} (Advanced)"),
        Tier::Plus => format!("{family} (Plus)"),
    }
}

/// A model of the account's list (`otAQ7b`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub id: String,
    pub display: String,
    pub number: Option<u32>,
}

impl Listed {
    /// Its family: by model number, else by a known id.
    pub fn family(&self) -> Option<Family> {
        self.number.and_then(Family::from_number).or_else(|| {
            MODELS
                .iter()
                .find(|row| row.id == self.id)
                .map(|row| row.family)
        })
    }

    /// The name clients use for it.
    pub fn name(&self) -> String {
        match self.family() {
            Some(family) => family.name().to_string(),
            None => format!("gemini-web-{}", slug(&self.display, &self.id)),
        }
    }
}

fn slug(display: &str, id: &str) -> String {
    let slug: String = display
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        id.to_string()
    } else {
        slug
    }
}

/// What the account's status RPC said about models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovered {
    pub models: Vec<Listed>,
    /// The account's capacity, from its tier and capability flags.
    pub capacity: u8,
}

/// A resolved model: what the request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: String,
    /// `None`: the server's default model, no model header.
    pub id: Option<String>,
    pub capacity: u8,
    pub number: u32,
    /// 1 normal, 2 extended thinking.
    pub thinking: u8,
}

impl Model {
    /// The value of `x-goog-ext-525001261-jspb` (17 elements, as browsers
    /// send it since mid-2026), or `None` for the server's default model.
    /// `client_id` is the per-client session UUID (upper case).
    pub fn header(&self, client_id: &str) -> Option<String> {
        let id = self.id.as_ref()?;
        Some(format!(
            "[1,null,null,null,\"{id}\",null,null,0,[4,5,6,8],null,null,{},null,null,{},{},\"{client_id}\"]",
            self.capacity, self.number, self.thinking
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    Unknown(String),
    BadOverride(String),
}

/// What a client's model name asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    /// `None`: the server's default model.
    pub family: Option<Family>,
    pub tier: Tier,
    pub thinking: u8,
    /// A `gemini-web-<display>` name of a listed model no family covers.
    pub listed_slug: Option<String>,
}

/// Reads a client's model name (case-insensitive).
pub fn parse(name: &str) -> Result<Wanted, ModelError> {
    let unknown = || ModelError::Unknown(name.to_string());
    let lower = name.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix("models/").unwrap_or(&lower).to_string();
    let mut wanted = Wanted {
        name: lower.clone(),
        family: None,
        tier: Tier::Base,
        thinking: 1,
        listed_slug: None,
    };
    if lower == UNSPECIFIED {
        return Ok(wanted);
    }
    if let Some(slug) = lower.strip_prefix("gemini-web-") {
        wanted.listed_slug = Some(slug.to_string());
        return Ok(wanted);
    }
    let mut rest = lower.strip_prefix("gemini-").ok_or_else(unknown)?;
    // Deep research is its own flow upstream; its nearest chat model is Pro
    // with extended thinking.
    if rest == "deep-research" {
        wanted.family = Some(Family::Pro);
        wanted.thinking = 2;
        return Ok(wanted);
    }
    // An optional version (`3`, `2.5`, `3.1`): every version maps to today's
    // model of the family.
    if let Some((version, after)) = rest.split_once('-')
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        rest = after;
    }
    let (family, rest) = if let Some(after) = rest.strip_prefix("flash-lite") {
        (Family::Lite, after)
    } else if let Some(after) = rest.strip_prefix("flash") {
        (Family::Flash, after)
    } else if let Some(after) = rest.strip_prefix("pro") {
        (Family::Pro, after)
    } else {
        return Err(unknown());
    };
    wanted.family = Some(family);
    let words = match rest {
        "" => "",
        _ => rest.strip_prefix('-').ok_or_else(unknown)?,
    };
    for word in words.split('-').filter(|w| !w.is_empty()) {
        match word {
            "thinking" | "extended" => wanted.thinking = 2,
            "plus" => wanted.tier = Tier::Plus,
            "advanced" => wanted.tier = Tier::Advanced,
            "preview" | "latest" | "exp" => {}
            _ => return Err(unknown()),
        }
    }
    Ok(wanted)
}

/// The model for a requested name: overrides first, then the account's
/// discovered list, then the fallback table.
pub fn resolve(
    name: &str,
    overrides: Option<&str>,
    discovered: Option<&Discovered>,
) -> Result<Model, ModelError> {
    let wanted_name = name.trim().to_ascii_lowercase();
    if let Some(overrides) = overrides {
        for model in parse_overrides(overrides)? {
            if model.name == wanted_name {
                return Ok(model);
            }
        }
    }
    let wanted = parse(name)?;
    let model = |id: Option<String>, capacity: u8, number: u32| Model {
        name: wanted.name.clone(),
        id,
        capacity,
        number,
        thinking: wanted.thinking,
    };
    if let Some(slug) = &wanted.listed_slug {
        let listed = discovered
            .and_then(|d| {
                d.models
                    .iter()
                    .find(|m| m.family().is_none() && slug_matches(m, slug))
            })
            .ok_or_else(|| ModelError::Unknown(name.to_string()))?;
        let capacity = discovered.map_or(1, |d| d.capacity);
        return Ok(model(
            Some(listed.id.clone()),
            capacity,
            listed.number.unwrap_or(1),
        ));
    }
    let Some(family) = wanted.family else {
        return Ok(model(None, 1, Family::Flash.number()));
    };
    if wanted.tier == Tier::Base
        && let Some(discovered) = discovered
        && let Some(listed) = discovered
            .models
            .iter()
            .find(|m| m.family() == Some(family))
    {
        return Ok(model(
            Some(listed.id.clone()),
            discovered.capacity,
            family.number(),
        ));
    }
    let row = MODELS
        .iter()
        .find(|row| row.family == family && row.tier == wanted.tier)
        .ok_or_else(|| ModelError::Unknown(name.to_string()))?;
    Ok(model(
        Some(row.id.to_string()),
        row.capacity,
        family.number(),
    ))
}

fn slug_matches(listed: &Listed, slug: &str) -> bool {
    listed
        .name()
        .strip_prefix("gemini-web-")
        .is_some_and(|s| s == slug)
}

/// Parses `name=hexid[:capacity[:number]]` entries separated by commas or
/// whitespace.
pub fn parse_overrides(text: &str) -> Result<Vec<Model>, ModelError> {
    text.split([',', ' ', '\n', '\t'])
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = || ModelError::BadOverride(entry.to_string());
            let (name, spec) = entry.split_once('=').ok_or_else(bad)?;
            let mut fields = spec.split(':');
            let id = fields.next().unwrap_or_default();
            let capacity = match fields.next() {
                Some(text) => text.parse::<u8>().map_err(|_| bad())?,
                None => 1,
            };
            let number = match fields.next() {
                Some(text) => text.parse::<u32>().map_err(|_| bad())?,
                // The family the name suggests, else Flash's.
                None => parse(name)
                    .ok()
                    .and_then(|w| w.family)
                    .map_or(1, Family::number),
            };
            let is_hash = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
            if name.is_empty() || !is_hash || fields.next().is_some() {
                return Err(bad());
            }
            Ok(Model {
                name: name.to_ascii_lowercase(),
                id: Some(id.to_ascii_lowercase()),
                capacity,
                number,
                thinking: 1,
            })
        })
        .collect()
}

/// The account's capacity from `otAQ7b` tier flags (`[16]`) and capability
/// flags (`[17]`), as the web app derives it. (The "field 13" variant the
/// reference knows for tier flags 21/22 was never observed; it is read as
/// the same capacity.)
pub fn capacity(tier_flags: &[i64], capability_flags: &[i64]) -> u8 {
    let tier = |flag| tier_flags.contains(&flag);
    let capable = |flag| capability_flags.contains(&flag);
    if tier(21) {
        1
    } else if tier(22) {
        2
    } else if capable(115) {
        4
    } else if tier(16) || capable(106) {
        3
    } else if tier(8) || capable(19) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "09D681E7-26F2-4A94-A465-38386B7AB93B";

    #[test]
    fn the_header_has_seventeen_elements() {
        let model = resolve("Gemini-3-Pro", None, None).unwrap();
        let header = model.header(CLIENT).unwrap();
        assert_eq!(
            header,
            r#"[1,null,null,null,"9d8ca3786ebdfbea",null,null,0,[4,5,6,8],null,null,1,null,null,3,1,"09D681E7-26F2-4A94-A465-38386B7AB93B"]"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&header).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 17);
        let extended = resolve("gemini-3.6-flash-extended", None, None).unwrap();
        assert!(extended.header(CLIENT).unwrap().contains(",1,2,\"09D6"));
        assert_eq!(
            resolve("unspecified", None, None).unwrap().header(CLIENT),
            None
        );
    }

    #[test]
    fn seed_names_land_on_the_nearest_family() {
        let family = |name: &str| parse(name).unwrap().family;
        assert_eq!(family("gemini-2.5-flash"), Some(Family::Flash));
        assert_eq!(family("gemini-2.0-flash"), Some(Family::Flash));
        assert_eq!(family("gemini-3-flash-preview"), Some(Family::Flash));
        assert_eq!(family("gemini-2.5-pro"), Some(Family::Pro));
        assert_eq!(family("gemini-3-pro-preview"), Some(Family::Pro));
        assert_eq!(family("models/gemini-2.5-flash-lite"), Some(Family::Lite));
        assert_eq!(family("gemini-deep-research"), Some(Family::Pro));
        let plus = parse("gemini-3-flash-thinking-plus").unwrap();
        assert_eq!((plus.tier, plus.thinking), (Tier::Plus, 2));
        for bad in [
            "gpt-4o",
            "gemini-ultra",
            "gemini-2.5-flash-image",
            "gemini-",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discovered_ids_win_over_the_table_for_the_base_tier() {
        let discovered = Discovered {
            models: vec![
                Listed {
                    id: "00aa11bb22cc33dd".into(),
                    display: "Fast".into(),
                    number: Some(1),
                },
                Listed {
                    id: "ffee".into(),
                    display: "Ultra Think".into(),
                    number: Some(9),
                },
            ],
            capacity: 2,
        };
        let flash = resolve("gemini-2.5-flash", None, Some(&discovered)).unwrap();
        assert_eq!(flash.id.as_deref(), Some("00aa11bb22cc33dd"));
        assert_eq!(flash.capacity, 2);
        // Pro is not listed: the table's.
        let pro = resolve("gemini-3-pro", None, Some(&discovered)).unwrap();
        assert_eq!(pro.id.as_deref(), Some("9d8ca3786ebdfbea"));
        // A listed model of no known family, by its display name.
        assert_eq!(discovered.models[1].name(), "gemini-web-ultra-think");
        let ultra = resolve("gemini-web-ultra-think", None, Some(&discovered)).unwrap();
        assert_eq!((ultra.id.as_deref(), ultra.number), (Some("ffee"), 9));
        assert!(resolve("gemini-web-ultra-think", None, None).is_err());
    }

    #[test]
    fn overrides_replace_and_add_models() {
        let overrides = "gemini-3-pro=ABCDEF0123456789:2, gemini-lite=cf41b0e0dd7d53e5:1:6";
        let pro = resolve("gemini-3-pro", Some(overrides), None).unwrap();
        assert_eq!(pro.id.as_deref(), Some("abcdef0123456789"));
        assert_eq!((pro.capacity, pro.number), (2, 3));
        let lite = resolve("gemini-lite", Some(overrides), None).unwrap();
        assert_eq!((lite.capacity, lite.number), (1, 6));
        assert!(resolve("gemini-3-flash", Some(overrides), None).is_ok());
        assert!(matches!(
            resolve("x", Some("x=not-hex"), None),
            Err(ModelError::BadOverride(_))
        ));
    }

    #[test]
    fn capacity_follows_the_flags() {
        assert_eq!(capacity(&[], &[]), 1);
        assert_eq!(capacity(&[], &[115]), 4);
        assert_eq!(capacity(&[8], &[]), 2);
        assert_eq!(capacity(&[], &[19]), 2);
        assert_eq!(capacity(&[16], &[]), 3);
        assert_eq!(capacity(&[], &[106, 19]), 3);
    }

    #[test]
    fn table_names_are_unique() {
        let names = table_names();
        for (i, (a, _)) in names.iter().enumerate() {
            assert!(names[i + 1..].iter().all(|(b, _)| b != a));
            assert!(parse(a).is_ok(), "{a}");
        }
    }
}
