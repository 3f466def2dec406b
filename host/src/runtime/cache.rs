//! Compiled components, cached on disk by content hash, so a restart (or a
//! plugin seen before) does not compile again.
//!
//! A cache entry is named by the SHA-256 of the `.wasm` and by the engine's
//! compatibility hash: a `.cwasm` is only valid for the wasmtime version and
//! engine settings that produced it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry_path(engine: &Engine, dir: &Path, hash: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{hash}-{:016x}.cwasm", hasher.finish()))
}

/// Loads the component from the cache, or compiles it and stores it there.
/// Compiling is CPU-heavy: call this off the async runtime's workers.
pub fn load_or_compile(
    engine: &Engine,
    cache_dir: Option<&Path>,
    wasm: &[u8],
    hash: &str,
) -> wasmtime::Result<(Component, Origin)> {
    let Some(dir) = cache_dir else {
        return Ok((Component::new(engine, wasm)?, Origin::Compiled));
    };
    let path = entry_path(engine, dir, hash);
    if path.exists() {
        // SAFETY: the file was written by this process or an earlier one from
        // `Engine::precompile_component`/`Component::serialize`, under a name
        // that includes the engine's compatibility hash; the cache directory
        // belongs to the gateway.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok((component, Origin::Cached)),
            Err(err) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {err}")
            }
        }
    }
    let component = Component::new(engine, wasm)?;
    match component.serialize() {
        Ok(bytes) => {
            // Write then rename, so a concurrent reader never sees half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if let Err(err) =
                std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path))
            {
                tracing::warn!(path = %path.display(), "could not write the compile cache: {err}");
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Err(err) => tracing::warn!("could not serialize a compiled component: {err}"),
    }
    Ok((component, Origin::Compiled))
}
