//! A plugin loaded from a `.wasm` file: compiled, linked, and asked for its
//! manifest. Loading happens off the request path; a failure names the file
//! and what is wrong with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::bindings::{PluginManifest, ProviderPre};
use super::cache::{self, Origin};
use super::engine::Runtime;
use super::session::{CallError, Session};
use super::state::AccountContext;
use crate::capabilities::egress::Grants;
use crate::config::Account;

/// How long `manifest()` may take: it must not do I/O.
const MANIFEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable WebAssembly component: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error(
        "{path} does not fit the wasmgate:provider@0.1.0 world or asks for capabilities wasmgate does not grant: {reason}"
    )]
    Link { path: PathBuf, reason: String },
    #[error("{path}: its manifest() failed: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("{path}: its manifest is not sane: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "{path}: a plugin's file name is its name: lowercase letters, digits, '-' and '_', then .wasm"
    )]
    BadName { path: PathBuf },
}

pub struct LoadedPlugin {
    /// The file stem: `plugins/gemini.wasm` is the plugin `gemini`.
    pub name: Arc<str>,
    pub path: PathBuf,
    /// SHA-256 of the file.
    pub hash: String,
    pub manifest: PluginManifest,
    /// Whether the component came out of the compile cache.
    pub from_cache: bool,
    pre: ProviderPre<super::state::PluginState>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("version", &self.manifest.version)
            .field("hash", &self.hash)
            .finish()
    }
}

impl LoadedPlugin {
    pub async fn load(runtime: &Arc<Runtime>, path: &Path) -> Result<Self, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Self::load_bytes(runtime, path, bytes).await
    }

    /// Loads a plugin from bytes already read from `path`.
    pub async fn load_bytes(
        runtime: &Arc<Runtime>,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Self, LoadError> {
        let name: Arc<str> = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .into();
        // The name keys configuration, secrets and state: nothing odd in it.
        if name.len() > 64 || !crate::config::is_plugin_name(&name) {
            return Err(LoadError::BadName {
                path: path.to_path_buf(),
            });
        }
        let hash = cache::content_hash(&bytes);

        let compiled = {
            let runtime = runtime.clone();
            let hash = hash.clone();
            tokio::task::spawn_blocking(move || {
                cache::load_or_compile(&runtime.engine, runtime.cache_dir.as_deref(), &bytes, &hash)
            })
            .await
            .map_err(|err| LoadError::Compile {
                path: path.to_path_buf(),
                reason: err.to_string(),
            })?
        };
        let (component, origin) = compiled.map_err(|err| LoadError::Compile {
            path: path.to_path_buf(),
            reason: format!("{err:#}"),
        })?;

        let link = |err: wasmtime::Error| LoadError::Link {
            path: path.to_path_buf(),
            reason: format!("{err:#}"),
        };
        let instance_pre = runtime.linker.instantiate_pre(&component).map_err(link)?;
        let pre = ProviderPre::new(instance_pre).map_err(link)?;

        let mut plugin = LoadedPlugin {
            name: name.clone(),
            path: path.to_path_buf(),
            hash,
            manifest: PluginManifest {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                hosts: Vec::new(),
                secrets: Vec::new(),
                settings: Vec::new(),
                models: Vec::new(),
            },
            from_cache: origin == Origin::Cached,
            pre,
        };
        // manifest() runs with no account, no state and no egress.
        let context = AccountContext {
            plugin: name,
            account: Account {
                id: String::new(),
                secrets: Arc::default(),
                settings: Arc::default(),
                expires_at: None,
            },
            state: Arc::new(Default::default()),
        };
        let manifest = async {
            let mut session = plugin
                .session(runtime, context, Arc::new(Grants::none()))
                .await?;
            session.manifest(MANIFEST_TIMEOUT).await
        }
        .await
        .map_err(|err| LoadError::Manifest {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
        check_manifest(&manifest).map_err(|reason| LoadError::BadManifest {
            path: path.to_path_buf(),
            reason,
        })?;
        plugin.manifest = manifest;
        Ok(plugin)
    }

    /// A fresh, sandboxed instance for one request on one account. Waits for a
    /// free instance slot when all are in use.
    pub async fn session(
        &self,
        runtime: &Arc<Runtime>,
        context: AccountContext,
        grants: Arc<Grants>,
    ) -> Result<Session, CallError> {
        Session::start(runtime, &self.pre, context, grants).await
    }

    /// `name@version`, as shown to clients and in logs.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.manifest.version)
    }
}

fn check_manifest(manifest: &PluginManifest) -> Result<(), String> {
    if manifest.version.is_empty() {
        return Err("it has no version".into());
    }
    for host in &manifest.hosts {
        crate::config::HostPattern::parse(host).map_err(|err| format!("hosts: {err}"))?;
    }
    if manifest.models.iter().any(|model| model.id.is_empty()) {
        return Err("a model has an empty id".into());
    }
    Ok(())
}
