//! A plugin loaded from a `.wasm` file: compiled, linked, and asked for its
//! manifest. Loading happens off the request path; a failure names the file
//! and what is wrong with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::bindings::{PluginManifest, ProviderPre};
use super::cache::{self, Origin};
use super::contract;
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
        "{path} does not fit the wasmgate:provider@{version} world or asks for capabilities wasmgate does not grant: {reason}",
        version = super::bindings::CONTRACT_VERSION
    )]
    Link { path: PathBuf, reason: String },
    #[error("{path} cannot be served: {reason}")]
    Contract { path: PathBuf, reason: String },
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
        // Before compiling: a plugin for another contract gets a message
        // that says so, not a link error about mismatched types.
        let contract = |reason| LoadError::Contract {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(built_for) = contract::recorded_version(&bytes) {
            contract::mismatch(&built_for).map_or(Ok(()), |why| Err(contract(why)))?;
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

        let exports = component.component_type();
        let exported = exports.exports(&runtime.engine).map(|(name, _)| name);
        if let Some(built_for) = contract::exported_version(exported) {
            contract::mismatch(&built_for).map_or(Ok(()), |why| Err(contract(why)))?;
        }
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
        let context = AccountContext::new(
            name,
            Account {
                id: String::new(),
                secrets: Arc::default(),
                settings: Arc::default(),
                expires_at: None,
            },
            Arc::new(Default::default()),
            "",
        );
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

/// Longest version string: it is shown in every answer's header and log line.
const MAX_VERSION: usize = 64;

fn check_manifest(manifest: &PluginManifest) -> Result<(), String> {
    // Version and model ids reach headers, log lines and routes: printable
    // and short, or the plugin could forge a log line from its manifest.
    let printable = |text: &str| !text.chars().any(|c| c.is_control() || c.is_whitespace());
    if manifest.version.is_empty() {
        return Err("it has no version".into());
    }
    if manifest.version.len() > MAX_VERSION || !printable(&manifest.version) {
        return Err(format!(
            "its version is not 1 to {MAX_VERSION} printable characters without spaces"
        ));
    }
    for host in &manifest.hosts {
        crate::config::HostPattern::parse(host).map_err(|err| {
            let said = format!("hosts: {err}");
            crate::capabilities::redact::plugin_text(
                &said,
                [],
                crate::capabilities::redact::MAX_ERROR_BYTES,
            )
        })?;
    }
    if manifest.models.iter().any(|model| model.id.is_empty()) {
        return Err("a model has an empty id".into());
    }
    let max = crate::registry::MAX_MODEL_NAME;
    if manifest
        .models
        .iter()
        .any(|model| model.id.len() > max || !printable(&model.id))
    {
        return Err(format!(
            "a model id is not 1 to {max} printable characters without spaces"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::ModelInfo;

    fn manifest(version: &str, model: &str, host: &str) -> PluginManifest {
        PluginManifest {
            name: "p".into(),
            version: version.into(),
            description: String::new(),
            hosts: vec![host.into()],
            secrets: Vec::new(),
            settings: Vec::new(),
            models: vec![ModelInfo {
                id: model.into(),
                display_name: None,
                context_window: None,
            }],
        }
    }

    #[test]
    fn a_manifest_cannot_carry_lines_into_the_log() {
        assert!(check_manifest(&manifest("1.0.0", "m", "example.com")).is_ok());
        assert!(check_manifest(&manifest("1\nINFO forged", "m", "example.com")).is_err());
        assert!(check_manifest(&manifest(&"9".repeat(65), "m", "example.com")).is_err());
        assert!(check_manifest(&manifest("1", "m\r\nINFO forged", "example.com")).is_err());
        if let Err(reason) = check_manifest(&manifest("1", "m", "bad host\nINFO forged")) {
            assert!(!reason.contains('\n'), "{reason:?}");
        }
    }
}
