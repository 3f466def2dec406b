//! Accounts: a plugin's secrets, read from environment variables named in
//! `plugins.toml`, and its non-secret settings.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::file::{PluginSection, RESERVED_VARIABLES, SecretSource};

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
/// were skipped (an unset variable, lists of different lengths). A secret the
/// plugin calls optional is left out when its variable is unset.
pub fn resolve_accounts(
    plugin: &str,
    section: &PluginSection,
    optional: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Account>, Vec<String>) {
    let mut accounts = Vec::new();
    let mut skipped = Vec::new();
    for account in &section.accounts {
        let id = account.id.get_ref();
        let settings: Arc<HashMap<String, String>> = Arc::new(
            account
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
        );
        let sources: Vec<(&String, &SecretSource)> = account
            .secrets
            .iter()
            .map(|(name, source)| (name, source.get_ref()))
            .filter(|(name, source)| {
                !optional.contains(name)
                    || env(source.variable()).is_some_and(|v| !v.trim().is_empty())
            })
            .collect();
        // An account whose every secret is optional and unset has nothing to run on.
        let outcome = if sources.is_empty() && !account.secrets.is_empty() {
            let variables: Vec<&str> = account
                .secrets
                .values()
                .map(|s| s.get_ref().variable())
                .collect();
            Err(format!(
                "environment variable {} is not set",
                variables.join(" / ")
            ))
        } else {
            expand(&sources, env)
        };
        match outcome {
            Ok(sets) => {
                let many = sets.len() > 1;
                for (index, secrets) in sets.into_iter().enumerate() {
                    accounts.push(Account {
                        id: if many {
                            format!("{id}-{}", index + 1)
                        } else {
                            id.clone()
                        },
                        secrets: Arc::new(secrets),
                        settings: settings.clone(),
                        expires_at: account
                            .expires_at
                            .as_ref()
                            .and_then(|at| super::datetime::unix_millis(at.get_ref())),
                    });
                }
            }
            Err(reason) => skipped.push(format!(
                "plugin {plugin:?}, account {id:?}: {reason}; skipped"
            )),
        }
    }
    (accounts, skipped)
}

/// Accounts for a plugin that `plugins.toml` does not mention, from its
/// manifest's secret names: `<PLUGIN>_<SECRET>` holds one value and
/// `<PLUGIN>_<SECRET>S` a comma-separated list (one account per value).
pub fn implicit_accounts(
    plugin: &str,
    secret_names: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Account> {
    let prefix = env_name(plugin);
    let mut sources: Vec<(String, SecretSource)> = Vec::new();
    for name in secret_names {
        let single = format!("{prefix}_{}", env_name(name));
        let list = format!("{single}S");
        if RESERVED_VARIABLES.contains(&single.as_str())
            || RESERVED_VARIABLES.contains(&list.as_str())
        {
            continue;
        }
        if env(&list).is_some() {
            sources.push((name.clone(), SecretSource::EnvList(list)));
        } else if env(&single).is_some() {
            sources.push((name.clone(), SecretSource::Env(single)));
        }
    }
    if sources.is_empty() {
        return Vec::new();
    }
    let refs: Vec<(&String, &SecretSource)> = sources.iter().map(|(n, s)| (n, s)).collect();
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

/// `gemini-web` → `GEMINI_WEB`.
pub fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// Reads the variables; a list variable makes one secret set per value.
fn expand(
    sources: &[(&String, &SecretSource)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<HashMap<String, SecretValue>>, String> {
    let mut singles = HashMap::new();
    let mut lists: Vec<(&String, Vec<String>)> = Vec::new();
    for (name, source) in sources {
        let variable = source.variable();
        let value = env(variable)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("environment variable {variable} is not set"))?;
        match source {
            SecretSource::Env(_) => {
                singles.insert((*name).clone(), SecretValue::new(value));
            }
            SecretSource::EnvList(_) => {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect();
                lists.push((name, items));
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
    fn implicit_accounts_read_only_prefixed_variables() {
        let lookup = env(&[
            ("GEMINI_API_KEYS", "a,b"),
            ("API_KEY", "gateway"),
            ("GEMINI_WEB_PSID", "p"),
        ]);
        let accounts = implicit_accounts("gemini", &["api-key".into()], &lookup);
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].secrets["api-key"].expose(), "a");
        let web = implicit_accounts("gemini-web", &["psid".into()], &lookup);
        assert_eq!(web[0].secrets["psid"].expose(), "p");
        assert!(implicit_accounts("other", &["key".into()], &lookup).is_empty());
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
}
