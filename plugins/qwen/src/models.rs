//! The model table, and how a requested model name becomes an upstream one.
//!
//! Both sites pick models by name, but their catalogues differ. A name in the
//! table is translated for the account's flow; any other name is sent as is
//! (chat.qwen.ai's catalogue changes often, and tongyi may ignore the field).

use wasmgate_plugin_sdk::ModelInfo;

use crate::account::Flow;

pub struct ModelRow {
    /// The id clients use.
    pub id: &'static str,
    pub display_name: &'static str,
    pub context_window: Option<u32>,
    /// The name sent to tongyi, when the model is offered there.
    pub tongyi: Option<&'static str>,
    /// The name sent to chat.qwen.ai, when the model is offered there.
    pub chat_qwen_ai: Option<&'static str>,
}

const fn row(
    id: &'static str,
    display_name: &'static str,
    context_window: Option<u32>,
    tongyi: Option<&'static str>,
    chat_qwen_ai: Option<&'static str>,
) -> ModelRow {
    ModelRow {
        id,
        display_name,
        context_window,
        tongyi,
        chat_qwen_ai,
    }
}

/// Tongyi names are the labels Qwen-2api sends verbatim (UNCONFIRMED which
/// the server honours). Where a tongyi label has an obvious chat.qwen.ai
/// counterpart, a chat.qwen.ai account serves it under that name.
pub const MODELS: &[ModelRow] = &[
    row(
        "qwen-max",
        "Qwen Max",
        None,
        Some("qwen-max"),
        Some("qwen-max-latest"),
    ),
    row(
        "qwen-plus",
        "Qwen Plus",
        None,
        Some("qwen-plus"),
        Some("qwen-plus-latest"),
    ),
    row(
        "qwen-turbo",
        "Qwen Turbo",
        None,
        Some("qwen-turbo"),
        Some("qwen-turbo-latest"),
    ),
    row("qwen-long", "Qwen Long", None, Some("qwen-long"), None),
    row(
        "qwen-vl-plus",
        "Qwen VL Plus",
        None,
        Some("qwen-vl-plus"),
        None,
    ),
    row(
        "Qwen3-Max-Preview",
        "Qwen3 Max Preview",
        None,
        Some("Qwen3-Max-Preview"),
        Some("qwen3-max"),
    ),
    row(
        "qwen3-max",
        "Qwen3 Max",
        None,
        Some("Qwen3-Max-Preview"),
        Some("qwen3-max"),
    ),
    row(
        "qwen3-235b-a22b",
        "Qwen3 235B A22B",
        None,
        None,
        Some("qwen3-235b-a22b"),
    ),
    row(
        "qwen3-coder-plus",
        "Qwen3 Coder Plus",
        None,
        None,
        Some("qwen3-coder-plus"),
    ),
    row(
        "qwen3-coder-flash",
        "Qwen3 Coder Flash",
        None,
        None,
        Some("qwen3-coder-flash"),
    ),
    row("qwq-32b", "QwQ 32B", None, None, Some("qwq-32b")),
    row(
        "qwen2.5-72b-instruct",
        "Qwen2.5 72B Instruct",
        None,
        None,
        Some("qwen2.5-72b-instruct"),
    ),
    row(
        "qwen2.5-vl-72b-instruct",
        "Qwen2.5 VL 72B Instruct",
        None,
        None,
        Some("qwen2.5-vl-72b-instruct"),
    ),
    row(
        "qwen2.5-coder-32b-instruct",
        "Qwen2.5 Coder 32B Instruct",
        None,
        None,
        Some("qwen2.5-coder-32b-instruct"),
    ),
    row(
        "qwen2.5-14b-instruct-1m",
        "Qwen2.5 14B Instruct 1M",
        Some(1_000_000),
        None,
        Some("qwen2.5-14b-instruct-1m"),
    ),
];

/// Name suffixes clients may add (a proxy convention, not upstream ids).
pub const THINKING_SUFFIX: &str = "-thinking";
pub const SEARCH_SUFFIX: &str = "-search";

/// What a requested model name asks of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// The name to send upstream.
    pub upstream: String,
    pub thinking: bool,
    pub search: bool,
}

/// Strips the `-thinking` / `-search` suffixes (in either order) and
/// translates a table id for `flow`.
pub fn resolve(requested: &str, flow: Flow) -> ModelChoice {
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
            break;
        }
    }
    let row = MODELS.iter().find(|row| row.id.eq_ignore_ascii_case(base));
    let upstream = row
        .and_then(|row| match flow {
            Flow::Tongyi => row.tongyi,
            Flow::ChatQwenAi => row.chat_qwen_ai,
        })
        .unwrap_or(base);
    ModelChoice {
        upstream: upstream.to_string(),
        thinking,
        search,
    }
}

fn strip_suffix_ignore_case<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let split = name.len().checked_sub(suffix.len())?;
    let (head, tail) = (name.get(..split)?, name.get(split..)?);
    (!head.is_empty() && tail.eq_ignore_ascii_case(suffix)).then_some(head)
}

/// The table's models an account of `flow` offers.
pub fn listed(flow: Flow) -> Vec<ModelInfo> {
    MODELS
        .iter()
        .filter(|row| match flow {
            Flow::Tongyi => row.tongyi.is_some(),
            Flow::ChatQwenAi => row.chat_qwen_ai.is_some(),
        })
        .map(|row| ModelInfo {
            id: row.id.to_string(),
            display_name: Some(row.display_name.to_string()),
            context_window: row.context_window,
        })
        .collect()
}

/// Every model of the table (the manifest's defaults).
pub fn all() -> Vec<ModelInfo> {
    MODELS
        .iter()
        .map(|row| ModelInfo {
            id: row.id.to_string(),
            display_name: Some(row.display_name.to_string()),
            context_window: row.context_window,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ids_translate_per_flow() {
        assert_eq!(resolve("qwen-max", Flow::Tongyi).upstream, "qwen-max");
        assert_eq!(
            resolve("qwen-max", Flow::ChatQwenAi).upstream,
            "qwen-max-latest"
        );
        assert_eq!(
            resolve("QWEN3-MAX", Flow::Tongyi).upstream,
            "Qwen3-Max-Preview"
        );
        assert_eq!(resolve("qwen3-max", Flow::ChatQwenAi).upstream, "qwen3-max");
    }

    #[test]
    fn unknown_names_pass_through() {
        let choice = resolve("qwen3.7-plus", Flow::ChatQwenAi);
        assert_eq!(choice.upstream, "qwen3.7-plus");
        assert!(!choice.thinking && !choice.search);
        // A table id the flow does not offer is sent as is too.
        assert_eq!(resolve("qwq-32b", Flow::Tongyi).upstream, "qwq-32b");
    }

    #[test]
    fn suffixes_set_thinking_and_search() {
        let choice = resolve("qwen3-max-thinking-search", Flow::ChatQwenAi);
        assert_eq!(
            choice,
            ModelChoice {
                upstream: "qwen3-max".into(),
                thinking: true,
                search: true
            }
        );
        assert!(resolve("qwen-plus-Thinking", Flow::Tongyi).thinking);
        // A bare suffix is a name, not a suffix.
        assert_eq!(resolve("-thinking", Flow::Tongyi).upstream, "-thinking");
    }

    #[test]
    fn ids_are_unique_and_every_row_is_offered_somewhere() {
        for (i, a) in MODELS.iter().enumerate() {
            assert!(a.tongyi.is_some() || a.chat_qwen_ai.is_some(), "{}", a.id);
            for b in &MODELS[i + 1..] {
                assert!(!a.id.eq_ignore_ascii_case(b.id), "{}", a.id);
            }
        }
        assert_eq!(listed(Flow::Tongyi).len(), 7);
        assert_eq!(all().len(), MODELS.len());
    }
}
