//! The registry: the loaded plugins with their accounts and grants, and the
//! routes from model names to them. Built off the request path from a
//! [`Config`] and a set of loaded plugins, then used read-only by requests.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::capabilities::egress::Grants;
use crate::config::{self, Account, Config, HostPattern, PoolSection, ResolvedTarget};
use crate::pool::{HealthBook, Pool, PoolPolicy};
use crate::runtime::{LoadError, LoadedPlugin, Runtime};

/// A loaded plugin with what the operator (or its manifest) grants it.
pub struct PluginEntry {
    pub plugin: Arc<LoadedPlugin>,
    /// Its accounts, with their health.
    pub pool: Pool,
    pub grants: Arc<Grants>,
    /// Whether `plugins.toml` configures it (else it runs on its manifest).
    pub configured: bool,
    /// What to set when it has no account, for the error a caller gets.
    pub account_hint: String,
}

/// Where a requested model goes.
pub struct Resolution {
    /// Loaded targets in the order to try them.
    pub targets: Vec<Hop>,
}

/// One plugin a request may go to, and what to ask it for.
pub struct Hop {
    pub entry: Arc<PluginEntry>,
    /// The upstream model name.
    pub model: String,
    /// Asked for instead when the plugin does not know `model`.
    pub default_model: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    UnknownModel(String),
    #[error("The model `{model}` is routed to the plugin `{plugin}`, which is not loaded.")]
    PluginMissing { model: String, plugin: String },
    #[error("A model name is 1 to {MAX_MODEL_NAME} printable characters without spaces.")]
    InvalidName,
}

/// The longest model name a caller may send: names key routes, logs and
/// cooldowns, and every real one is far shorter.
pub const MAX_MODEL_NAME: usize = 200;

pub struct Registry {
    pub config: Arc<Config>,
    pub plugins: BTreeMap<String, Arc<PluginEntry>>,
    /// Model ids plugins declare, for names `[models]` does not route.
    declared: HashMap<String, String>,
}

impl Registry {
    /// Builds the registry; problems that only concern one plugin or account
    /// are returned as warnings and that part is left out.
    /// Account health comes from (and stays in) `book`, so it outlives this registry.
    pub fn build(
        config: Arc<Config>,
        loaded: Vec<Arc<LoadedPlugin>>,
        book: &Arc<HealthBook>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Registry, Vec<String>) {
        let mut warnings = Vec::new();
        let mut plugins = BTreeMap::new();
        for plugin in loaded {
            let name = plugin.name.to_string();
            let entry = match config.file.plugins.get(&name) {
                Some(section) => {
                    let optional: Vec<String> = plugin
                        .manifest
                        .secrets
                        .iter()
                        .filter(|secret| !secret.required)
                        .map(|secret| secret.name.clone())
                        .collect();
                    let (accounts, skipped) =
                        config::resolve_accounts(&name, section, &optional, env);
                    warnings.extend(skipped);
                    match configured_grants(&plugin, section, &accounts) {
                        Ok(grants) => PluginEntry {
                            pool: Pool::new(
                                &name,
                                accounts,
                                PoolPolicy::resolve(&config.file.pool, &section.pool),
                                book.clone(),
                            ),
                            plugin,
                            grants: Arc::new(grants.with_proxy(
                                crate::capabilities::proxy::for_plugin(
                                    &name,
                                    section,
                                    env,
                                    &mut warnings,
                                ),
                            )),
                            configured: true,
                            account_hint: format!(
                                "configure accounts under [plugins.{name}] in plugins.toml, and set their variables"
                            ),
                        },
                        Err(reason) => {
                            warnings.push(format!("plugin {name:?} not served: {reason}"));
                            continue;
                        }
                    }
                }
                None => implicit_entry(plugin, &config, book, env),
            };
            if entry.pool.is_empty() {
                warnings.push(format!(
                    "plugin {name:?} has no account: {}",
                    entry.account_hint
                ));
            }
            plugins.insert(name, Arc::new(entry));
        }
        for name in config.file.plugins.keys() {
            if !plugins.contains_key(name)
                && !warnings
                    .iter()
                    .any(|w| w.contains(&format!("{name:?} not served")))
            {
                warnings.push(format!(
                    "[plugins.{name}] is configured but plugins/{name}.wasm is not loaded"
                ));
            }
        }
        // A model id two plugins declare goes to a configured plugin before a
        // dropped-in one, and the clash is reported unless [models] already
        // says where the id goes (the shipped file routes `gemini-*` to a
        // chain of the four Gemini plugins).
        let mut declared: HashMap<String, String> = HashMap::new();
        let by_preference = plugins
            .iter()
            .filter(|(_, e)| e.configured)
            .chain(plugins.iter().filter(|(_, e)| !e.configured));
        for (name, entry) in by_preference {
            for model in &entry.plugin.manifest.models {
                match declared.get(&model.id) {
                    Some(_) if config.routes.resolve(&model.id).is_some() => {}
                    Some(first) => warnings.push(format!(
                        "plugins {first:?} and {name:?} both declare the model {:?}; it goes to {first:?} unless [models] routes it",
                        model.id
                    )),
                    None => {
                        declared.insert(model.id.clone(), name.clone());
                    }
                }
            }
        }
        (
            Registry {
                config,
                plugins,
                declared,
            },
            warnings,
        )
    }

    pub fn resolve(&self, model: &str) -> Result<Resolution, ResolveError> {
        if model.is_empty()
            || model.len() > MAX_MODEL_NAME
            || model.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ResolveError::InvalidName);
        }
        let targets: Vec<ResolvedTarget> = match self.config.routes.resolve(model) {
            Some((_, targets)) => targets,
            None => match self.declared.get(model) {
                Some(plugin) => vec![ResolvedTarget {
                    plugin: plugin.clone(),
                    upstream_model: model.to_string(),
                    default_model: None,
                }],
                None => return Err(ResolveError::UnknownModel(model.to_string())),
            },
        };
        let loaded: Vec<Hop> = targets
            .iter()
            .filter_map(|t| {
                self.plugins.get(&t.plugin).map(|entry| Hop {
                    entry: entry.clone(),
                    model: t.upstream_model.clone(),
                    default_model: t.default_model.clone(),
                })
            })
            .collect();
        if loaded.is_empty() {
            return Err(ResolveError::PluginMissing {
                model: model.to_string(),
                plugin: targets[0].plugin.clone(),
            });
        }
        Ok(Resolution { targets: loaded })
    }

    /// Every model name a client can use, with the plugin that serves it:
    /// exact routes, and each model a plugin declares under the name that
    /// reaches it (`vertex-gemini-2.5-pro` through a
    /// `"vertex-*" = { plugin = "vertex", model = "*" }` route). A declared
    /// model that no name reaches is not listed. Unless `all`, only plugins
    /// that can serve now count (see [`Pool::serves_now`]), and a name is
    /// listed under the first of its plugins that can.
    pub fn models(&self, all: bool) -> Vec<(String, String)> {
        self.models_with(all, &|_| None)
    }

    /// [`Registry::models`], with each plugin's live list (`live`) besides
    /// the ids its manifest declares.
    pub fn models_with(
        &self,
        all: bool,
        live: &dyn Fn(&Arc<PluginEntry>) -> Option<Vec<String>>,
    ) -> Vec<(String, String)> {
        let counts = |entry: &PluginEntry| all || entry.pool.serves_now();
        let mut models: BTreeMap<String, String> = BTreeMap::new();
        // The first plugin of `name`'s route that counts and is asked for
        // `model` (any model when `None`).
        let server = |name: &str, model: Option<(&str, &str)>| -> Option<String> {
            let resolution = self.resolve(name).ok()?;
            resolution
                .targets
                .iter()
                .filter(|hop| counts(&hop.entry))
                .find(|hop| {
                    model.is_none_or(|(plugin, model)| {
                        &*hop.entry.plugin.name == plugin && hop.model == model
                    })
                })
                .map(|hop| hop.entry.plugin.name.to_string())
        };
        for route in self.config.routes.routes() {
            if route.pattern.contains('*') {
                continue;
            }
            if let Some(plugin) = server(&route.pattern, None) {
                models.insert(route.pattern.clone(), plugin);
            }
        }
        for (name, entry) in &self.plugins {
            if !counts(entry) {
                continue;
            }
            let mut ids: Vec<String> = entry
                .plugin
                .manifest
                .models
                .iter()
                .map(|m| m.id.clone())
                .collect();
            for id in live(entry).unwrap_or_default() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            for model_id in &ids {
                let mut exposed = vec![model_id.clone()];
                exposed.extend(self.config.routes.routes().flat_map(|route| {
                    route
                        .targets
                        .iter()
                        .filter(|t| &t.plugin == name)
                        .filter_map(|target| match target.model.as_deref() {
                            // Passed through: the model's own id, if the glob takes it.
                            None => Some(model_id.clone()),
                            Some(remap) => {
                                let (prefix, suffix) = remap.split_once('*')?;
                                let captured =
                                    model_id.strip_prefix(prefix)?.strip_suffix(suffix)?;
                                Some(route.pattern.replacen('*', captured, 1))
                            }
                        })
                        .collect::<Vec<_>>()
                }));
                for candidate in exposed {
                    if models.contains_key(&candidate) {
                        continue;
                    }
                    // Listed under whichever plugin a request would reach first.
                    if server(&candidate, Some((name, model_id.as_str()))).is_some()
                        && let Some(first) = server(&candidate, None)
                    {
                        models.insert(candidate, first);
                    }
                }
            }
        }
        models.into_iter().collect()
    }

    /// One line per plugin saying what it may reach and read, for the log.
    pub fn describe_grants(&self) -> Vec<String> {
        self.plugins
            .values()
            .map(|entry| {
                let hosts: Vec<String> =
                    entry.grants.iter().map(|g| g.pattern.to_string()).collect();
                let accounts: Vec<String> = entry
                    .pool
                    .accounts()
                    .map(|a| {
                        let mut names: Vec<&str> = a.secrets.keys().map(String::as_str).collect();
                        names.sort_unstable();
                        format!("{}[{}]", a.id, names.join(","))
                    })
                    .collect();
                format!(
                    "plugin {} ({}): hosts [{}]; accounts [{}]",
                    entry.plugin.label(),
                    if entry.configured {
                        "plugins.toml"
                    } else {
                        "manifest"
                    },
                    hosts.join(", "),
                    accounts.join(", ")
                )
            })
            .collect()
    }
}

/// Why `plugin` could not be served under `config`, if it could not: its
/// manifest wants a host the configuration does not grant. A reload checks
/// this before making a new plugin version or configuration live.
pub fn grant_problem(
    config: &Config,
    plugin: &LoadedPlugin,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let section = config.file.plugins.get(&*plugin.name)?;
    let (accounts, _) = config::resolve_accounts(&plugin.name, section, &[], env);
    configured_grants(plugin, section, &accounts)
        .err()
        .map(|reason| format!("{}: {reason}", plugin.label()))
}

/// The grants of a plugin `plugins.toml` configures: its `allowed-hosts` and
/// its accounts' `base-url` origins. Every host the manifest needs must be
/// granted, unless every account points the plugin elsewhere.
fn configured_grants(
    plugin: &LoadedPlugin,
    section: &config::PluginSection,
    accounts: &[Account],
) -> Result<Grants, String> {
    let mut grants = Grants::none();
    for host in &section.allowed_hosts {
        let pattern = HostPattern::parse(host.get_ref()).map_err(|e| e.to_string())?;
        let exact = pattern.is_exact();
        grants.add(pattern, exact);
    }
    for account in &section.accounts {
        if let Some(url) = account.settings.get("base-url") {
            grants.add(
                HostPattern::from_url(url.get_ref()).map_err(|e| e.to_string())?,
                true,
            );
        }
    }
    let redirected = !accounts.is_empty() && accounts.iter().all(|a| a.base_url().is_some());
    if !redirected {
        for host in &plugin.manifest.hosts {
            let needed = HostPattern::parse(host).map_err(|e| e.to_string())?;
            if !grants.iter().any(|g| g.pattern.covers(&needed)) {
                return Err(format!(
                    "its manifest needs the host {host:?}, which its allowed-hosts in plugins.toml do not grant"
                ));
            }
        }
    }
    Ok(grants)
}

/// A plugin `plugins.toml` does not mention runs on its manifest: the hosts
/// it declares (as public hosts only) and `<PLUGIN>_<SECRET>` variables.
fn implicit_entry(
    plugin: Arc<LoadedPlugin>,
    config: &Config,
    book: &Arc<HealthBook>,
    env: &dyn Fn(&str) -> Option<String>,
) -> PluginEntry {
    let mut grants = Grants::none();
    for host in &plugin.manifest.hosts {
        // Only names: an address in a manifest nobody configured is how a
        // plugin would ask for the metadata service or the local network.
        let bare = host
            .split("://")
            .last()
            .unwrap_or_default()
            .trim_start_matches('[')
            .split([']', '/'])
            .next()
            .unwrap_or_default();
        let literal = bare.parse::<std::net::IpAddr>().is_ok()
            || bare
                .rsplit_once(':')
                .is_some_and(|(ip, _)| ip.parse::<std::net::IpAddr>().is_ok());
        if literal {
            tracing::warn!(
                plugin = &*plugin.name,
                host,
                "a manifest host that is an IP address is not granted; configure the plugin to allow it"
            );
            continue;
        }
        if let Ok(pattern) = HostPattern::parse(host) {
            grants.add(pattern, false);
        }
    }
    let secret_names: Vec<String> = plugin
        .manifest
        .secrets
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let all_optional = plugin.manifest.secrets.iter().all(|s| !s.required);
    let taken = |variable: &str| config.file.references_variable(variable);
    let mut accounts = config::implicit_accounts(&plugin.name, &secret_names, &taken, env);
    if accounts.is_empty() && all_optional {
        // Nothing is required, so the plugin can run without secrets.
        accounts.push(Account {
            id: "default".into(),
            secrets: Arc::default(),
            settings: Arc::default(),
            expires_at: None,
        });
    }
    let account_hint = account_hint(&plugin.name, &plugin);
    let policy = PoolPolicy::resolve(&config.file.pool, &PoolSection::default());
    PluginEntry {
        pool: Pool::new(&plugin.name, accounts, policy, book.clone()),
        plugin,
        grants: Arc::new(grants),
        configured: false,
        account_hint,
    }
}

fn account_hint(name: &str, plugin: &LoadedPlugin) -> String {
    let vars: Vec<String> = plugin
        .manifest
        .secrets
        .iter()
        .map(|s| config::implicit_variable(name, &s.name))
        .collect();
    format!(
        "set {} or configure [plugins.{name}] accounts in plugins.toml",
        vars.join(" / ")
    )
}

/// Loads every `*.wasm` in a directory; a file that fails is reported and
/// left out, never taking the others down.
pub async fn load_plugins(
    runtime: &Arc<Runtime>,
    dir: &Path,
) -> (Vec<Arc<LoadedPlugin>>, Vec<LoadError>) {
    let paths = crate::reload::wasm_files(dir);
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    for path in paths {
        match LoadedPlugin::load(runtime, &path).await {
            Ok(plugin) => loaded.push(Arc::new(plugin)),
            Err(err) => failed.push(err),
        }
    }
    (loaded, failed)
}
