//! Accounts: a plugin's secrets, read from environment variables named in
//! `plugins.toml`, and its non-secret settings.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::file::{AccountSection, NUMBERED_MAX, PluginSection, RESERVED_VARIABLES, SecretSource};

/// A secret value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }

    /// The value itself, for the plugin that owns it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// One set of credentials a plugin can run a request on.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub secrets: Arc<HashMap<String, SecretValue>>,
    pub settings: Arc<HashMap<String, String>>,
    /// When the credentials stop working, in Unix milliseconds (`expires-at`).
    pub expires_at: Option<u64>,
}

impl Account {
    /// The account's `base-url` setting, if any.
    pub fn base_url(&self) -> Option<&str> {
        self.settings.get("base-url").map(String::as_str)
    }
}

/// The accounts an operator configured for one plugin, with the reasons any
/// were skipped (an unset variable, lists of different lengths, a list
/// element that cannot become an account). A secret the plugin calls
/// optional is left out when its variable is unset. Nothing is dropped
/// without a line in the second list.
pub fn resolve_accounts(
    plugin: &str,
    section: &PluginSection,
    optional: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Account>, Vec<String>) {
    let mut accounts: Vec<Account> = Vec::new();
    let mut skipped = Vec::new();
    for account in &section.accounts {
        let (templates, problems) = templates_of(account, env);
        skipped.extend(
            problems
                .into_iter()
                .map(|problem| format!("plugin {plugin:?}, {problem}; skipped")),
        );
        for template in templates {
            let id = template.id.clone();
            match template.resolve(optional, env) {
                Ok(resolved) => {
                    for account in resolved {
                        if accounts.iter().any(|a| a.id == account.id) {
                            skipped.push(format!(
                                "plugin {plugin:?}, account {:?}: the id is used twice; skipped",
                                account.id
                            ));
                        } else {
                            accounts.push(account);
                        }
                    }
                }
                Err(reason) => skipped.push(format!(
                    "plugin {plugin:?}, account {id:?}: {reason}; skipped"
                )),
            }
        }
    }
    (accounts, skipped)
}

/// Where one secret of a concrete account comes from.
#[derive(Debug, Clone)]
enum Source {
    Env(String),
    EnvList(String),
    /// Read from a list element already.
    Value(SecretValue),
    /// A list element's field that is absent, named for the warning.
    Missing(String),
}

impl Source {
    fn variable(&self) -> Option<&str> {
        match self {
            Source::Env(name) | Source::EnvList(name) => Some(name),
            Source::Value(_) | Source::Missing(_) => None,
        }
    }
}

/// One account of an `[[accounts]]` entry, before its variables are read.
struct Template {
    id: String,
    secrets: Vec<(String, Source)>,
    settings: Arc<HashMap<String, String>>,
    expires_at: Option<u64>,
}

/// The concrete accounts an entry stands for: itself, or one per list
/// element or number of its `for-each`. The second list says what was left
/// out and why.
fn templates_of(
    account: &AccountSection,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Template>, Vec<String>) {
    let id = account.id.get_ref();
    let settings = || -> HashMap<String, String> {
        account
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect()
    };
    let expires_at = account
        .expires_at
        .as_ref()
        .and_then(|at| super::datetime::unix_millis(at.get_ref()));
    let env_sources = |replace: &dyn Fn(&str) -> String| -> Vec<(String, Source)> {
        account
            .secrets
            .iter()
            .filter_map(|(name, source)| match source.get_ref() {
                SecretSource::Env(var) => Some((name.clone(), Source::Env(replace(var)))),
                SecretSource::EnvList(var) => Some((name.clone(), Source::EnvList(replace(var)))),
                SecretSource::Field(_) | SecretSource::OptionalField(_) => None,
            })
            .collect()
    };
    let Some(for_each) = account.for_each.as_ref().map(|f| f.get_ref()) else {
        return (
            vec![Template {
                id: id.clone(),
                secrets: env_sources(&|v| v.to_string()),
                settings: Arc::new(settings()),
                expires_at,
            }],
            Vec::new(),
        );
    };
    if let Some(pattern) = &for_each.numbered {
        let templates = (0..=NUMBERED_MAX)
            .filter(|n| env(&pattern.replace("{n}", &n.to_string())).is_some())
            .map(|n| {
                let n = n.to_string();
                let replace = |text: &str| text.replace("{n}", &n);
                Template {
                    id: if id.contains("{n}") {
                        replace(id)
                    } else {
                        format!("{id}-{n}")
                    },
                    secrets: env_sources(&replace),
                    settings: Arc::new(
                        settings()
                            .into_iter()
                            .map(|(k, v)| (k, replace(&v)))
                            .collect(),
                    ),
                    expires_at,
                }
            })
            .collect();
        return (templates, Vec::new());
    }
    let variable = for_each.json_array.as_deref().unwrap_or_default();
    let Some(text) = env(variable) else {
        return (
            Vec::new(),
            vec![format!(
                "account {id:?}: environment variable {variable} is not set"
            )],
        );
    };
    let elements = match json_elements(&text) {
        Ok(elements) => elements,
        Err(problem) => {
            return (
                Vec::new(),
                vec![format!("account {id:?}: {variable} {problem}")],
            );
        }
    };
    let id_field = for_each.id_field.as_deref().unwrap_or("id");
    let expires_field = for_each.expires_field.as_deref().unwrap_or("expires_at");
    let disabled_field = for_each.disabled_field.as_deref().unwrap_or("disabled");
    let offset = for_each
        .expires_offset
        .as_deref()
        .and_then(super::datetime::parse_offset)
        .unwrap_or(0);
    let single = elements.len() == 1;
    let mut templates = Vec::new();
    let mut problems = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_id = match element.get(id_field) {
            Some(serde_json::Value::String(own)) if !own.trim().is_empty() => {
                own.trim().to_string()
            }
            Some(serde_json::Value::Number(own)) => own.to_string(),
            _ if single => id.clone(),
            _ => format!("{id}-{}", index + 1),
        };
        let name = format!("{variable} element {} (account {element_id:?})", index + 1);
        let Some(object) = element.as_object() else {
            problems.push(format!("{name}: not a JSON object"));
            continue;
        };
        if object.get(disabled_field) == Some(&serde_json::Value::Bool(true)) {
            problems.push(format!("{name}: marked {disabled_field}"));
            continue;
        }
        let mut secrets = env_sources(&|v| v.to_string());
        for (secret, source) in &account.secrets {
            let (field, required) = match source.get_ref() {
                SecretSource::Field(field) => (field, true),
                SecretSource::OptionalField(field) => (field, false),
                _ => continue,
            };
            let value = if field == "*" {
                Some(element.to_string())
            } else {
                match object.get(field) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(text)) => Some(text.clone()),
                    Some(other) => Some(other.to_string()),
                }
            };
            match value.filter(|v| !v.trim().is_empty()) {
                Some(value) => {
                    secrets.push((secret.clone(), Source::Value(SecretValue::new(value))))
                }
                None if required => secrets.push((
                    secret.clone(),
                    Source::Missing(format!("{name}: field {field}")),
                )),
                None => {}
            }
        }
        let element_expiry = match object.get(expires_field) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) if text.trim().is_empty() => None,
            Some(value) => {
                let text = match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                match super::datetime::seed_time_millis(&text, offset) {
                    Some(at) => Some(at),
                    None => {
                        problems.push(format!(
                            "{name}: {expires_field} is neither `YYYY-MM-DD HH:MM:SS`, RFC 3339 nor Unix seconds"
                        ));
                        continue;
                    }
                }
            }
        };
        templates.push(Template {
            id: element_id,
            secrets,
            settings: Arc::new(settings()),
            expires_at: element_expiry.or(expires_at),
        });
    }
    (templates, problems)
}

/// The elements of a JSON list variable: an array, one object, or objects
/// separated by commas (`{…},{…}`, as hajimi accepted service accounts).
fn json_elements(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let text = text.trim();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        return Ok(match value {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        });
    }
    if text.starts_with('{')
        && let Ok(serde_json::Value::Array(items)) =
            serde_json::from_str::<serde_json::Value>(&format!("[{text}]"))
    {
        return Ok(items);
    }
    // serde_json's message may quote the text: say where, not what.
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(err) => Err(format!(
            "is not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        )),
        Ok(_) => Err("is not a JSON array".into()),
    }
}

impl Template {
    /// Reads the variables: one account, or one per value of list variables.
    fn resolve(
        self,
        optional: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Account>, String> {
        let set = |source: &Source| match source {
            Source::Value(_) => true,
            Source::Missing(_) => false,
            Source::Env(var) | Source::EnvList(var) => {
                env(var).is_some_and(|v| !v.trim().is_empty())
            }
        };
        let sources: Vec<&(String, Source)> = self
            .secrets
            .iter()
            .filter(|(name, source)| {
                matches!(source, Source::Missing(_)) || !optional.contains(name) || set(source)
            })
            .collect();
        // An account whose every secret is optional and unset has nothing to run on.
        if sources.is_empty() && !self.secrets.is_empty() {
            let variables: Vec<&str> = self
                .secrets
                .iter()
                .filter_map(|(_, s)| s.variable())
                .collect();
            return Err(format!(
                "environment variable {} is not set",
                variables.join(" / ")
            ));
        }
        let sets = expand(&sources, env)?;
        let many = sets.len() > 1;
        Ok(sets
            .into_iter()
            .enumerate()
            .map(|(index, secrets)| Account {
                id: if many {
                    format!("{}-{}", self.id, index + 1)
                } else {
                    self.id.clone()
                },
                secrets: Arc::new(secrets),
                settings: self.settings.clone(),
                expires_at: self.expires_at,
            })
            .collect())
    }
}

/// The prefix of the variables a plugin `plugins.toml` does not mention may
/// read. A dropped-in file picks its own name, so without a namespace of
/// their own `secure.wasm` declaring `1psid` would read `SECURE_1PSID`.
pub const IMPLICIT_PREFIX: &str = "WASMGATE_PLUGIN_";

/// The variable a plugin `plugins.toml` does not mention reads for a secret:
/// `WASMGATE_PLUGIN_<PLUGIN>_<SECRET>` (upper case, `-` as `_`).
pub fn implicit_variable(plugin: &str, secret: &str) -> String {
    format!("{IMPLICIT_PREFIX}{}_{}", env_name(plugin), env_name(secret))
}

/// Accounts for a plugin that `plugins.toml` does not mention, from its
/// manifest's secret names: `WASMGATE_PLUGIN_<PLUGIN>_<SECRET>` holds one
/// value and the same with an `S` a comma-separated list (one account per
/// value). A variable the configuration gives to a plugin (`taken`) or that
/// is the gateway's own is never read.
pub fn implicit_accounts(
    plugin: &str,
    secret_names: &[String],
    taken: &dyn Fn(&str) -> bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Account> {
    let mut sources: Vec<(String, Source)> = Vec::new();
    for name in secret_names {
        let single = implicit_variable(plugin, name);
        let list = format!("{single}S");
        let forbidden = |variable: &str| RESERVED_VARIABLES.contains(&variable) || taken(variable);
        if env(&list).is_some() && !forbidden(&list) {
            sources.push((name.clone(), Source::EnvList(list)));
        } else if env(&single).is_some() && !forbidden(&single) {
            sources.push((name.clone(), Source::Env(single)));
        }
    }
    if sources.is_empty() {
        return Vec::new();
    }
    let refs: Vec<&(String, Source)> = sources.iter().collect();
    let Ok(sets) = expand(&refs, env) else {
        return Vec::new();
    };
    let many = sets.len() > 1;
    sets.into_iter()
        .enumerate()
        .map(|(index, secrets)| Account {
            id: if many {
                format!("env-{}", index + 1)
            } else {
                "env".to_string()
            },
            secrets: Arc::new(secrets),
            settings: Arc::default(),
            expires_at: None,
        })
        .collect()
}

impl super::ConfigFile {
    /// Whether a `[plugins.*]` account reads this variable (a `numbered`
    /// pattern's `{n}` standing for any number).
    pub fn references_variable(&self, variable: &str) -> bool {
        self.plugins
            .values()
            .flat_map(|p| &p.accounts)
            .any(|account| {
                let numbered = account
                    .for_each
                    .as_ref()
                    .is_some_and(|f| f.get_ref().numbered.is_some());
                let patterns = account
                    .secrets
                    .values()
                    .filter_map(|s| s.get_ref().variable().map(str::to_string))
                    .chain(account.for_each.as_ref().and_then(|f| {
                        let f = f.get_ref();
                        f.json_array.clone().or_else(|| f.numbered.clone())
                    }));
                patterns.into_iter().any(|pattern| {
                    if numbered && let Some((head, tail)) = pattern.split_once("{n}") {
                        variable
                            .strip_prefix(head)
                            .and_then(|rest| rest.strip_suffix(tail))
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    } else {
                        pattern == variable
                    }
                })
            })
    }
}

/// `gemini-web` → `GEMINI_WEB`.
pub fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// Reads the variables; a list variable makes one secret set per value.
fn expand(
    sources: &[&(String, Source)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<HashMap<String, SecretValue>>, String> {
    let mut singles = HashMap::new();
    let mut lists: Vec<(&String, Vec<String>)> = Vec::new();
    for (name, source) in sources.iter().map(|entry| (&entry.0, &entry.1)) {
        let variable = match source {
            Source::Value(value) => {
                singles.insert(name.clone(), value.clone());
                continue;
            }
            Source::Missing(what) => return Err(format!("{what} is missing")),
            Source::Env(variable) | Source::EnvList(variable) => variable,
        };
        let value = env(variable)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("environment variable {variable} is not set"))?;
        match source {
            Source::EnvList(_) => {
                // Commas, as documented; also semicolons and line breaks,
                // which hajimi's key lists took.
                let items: Vec<String> = value
                    .split([',', ';', '\n', '\r'])
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect();
                lists.push((name, items));
            }
            _ => {
                singles.insert(name.clone(), SecretValue::new(value));
            }
        }
    }
    let count = lists
        .iter()
        .map(|(_, items)| items.len())
        .max()
        .unwrap_or(1);
    if lists.iter().any(|(_, items)| items.len() != count) {
        return Err("its list variables hold different numbers of values".into());
    }
    Ok((0..count)
        .map(|index| {
            let mut set = singles.clone();
            for (name, items) in &lists {
                set.insert((*name).clone(), SecretValue::new(items[index].clone()));
            }
            set
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_list_variable_makes_one_account_per_value() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.gemini.accounts]]
            id = "pool"
            secrets = { api-key = { env-list = "GEMINI_API_KEYS" } }
            settings = { base-url = "http://127.0.0.1:9" }
            [[plugins.gemini.accounts]]
            id = "missing"
            secrets = { api-key = { env = "NOT_SET" } }
            "#,
        )
        .unwrap();
        let lookup = env(&[("GEMINI_API_KEYS", "k1, k2,,k3")]);
        let (accounts, skipped) =
            resolve_accounts("gemini", &config.file.plugins["gemini"], &[], &lookup);
        let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["pool-1", "pool-2", "pool-3"]);
        assert_eq!(accounts[1].secrets["api-key"].expose(), "k2");
        assert_eq!(accounts[2].base_url(), Some("http://127.0.0.1:9"));
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("NOT_SET"));
        assert!(
            !format!("{accounts:?}").contains("k2"),
            "secrets must not show in Debug"
        );
    }

    #[test]
    fn an_optional_secret_may_be_unset() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.web.accounts]]
            id = "a"
            secrets = { psid = { env = "PSID" }, psidts = { env = "PSIDTS" } }
            "#,
        )
        .unwrap();
        let lookup = env(&[("PSID", "p")]);
        let section = &config.file.plugins["web"];
        let (accounts, skipped) = resolve_accounts("web", section, &["psidts".into()], &lookup);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(accounts[0].secrets.len(), 1);
        let (accounts, skipped) = resolve_accounts("web", section, &[], &lookup);
        assert!(accounts.is_empty() && skipped[0].contains("PSIDTS"));
        // Every secret optional and unset: nothing to run on, so skipped.
        let nothing = env(&[]);
        let optional = ["psid".to_string(), "psidts".to_string()];
        let (accounts, skipped) = resolve_accounts("web", section, &optional, &nothing);
        assert!(
            accounts.is_empty() && skipped[0].contains("PSID"),
            "{skipped:?}"
        );
    }

    #[test]
    fn implicit_accounts_read_only_their_own_namespace() {
        let lookup = env(&[
            ("WASMGATE_PLUGIN_GEMINI_API_KEYS", "a,b"),
            ("GEMINI_API_KEYS", "real"),
            ("SECURE_1PSID", "the cookie"),
            ("WASMGATE_PLUGIN_GEMINI_WEB_PSID", "p"),
            ("WASMGATE_PLUGIN_SECURE_1PSID", "taken"),
        ]);
        let free = |_: &str| false;
        let accounts = implicit_accounts("gemini", &["api-key".into()], &free, &lookup);
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].secrets["api-key"].expose(), "a");
        let web = implicit_accounts("gemini-web", &["psid".into()], &free, &lookup);
        assert_eq!(web[0].secrets["psid"].expose(), "p");
        // `secure.wasm` asking for `1psid` never sees SECURE_1PSID, nor a
        // variable the configuration gives to a plugin.
        let taken = |v: &str| v == "WASMGATE_PLUGIN_SECURE_1PSID";
        assert!(implicit_accounts("secure", &["1psid".into()], &taken, &lookup).is_empty());
        assert!(implicit_accounts("other", &["key".into()], &free, &lookup).is_empty());
    }

    #[test]
    fn variables_the_configuration_reads_are_known() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.qwen.accounts]]
            id = "cn-{n}"
            for-each = { numbered = "CN_ACCOUNT_{n}_COOKIE" }
            secrets = { cookie = { env = "CN_ACCOUNT_{n}_COOKIE" } }
            [[plugins.web.accounts]]
            id = "w"
            secrets = { psid = { env = "SECURE_1PSID" } }
            "#,
        )
        .unwrap();
        let file = &config.file;
        assert!(file.references_variable("SECURE_1PSID"));
        assert!(file.references_variable("CN_ACCOUNT_12_COOKIE"));
        assert!(!file.references_variable("CN_ACCOUNT__COOKIE"));
        assert!(!file.references_variable("SECURE_1PSIDTS"));
    }

    #[test]
    fn the_gateway_key_cannot_be_granted() {
        let err = Config::parse(
            Path::new("t.toml"),
            "[[plugins.x.accounts]]\nid = \"a\"\nsecrets = { k = { env = \"API_KEY\" } }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("API_KEY"), "{err}");
    }

    #[test]
    fn a_json_array_makes_one_account_per_element_named_by_its_id() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.biz.accounts]]
            id = "business"
            for-each = { json-array = "ACCOUNTS_CONFIG", expires-offset = "+08:00" }
            secrets = { ses = { field = "secure_c_ses" }, idx = { field = "csesidx" }, note = { optional-field = "note" } }
            "#,
        )
        .unwrap();
        let lookup = env(&[(
            "ACCOUNTS_CONFIG",
            r#"[{"id": "alice", "secure_c_ses": "s1", "csesidx": 17, "expires_at": "2026-01-01 08:00:00"},
                {"id": "bob", "secure_c_ses": "s2", "csesidx": "2", "disabled": true},
                {"id": "carol", "csesidx": "3"},
                {"secure_c_ses": "s4", "csesidx": "4"},
                "not an object",
                {"id": "erin", "secure_c_ses": "s5", "csesidx": "5", "expires_at": "soon"}]"#,
        )]);
        let (accounts, skipped) = resolve_accounts(
            "biz",
            &config.file.plugins["biz"],
            &["note".into()],
            &lookup,
        );
        let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["alice", "business-4"]);
        assert_eq!(accounts[0].secrets["idx"].expose(), "17");
        assert_eq!(accounts[0].expires_at, Some(1_767_225_600_000));
        assert!(!accounts[0].secrets.contains_key("note"));
        // Every element left out is named, with why, and no value shows.
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        let all = skipped.join("\n");
        for needle in [
            "\"bob\"",
            "disabled",
            "\"carol\"",
            "secure_c_ses",
            "element 5",
            "not a JSON object",
            "\"erin\"",
            "expires_at",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        assert!(!all.contains("s2") && !all.contains("s5"), "{all}");
    }

    #[test]
    fn objects_separated_by_commas_and_a_single_object_count_as_lists() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.vertex.accounts]]
            id = "sa"
            for-each = { json-array = "GOOGLE_CREDENTIALS_JSON" }
            secrets = { credentials-json = { field = "*" } }
            "#,
        )
        .unwrap();
        let section = &config.file.plugins["vertex"];
        let two = env(&[(
            "GOOGLE_CREDENTIALS_JSON",
            r#"{"project_id": "a"}, {"project_id": "b"}"#,
        )]);
        let (accounts, skipped) = resolve_accounts("vertex", section, &[], &two);
        assert!(skipped.is_empty(), "{skipped:?}");
        let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["sa-1", "sa-2"]);
        assert_eq!(
            accounts[1].secrets["credentials-json"].expose(),
            r#"{"project_id":"b"}"#
        );
        let one = env(&[("GOOGLE_CREDENTIALS_JSON", r#"{"project_id": "a"}"#)]);
        let (accounts, _) = resolve_accounts("vertex", section, &[], &one);
        assert_eq!(accounts[0].id, "sa");
        let broken = env(&[("GOOGLE_CREDENTIALS_JSON", r#"{"private_key": "SECRET"#)]);
        let (accounts, skipped) = resolve_accounts("vertex", section, &[], &broken);
        assert!(accounts.is_empty());
        assert!(
            skipped[0].contains("not valid JSON") && !skipped[0].contains("SECRET"),
            "{skipped:?}"
        );
    }

    #[test]
    fn numbered_variables_make_one_account_per_number_present() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [[plugins.qwen.accounts]]
            id = "cn-{n}"
            for-each = { numbered = "CN_ACCOUNT_{n}_COOKIE" }
            secrets = { cookie = { env = "CN_ACCOUNT_{n}_COOKIE" }, xsrf-token = { env = "CN_ACCOUNT_{n}_XSRF_TOKEN" } }
            [[plugins.qwen.accounts]]
            id = "keys"
            for-each = { numbered = "GEMINI_API_KEYS_{n}" }
            secrets = { token = { env-list = "GEMINI_API_KEYS_{n}" } }
            "#,
        )
        .unwrap();
        let lookup = env(&[
            ("CN_ACCOUNT_1_COOKIE", "c1"),
            ("CN_ACCOUNT_1_XSRF_TOKEN", "x1"),
            ("CN_ACCOUNT_7_COOKIE", "c7"),
            ("CN_ACCOUNT_12_COOKIE", "c12"),
            ("CN_ACCOUNT_12_XSRF_TOKEN", "x12"),
            ("GEMINI_API_KEYS_2", "a,b"),
        ]);
        let (accounts, skipped) = resolve_accounts(
            "qwen",
            &config.file.plugins["qwen"],
            &["xsrf-token".into()],
            &lookup,
        );
        let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["cn-1", "cn-7", "cn-12", "keys-2-1", "keys-2-2"]);
        assert_eq!(accounts[2].secrets["xsrf-token"].expose(), "x12");
        assert!(!accounts[1].secrets.contains_key("xsrf-token"));
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn for_each_mistakes_name_their_line() {
        for (text, needle) in [
            (
                "[[plugins.x.accounts]]\nid = \"a\"\nfor-each = { numbered = \"X\" }\n",
                "{n}",
            ),
            (
                "[[plugins.x.accounts]]\nid = \"a\"\nfor-each = { }\n",
                "exactly one",
            ),
            (
                "[[plugins.x.accounts]]\nid = \"a\"\nsecrets = { k = { field = \"k\" } }\n",
                "json-array",
            ),
        ] {
            let err = Config::parse(Path::new("t.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("t.toml:3:") || err.starts_with("t.toml:4:"),
                "{err}"
            );
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
