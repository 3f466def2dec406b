//! Model names: what a requested name becomes upstream, and the fallback
//! lists used when the live catalogue cannot be read.
//!
//! chat.qwen.ai's catalogue moves (2026 ids look like `qwen3.7-plus`; the
//! `*-latest` aliases of 2025 are gone), so the live list wins: a name found
//! there (case-insensitively) is sent with the upstream's spelling, and the
//! seed names clients use (`qwen-max`, `qwen-plus`, `qwen-turbo`, `qwq-*`,
//! `Qwen3-Max-Preview`…) map to the newest model of their family in it.
//! Tongyi has no catalogue call in the flow this plugin speaks; its labels
//! are Qwen-2api's, sent verbatim.

use wasmgate_plugin_sdk::ModelInfo;

use crate::account::Flow;

/// When the fallback list below was last checked against the references.
pub const CHECKED: &str = "2026-12-05";

/// chat.qwen.ai ids seen live (the newest stored observation, 2026-09-29),
/// used when the live list cannot be read. Checked [`CHECKED`].
pub const CHAT_QWEN_AI_FALLBACK: &[&str] = &[
    "qwen3.8-max",
    "qwen3.7-max",
    "qwen3.7-plus",
    "qwen3.6-plus",
    "qwen3.5-plus",
    "qwen3.8-omni-flash",
    "qwen3.5-omni-plus",
];

/// Tongyi labels (Qwen-2api's list, sent verbatim; the server may ignore
/// the field).
pub const TONGYI_MODELS: &[&str] = &[
    "qwen-max",
    "qwen-plus",
    "qwen-turbo",
    "qwen-long",
    "qwen-vl-plus",
    "Qwen3-Max-Preview",
];

/// Name suffixes clients may add (a proxy convention, not upstream ids).
pub const THINKING_SUFFIX: &str = "-thinking";
pub const SEARCH_SUFFIX: &str = "-search";

/// A model family of chat.qwen.ai's 2026 naming (`qwen<version>-<family>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Max,
    Plus,
    Flash,
}

/// The family a seed name stands for, and whether it implies thinking.
/// `None`: not a seed name.
pub fn seed_family(name: &str) -> Option<(Family, bool)> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix("-latest").unwrap_or(&name);
    if name.starts_with("qwq") || name.starts_with("qvq") {
        // QwQ / QvQ were reasoning models: today's plus, thinking.
        return Some((Family::Plus, true));
    }
    let family = match name {
        "qwen-max" | "qwen-max-longcontext" | "qwen3-max-preview" | "qwen-vl-max" => Family::Max,
        "qwen-plus" | "qwen-long" | "qwen-vl-plus" | "qwen" | "qwen-v1" | "qwen-v1-vision" => {
            Family::Plus
        }
        "qwen-turbo" => Family::Flash,
        _ => return None,
    };
    Some((family, false))
}

/// `qwen3.7-plus` → `((3, 7), "plus")`.
fn version_and_family(id: &str) -> Option<((u32, u32), &str)> {
    let rest = id.strip_prefix("qwen")?;
    let (version, family) = rest.split_once('-')?;
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    Some(((major.parse().ok()?, minor.parse().ok()?), family))
}

fn in_family(family_part: &str, family: Family) -> bool {
    match family {
        Family::Max => family_part == "max",
        Family::Plus => family_part == "plus",
        Family::Flash => family_part.ends_with("flash"),
    }
}

/// The newest model of `family` among `ids`.
pub fn newest_of<'a>(family: Family, ids: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    ids.into_iter()
        .filter_map(|id| {
            let (version, part) = version_and_family(id)?;
            in_family(part, family).then_some((version, id))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, id)| id)
}

/// What a requested model name asks of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// The name to send upstream.
    pub upstream: String,
    pub thinking: bool,
    pub search: bool,
}

/// Strips the `-thinking` / `-search` suffixes (in either order).
fn strip_suffixes(requested: &str) -> (&str, bool, bool) {
    let mut base = requested.trim();
    let mut thinking = false;
    let mut search = false;
    loop {
        if let Some(stripped) = strip_suffix_ignore_case(base, THINKING_SUFFIX) {
            thinking = true;
            base = stripped;
        } else if let Some(stripped) = strip_suffix_ignore_case(base, SEARCH_SUFFIX) {
            search = true;
            base = stripped;
        } else {
            return (base, thinking, search);
        }
    }
}

/// Translates a requested name for `flow`. `live` is chat.qwen.ai's
/// catalogue when known (ids as the upstream spells them).
pub fn resolve(requested: &str, flow: Flow, live: Option<&[String]>) -> ModelChoice {
    let (base, thinking, search) = strip_suffixes(requested);
    let (upstream, implied_thinking) = match flow {
        Flow::Tongyi => {
            let label = TONGYI_MODELS
                .iter()
                .find(|label| label.eq_ignore_ascii_case(base))
                .copied()
                .unwrap_or(base);
            (label.to_string(), false)
        }
        Flow::ChatQwenAi => chat_qwen_ai_name(base, live),
    };
    ModelChoice {
        upstream,
        thinking: thinking || implied_thinking,
        search,
    }
}

fn chat_qwen_ai_name(base: &str, live: Option<&[String]>) -> (String, bool) {
    if let Some(id) = live
        .into_iter()
        .flatten()
        .find(|id| id.eq_ignore_ascii_case(base))
    {
        return (id.clone(), false);
    }
    if let Some((family, thinking)) = seed_family(base) {
        let newest = match live {
            Some(ids) if !ids.is_empty() => newest_of(family, ids.iter().map(String::as_str)),
            _ => None,
        }
        .or_else(|| newest_of(family, CHAT_QWEN_AI_FALLBACK.iter().copied()));
        if let Some(id) = newest {
            return (id.to_string(), thinking);
        }
    }
    // chat.qwen.ai's ids are lower-case.
    (base.to_ascii_lowercase(), false)
}

fn strip_suffix_ignore_case<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let split = name.len().checked_sub(suffix.len())?;
    let (head, tail) = (name.get(..split)?, name.get(split..)?);
    (!head.is_empty() && tail.eq_ignore_ascii_case(suffix)).then_some(head)
}

fn info(id: &str) -> ModelInfo {
    ModelInfo {
        id: id.to_string(),
        display_name: None,
        context_window: None,
    }
}

/// The fallback list an account of `flow` offers.
pub fn listed(flow: Flow) -> Vec<ModelInfo> {
    match flow {
        Flow::Tongyi => TONGYI_MODELS.iter().map(|id| info(id)).collect(),
        Flow::ChatQwenAi => CHAT_QWEN_AI_FALLBACK.iter().map(|id| info(id)).collect(),
    }
}

/// Every model of both fallback lists (the manifest's defaults).
pub fn all() -> Vec<ModelInfo> {
    let mut models = listed(Flow::Tongyi);
    models.extend(listed(Flow::ChatQwenAi));
    models
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn tongyi_labels_are_sent_verbatim_with_their_spelling() {
        assert_eq!(resolve("qwen-max", Flow::Tongyi, None).upstream, "qwen-max");
        assert_eq!(
            resolve("QWEN3-MAX-PREVIEW", Flow::Tongyi, None).upstream,
            "Qwen3-Max-Preview"
        );
        assert_eq!(resolve("qwq-32b", Flow::Tongyi, None).upstream, "qwq-32b");
    }

    #[test]
    fn seed_names_map_to_the_newest_of_their_family_in_the_live_list() {
        let ids = live(&[
            "qwen3.9-max",
            "qwen3.8-max",
            "qwen3.10-plus",
            "qwen3.9-flash",
        ]);
        let get = |name: &str| resolve(name, Flow::ChatQwenAi, Some(&ids));
        assert_eq!(get("qwen-max").upstream, "qwen3.9-max");
        assert_eq!(get("qwen-max-latest").upstream, "qwen3.9-max");
        assert_eq!(get("Qwen3-Max-Preview").upstream, "qwen3.9-max");
        assert_eq!(get("qwen-plus").upstream, "qwen3.10-plus");
        assert_eq!(get("qwen-turbo").upstream, "qwen3.9-flash");
        let qwq = get("qwq-32b");
        assert_eq!(
            (qwq.upstream.as_str(), qwq.thinking),
            ("qwen3.10-plus", true)
        );
    }

    #[test]
    fn live_ids_match_case_insensitively_and_win_over_seed_mapping() {
        let ids = live(&["qwen3.7-plus", "qwen-max"]);
        assert_eq!(
            resolve("QWEN3.7-PLUS-thinking", Flow::ChatQwenAi, Some(&ids)),
            ModelChoice {
                upstream: "qwen3.7-plus".into(),
                thinking: true,
                search: false
            }
        );
        // A live id that happens to be a seed name is used as such.
        assert_eq!(
            resolve("qwen-max", Flow::ChatQwenAi, Some(&ids)).upstream,
            "qwen-max"
        );
    }

    #[test]
    fn without_a_live_list_the_dated_fallback_serves_seed_names() {
        assert_eq!(
            resolve("qwen-max", Flow::ChatQwenAi, None).upstream,
            "qwen3.8-max"
        );
        assert_eq!(
            resolve("qwen-plus", Flow::ChatQwenAi, Some(&[])).upstream,
            "qwen3.7-plus"
        );
        assert_eq!(
            resolve("qwen-turbo", Flow::ChatQwenAi, None).upstream,
            "qwen3.8-omni-flash"
        );
        // Unknown names go lower-cased, as chat.qwen.ai spells its ids.
        assert_eq!(
            resolve("Qwen3.9-Coder", Flow::ChatQwenAi, None).upstream,
            "qwen3.9-coder"
        );
    }

    #[test]
    fn suffixes_set_thinking_and_search() {
        let choice = resolve("qwen3-max-thinking-search", Flow::ChatQwenAi, None);
        assert_eq!(
            choice,
            ModelChoice {
                upstream: "qwen3-max".into(),
                thinking: true,
                search: true
            }
        );
        assert!(resolve("qwen-plus-Thinking", Flow::Tongyi, None).thinking);
        // A bare suffix is a name, not a suffix.
        assert_eq!(
            resolve("-thinking", Flow::Tongyi, None).upstream,
            "-thinking"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(
            newest_of(
                Family::Plus,
                ["qwen3.9-plus", "qwen3.10-plus", "qwen3-plus"]
            ),
            Some("qwen3.10-plus")
        );
        assert_eq!(newest_of(Family::Max, ["qwen3.7-plus"]), None);
    }
}
