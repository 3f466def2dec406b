//! Keeping the live registry in step with `plugins.toml` and `plugins/`.
//!
//! One [`Reloader`] owns the last good state: the configuration and every
//! plugin that loaded. A reload pass reads what changed, compiles and
//! validates it off the request path, and only then swaps the whole registry
//! at once. Requests in flight keep the registry (and plugin instances) they
//! started with. A change that fails leaves the last good version serving and
//! is recorded in the [`ReloadStatus`] the admin API shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::clock::unix_seconds;
use crate::config::Config;
use crate::pool::HealthBook;
use crate::registry::Registry;
use crate::runtime::{LoadedPlugin, Runtime};

/// How long a `.wasm` must stay unchanged before it is loaded: a slow copy
/// is not read half-written.
const SETTLE: Duration = Duration::from_millis(150);

/// How long a `plugins.toml` written in place must stay unchanged before a
/// pass after the watcher's events applies it. A pass runs at least the
/// watcher's debounce after the last write, so a shorter window would never
/// hold anything back; a writer pausing for less than this is read whole.
pub const CONFIG_SETTLE: Duration = Duration::from_secs(1);
const _: () = assert!(CONFIG_SETTLE.as_millis() > crate::watcher::DEBOUNCE.as_millis());

pub type Environment = dyn Fn(&str) -> Option<String> + Send + Sync;

/// What the admin API shows about the live state and the last reload.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReloadStatus {
    pub config: ConfigStatus,
    pub plugins: BTreeMap<String, PluginStatus>,
    /// Problems in the live registry that concern one plugin or account.
    pub warnings: Vec<String>,
    /// Reload passes so far (0: only the start-up load).
    pub reloads: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ConfigStatus {
    pub source: String,
    /// Seconds since the epoch at which the live configuration was loaded.
    pub live_since: u64,
    /// Why the newest version of the file is not live, if it is not.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PluginStatus {
    pub path: String,
    /// The live version, if any version is live.
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub live_since: Option<u64>,
    /// Why the newest file is not live, if it is not.
    pub error: Option<String>,
}

/// Where the configuration and plugins come from, and what is live.
pub struct Reloader {
    runtime: Arc<Runtime>,
    /// `None`: the embedded default, which never changes.
    config_path: Option<PathBuf>,
    plugins_dir: PathBuf,
    /// Plugins uploaded in the console (the data directory's
    /// `wasmgate-plugins/`); one of the same name wins over `plugins_dir`'s.
    uploads_dir: Option<PathBuf>,
    env: Arc<Environment>,
    config: Arc<Config>,
    /// The text of the newest configuration file read, live or not.
    config_text: Option<String>,
    /// Live plugins by file path.
    plugins: BTreeMap<PathBuf, Arc<LoadedPlugin>>,
    registry: Arc<ArcSwap<Registry>>,
    /// Account health, carried from one registry to the next.
    book: Arc<HealthBook>,
    status: Arc<Mutex<ReloadStatus>>,
}

impl Reloader {
    /// The start-up load: the configuration must be valid; plugins that fail
    /// are reported and left out.
    pub async fn start(
        runtime: Arc<Runtime>,
        config: Arc<Config>,
        config_path: Option<PathBuf>,
        plugins_dir: PathBuf,
        uploads_dir: Option<PathBuf>,
        env: Arc<Environment>,
        book: Arc<HealthBook>,
    ) -> Self {
        let (registry, _) = Registry::build(config.clone(), Vec::new(), &book, &|name| env(name));
        let mut reloader = Reloader {
            runtime,
            config_path,
            plugins_dir,
            uploads_dir,
            env,
            status: Arc::new(Mutex::new(ReloadStatus {
                config: ConfigStatus {
                    source: config.source.display().to_string(),
                    live_since: unix_seconds(),
                    error: None,
                },
                ..ReloadStatus::default()
            })),
            config_text: None,
            config,
            plugins: BTreeMap::new(),
            registry: Arc::new(ArcSwap::from_pointee(registry)),
            book,
        };
        if let Some(path) = &reloader.config_path {
            reloader.config_text = std::fs::read_to_string(path).ok();
        }
        reloader.refresh_plugins().await;
        reloader.publish(true);
        reloader
    }

    /// The registry requests read; swapped whole on every successful change.
    pub fn registry(&self) -> Arc<ArcSwap<Registry>> {
        self.registry.clone()
    }

    pub fn status(&self) -> Arc<Mutex<ReloadStatus>> {
        self.status.clone()
    }

    pub fn plugins_dir(&self) -> &Path {
        &self.plugins_dir
    }

    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    pub fn uploads_dir(&self) -> Option<&Path> {
        self.uploads_dir.as_deref()
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The live configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Reads the configuration from `path` from the next pass on (the
    /// console's copy in the data directory, or the shipped file again).
    pub fn set_config_path(&mut self, path: PathBuf) {
        self.config_path = Some(path);
        self.config_text = None;
    }

    /// Why `config` would stop a live plugin, if it would: such a
    /// configuration is not made live.
    pub fn grant_problem(&self, config: &Config) -> Option<String> {
        let env = &self.env;
        self.plugins
            .values()
            .find_map(|plugin| crate::registry::grant_problem(config, plugin, &|name| env(name)))
    }

    /// One reload pass. Returns whether a file was caught still changing, so
    /// the caller can try again shortly.
    pub async fn reload(&mut self) -> bool {
        self.pass(false).await
    }

    /// A pass after the file watcher saw `plugins.toml` written in place: a
    /// file changed less than [`CONFIG_SETTLE`] ago may still be being
    /// written, so it waits for a later pass (the console writes its files
    /// whole, and uses [`Self::reload`], as the watcher does for renames).
    pub async fn reload_changed(&mut self) -> bool {
        self.pass(true).await
    }

    async fn pass(&mut self, settle: bool) -> bool {
        let config_unsettled = self.refresh_config(settle);
        let unsettled = self.refresh_plugins().await || config_unsettled;
        self.lock_status().reloads += 1;
        self.publish(false);
        unsettled
    }

    /// Applies a changed `plugins.toml`. With `settle`, returns `true` when
    /// the file changed less than [`CONFIG_SETTLE`] ago and may still be
    /// being written (an editor that truncates then writes): it is read again
    /// on a later pass, so half a file that happens to parse is not applied.
    fn refresh_config(&mut self, settle: bool) -> bool {
        let Some(path) = &self.config_path else {
            return false;
        };
        let fresh = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age < CONFIG_SETTLE);
        if settle && fresh && self.config_text.is_some() {
            return true;
        }
        let text = match crate::config::read_text(path) {
            Ok(text) => text,
            Err(err) => {
                tracing::error!(path = %path.display(), "configuration not reloaded: {err}");
                self.lock_status().config.error =
                    Some(format!("cannot read {}: {err}", path.display()));
                return false;
            }
        };
        if self.config_text.as_deref() == Some(text.as_str()) {
            return false;
        }
        let first_read = self.config_text.is_none();
        self.config_text = Some(text.clone());
        let env = &self.env;
        let checked = Config::parse(path, &text)
            .map_err(|err| err.to_string())
            .and_then(|config| {
                // A configuration that would stop a live plugin is not made live.
                match self.plugins.values().find_map(|plugin| {
                    crate::registry::grant_problem(&config, plugin, &|name| env(name))
                }) {
                    Some(problem) => Err(format!("{}: {problem}", path.display())),
                    None => Ok(config),
                }
            });
        match checked {
            Ok(config) => {
                if !first_read {
                    warn_about_restart_only_changes(&self.config, &config);
                    tracing::info!(path = %path.display(), "configuration reloaded");
                }
                self.config = Arc::new(config);
                let mut status = self.lock_status();
                status.config.live_since = unix_seconds();
                status.config.error = None;
            }
            Err(err) => {
                tracing::error!("configuration not reloaded, the previous one stays live: {err}");
                self.lock_status().config.error = Some(err);
            }
        }
        false
    }

    /// Loads new and changed `.wasm` files and forgets removed ones. A file
    /// that fails keeps its previous version live.
    async fn refresh_plugins(&mut self) -> bool {
        let mut unsettled = false;
        let mut present = wasm_files(&self.plugins_dir);
        if let Some(dir) = self.uploads_dir.as_ref().filter(|d| d.is_dir()) {
            present.extend(wasm_files(dir));
        }
        self.plugins.retain(|path, plugin| {
            let keep = present.contains(path);
            if !keep {
                tracing::info!(plugin = %plugin.label(), "plugin removed");
            }
            keep
        });
        {
            let mut status = self.lock_status();
            status
                .plugins
                .retain(|_, s| present.iter().any(|p| p.display().to_string() == s.path));
        }
        for path in present {
            let Some(bytes) = read_settled(&path).await else {
                unsettled = true;
                continue;
            };
            let hash = crate::runtime::cache::content_hash(&bytes);
            let name = stem(&path);
            if self
                .plugins
                .get(&path)
                .is_some_and(|live| live.hash == hash)
            {
                continue;
            }
            let env = &self.env;
            let loaded = LoadedPlugin::load_bytes(&self.runtime, &path, bytes)
                .await
                .and_then(|plugin| {
                    match crate::registry::grant_problem(&self.config, &plugin, &|name| env(name)) {
                        Some(problem) => Err(crate::runtime::LoadError::BadManifest {
                            path: path.clone(),
                            reason: problem,
                        }),
                        None => Ok(plugin),
                    }
                });
            match loaded {
                Ok(plugin) => {
                    tracing::info!(
                        plugin = %plugin.label(),
                        path = %path.display(),
                        compiled = if plugin.from_cache { "cached" } else { "now" },
                        "plugin loaded"
                    );
                    let mut status = self.lock_status();
                    status.plugins.insert(
                        name,
                        PluginStatus {
                            path: path.display().to_string(),
                            version: Some(plugin.manifest.version.clone()),
                            sha256: Some(plugin.hash.clone()),
                            live_since: Some(unix_seconds()),
                            error: None,
                        },
                    );
                    drop(status);
                    self.plugins.insert(path, Arc::new(plugin));
                }
                Err(err) => {
                    let live = self.plugins.get(&path).map(|p| p.label());
                    match &live {
                        Some(live) => {
                            tracing::error!("plugin not reloaded, {live} stays live: {err}")
                        }
                        None => tracing::error!("plugin not loaded: {err}"),
                    }
                    let mut status = self.lock_status();
                    let entry = status.plugins.entry(name).or_default();
                    entry.path = path.display().to_string();
                    entry.error = Some(err.to_string());
                }
            }
        }
        unsettled
    }

    /// Builds the registry from the live configuration and plugins, and swaps it in.
    fn publish(&self, first: bool) {
        // One plugin per name: an uploaded one over the shipped one.
        let mut by_name: BTreeMap<String, Arc<LoadedPlugin>> = BTreeMap::new();
        let uploaded = |p: &LoadedPlugin| {
            self.uploads_dir
                .as_deref()
                .is_some_and(|dir| p.path.parent() == Some(dir))
        };
        for plugin in self.plugins.values() {
            let name = plugin.name.to_string();
            if by_name.get(&name).is_none_or(|other| !uploaded(other)) {
                by_name.insert(name, plugin.clone());
            }
        }
        let plugins: Vec<Arc<LoadedPlugin>> = by_name.into_values().collect();
        let env = &self.env;
        let (registry, warnings) =
            Registry::build(self.config.clone(), plugins, &self.book, &|name| env(name));
        if first {
            for grant in registry.describe_grants() {
                tracing::info!("grant: {grant}");
            }
        }
        let previous = std::mem::take(&mut self.lock_status().warnings);
        // At start: one line per plugin and one saying what to do next.
        let said = if first {
            crate::console::startup::summarize(&warnings)
        } else {
            warnings
                .iter()
                .filter(|w| !previous.contains(w))
                .cloned()
                .collect()
        };
        for warning in &said {
            tracing::warn!("{warning}");
        }
        self.lock_status().warnings = warnings;
        self.registry.store(Arc::new(registry));
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, ReloadStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Settings that only take effect at start say so instead of silently not applying.
fn warn_about_restart_only_changes(old: &Config, new: &Config) {
    if format!("{:?}", old.file.server) != format!("{:?}", new.file.server) {
        tracing::warn!("[server] changed: it applies at the next start");
    }
    if format!("{:?}", old.file.runtime) != format!("{:?}", new.file.runtime) {
        tracing::warn!("[runtime] changed: it applies at the next start");
    }
}

/// The `.wasm` files of a directory, hidden (temporary) files left out.
pub fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .filter(|p| plugin_file_is_sane(p))
            .collect(),
        Err(err) => {
            tracing::warn!(dir = %dir.display(), "cannot read the plugins directory: {err}");
            Vec::new()
        }
    };
    paths.sort();
    paths
}

/// The file's bytes once it has stopped changing, or `None` if it is still
/// being written (or vanished).
/// The largest plugin file loaded: the shipped ones are a few MiB, a
/// JavaScript component ~12 MiB.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// Whether a `.wasm` entry is a regular file (a link to one is fine) of at
/// most [`MAX_PLUGIN_BYTES`]: a FIFO or a device would block the reader for
/// good and a huge file would fill memory, so they are skipped, with a word.
fn plugin_file_is_sane(path: &Path) -> bool {
    let problem = match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => "it is not a regular file".to_string(),
        Ok(metadata) if metadata.len() > MAX_PLUGIN_BYTES => {
            format!("it is larger than {} MiB", MAX_PLUGIN_BYTES >> 20)
        }
        Ok(_) => return true,
        // Vanished or unreadable: the next pass sees what became of it.
        Err(_) => return false,
    };
    tracing::error!(path = %path.display(), "plugin not loaded: {problem}");
    false
}

async fn read_settled(path: &Path) -> Option<Vec<u8>> {
    let before = tokio::fs::metadata(path).await.ok()?;
    let bytes = tokio::fs::read(path).await.ok()?;
    let recently_changed = before
        .modified()
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_none_or(|age| age < SETTLE);
    if recently_changed {
        tokio::time::sleep(SETTLE).await;
    }
    let after = tokio::fs::metadata(path).await.ok()?;
    let unchanged = after.len() == before.len()
        && after.len() == bytes.len() as u64
        && after.modified().ok() == before.modified().ok();
    unchanged.then_some(bytes)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
