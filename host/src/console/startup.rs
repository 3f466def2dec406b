//! The start-up summary of what is not configured: one line per plugin
//! (instead of one per unset variable) and one line saying what to do next.

use std::collections::BTreeMap;

/// What the registry's warnings say about one plugin.
#[derive(Default)]
struct PluginNotes {
    no_account: bool,
    variables: Vec<String>,
    other: Vec<String>,
}

/// `plugin "name"…` → `name`.
fn plugin_of(warning: &str) -> Option<&str> {
    let rest = warning.strip_prefix("plugin \"")?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// The variables an "environment variable A / B is not set" names.
fn unset_variables(warning: &str) -> Option<Vec<String>> {
    let start = warning.find("environment variable ")? + "environment variable ".len();
    let end = start + warning[start..].find(" is not set")?;
    Some(
        warning[start..end]
            .split(" / ")
            .map(|v| v.trim().to_string())
            .collect(),
    )
}

/// Folds the warnings about unset accounts into one line per plugin and one
/// line in total; other warnings pass through unchanged, in order.
pub fn summarize(warnings: &[String]) -> Vec<String> {
    let mut plugins: BTreeMap<&str, PluginNotes> = BTreeMap::new();
    let mut others = Vec::new();
    for warning in warnings {
        let Some(plugin) = plugin_of(warning) else {
            others.push(warning.clone());
            continue;
        };
        let notes = plugins.entry(plugin).or_default();
        if warning.contains("\" has no account") {
            notes.no_account = true;
        } else if let Some(variables) = unset_variables(warning) {
            // One account's variables go together; accounts are alternatives.
            let group = variables.join(" + ");
            if !notes.variables.contains(&group) {
                notes.variables.push(group);
            }
        } else {
            let detail = warning
                .strip_prefix(&format!("plugin {plugin:?}, "))
                .or_else(|| warning.strip_prefix(&format!("plugin {plugin:?} ")))
                .unwrap_or(warning);
            notes.other.push(detail.to_string());
        }
    }
    let mut lines = Vec::new();
    let mut without = Vec::new();
    for (plugin, notes) in &plugins {
        let set = if notes.variables.is_empty() {
            String::new()
        } else {
            format!("set {}", notes.variables.join(", or "))
        };
        let other = notes.other.join("; ");
        let line = match (notes.no_account, set.is_empty(), other.is_empty()) {
            (true, false, true) => format!("plugin {plugin:?} has no account: {set}"),
            (true, false, false) => format!("plugin {plugin:?} has no account: {set} ({other})"),
            (true, true, false) => format!("plugin {plugin:?} has no account: {other}"),
            (true, true, true) => format!(
                "plugin {plugin:?} has no account: configure [plugins.{plugin}] accounts in plugins.toml"
            ),
            (false, false, true) => format!("plugin {plugin:?}: some accounts are off: {set}"),
            (false, false, false) => {
                format!("plugin {plugin:?}: some accounts are off: {set}; {other}")
            }
            (false, true, _) => format!("plugin {plugin:?}: {other}"),
        };
        if notes.no_account {
            without.push(*plugin);
        }
        lines.push(line);
    }
    if !without.is_empty() {
        lines.push(format!(
            "{} of the loaded plugins have no account yet ({}). Next: set the variables named above in the environment (a Space's secrets, or .env), or set ADMIN_KEY and paste them on the Accounts page of the console at /admin/. The page at / shows each plugin's state.",
            without.len(),
            without.join(", ")
        ));
    }
    lines.extend(others);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_plugin_and_one_in_total() {
        let warnings: Vec<String> = [
            "plugin \"gemini\", account \"key\": environment variable GEMINI_API_KEYS is not set; skipped",
            "plugin \"gemini\" has no account: configure accounts under [plugins.gemini] in plugins.toml, and set their variables",
            "plugin \"qwen\", account \"cn\": environment variable QWEN_A / QWEN_B is not set; skipped",
            "plugin \"qwen\", account \"intl\": environment variable QWEN_TOKEN is not set; skipped",
            "plugin \"qwen\" has no account: x",
            "plugin \"vertex\", account \"express\": environment variable VERTEX_EXPRESS_API_KEY is not set; skipped",
            "plugins \"a\" and \"b\" both declare the model \"m\"",
        ]
        .map(String::from)
        .to_vec();
        let lines = summarize(&warnings);
        assert_eq!(
            lines,
            [
                "plugin \"gemini\" has no account: set GEMINI_API_KEYS",
                "plugin \"qwen\" has no account: set QWEN_A + QWEN_B, or QWEN_TOKEN",
                "plugin \"vertex\": some accounts are off: set VERTEX_EXPRESS_API_KEY",
                "2 of the loaded plugins have no account yet (gemini, qwen). Next: set the variables named above in the environment (a Space's secrets, or .env), or set ADMIN_KEY and paste them on the Accounts page of the console at /admin/. The page at / shows each plugin's state.",
                "plugins \"a\" and \"b\" both declare the model \"m\"",
            ]
        );
    }
}
