//! Compiled components, kept so a module is compiled once.
//!
//! Compiling a component is the expensive step of loading it (milliseconds for a
//! small Rust guest, seconds for a Python or JavaScript one). Compiled components are
//! kept in memory by content hash for the life of the runtime and, when a cache
//! directory is configured, written to disk as precompiled artifacts so a restart
//! loads them without compiling. An artifact's file name carries the content hash and
//! a fingerprint of the wasmtime version and engine settings, because an artifact
//! made under other settings cannot be loaded.

use crate::sync::lock;
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Counters of the cache's work, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Components compiled from wasm.
    pub compiled: u64,
    /// Loads served from a precompiled artifact on disk.
    pub loaded_from_disk: u64,
    /// Loads served from memory.
    pub reused: u64,
}

pub(crate) struct ComponentCache {
    directory: Option<PathBuf>,
    engine_fingerprint: String,
    compiled: Mutex<HashMap<String, Component>>,
    compiled_count: AtomicU64,
    disk_count: AtomicU64,
    reused_count: AtomicU64,
}

/// The hex SHA-256 of a module's bytes: its identity everywhere in Refold.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl ComponentCache {
    pub(crate) fn new(engine: &Engine, directory: Option<PathBuf>) -> Result<Self> {
        if let Some(dir) = &directory {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ComponentCache {
            directory,
            engine_fingerprint: format!("{:016x}", hasher.finish()),
            compiled: Mutex::new(HashMap::new()),
            compiled_count: AtomicU64::new(0),
            disk_count: AtomicU64::new(0),
            reused_count: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled_count.load(Ordering::Relaxed),
            loaded_from_disk: self.disk_count.load(Ordering::Relaxed),
            reused: self.reused_count.load(Ordering::Relaxed),
        }
    }

    /// The compiled form of `bytes` (whose hash is `hash`), compiling only if neither
    /// memory nor disk has it.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        module: &str,
        hash: &str,
        bytes: &[u8],
    ) -> Result<Component> {
        if let Some(component) = lock(&self.compiled).get(hash) {
            self.reused_count.fetch_add(1, Ordering::Relaxed);
            return Ok(component.clone());
        }
        let artifact = self.artifact_path(hash);
        let component = match artifact
            .as_deref()
            .and_then(|path| load_artifact(engine, path))
        {
            Some(component) => {
                self.disk_count.fetch_add(1, Ordering::Relaxed);
                component
            }
            None => {
                super::sniff::check(module, bytes)?;
                let component =
                    Component::new(engine, bytes).map_err(|source| Error::InvalidModule {
                        module: module.to_owned(),
                        source: super::wasm_cause(source),
                    })?;
                self.compiled_count.fetch_add(1, Ordering::Relaxed);
                if let Some(path) = &artifact {
                    store_artifact(&component, path);
                }
                component
            }
        };
        self.compiled
            .lock()
            .expect("cache poisoned")
            .insert(hash.to_owned(), component.clone());
        Ok(component)
    }

    fn artifact_path(&self, hash: &str) -> Option<PathBuf> {
        let dir = self.directory.as_ref()?;
        Some(dir.join(format!("{hash}-{}.cwasm", self.engine_fingerprint)))
    }
}

/// Load a precompiled artifact this cache wrote; `None` (and a debug log) when it is
/// missing or unusable, in which case the caller compiles.
fn load_artifact(engine: &Engine, path: &Path) -> Option<Component> {
    if !path.exists() {
        return None;
    }
    // SAFETY: the file was written by `store_artifact` from `Component::serialize` under
    // this engine fingerprint, into a directory the runtime owns; wasmtime also checks
    // the artifact's header and engine compatibility before using it.
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize_file(engine, path) };
    match loaded {
        Ok(component) => Some(component),
        Err(error) => {
            tracing::debug!(path = %path.display(), error = %format!("{error:#}"), "precompiled artifact unusable; compiling");
            None
        }
    }
}

/// Write a precompiled artifact atomically (temp file, then rename). Failure to cache
/// is logged, not fatal: the module is compiled and usable either way.
fn store_artifact(component: &Component, path: &Path) {
    let result = component
        .serialize()
        .map_err(std::io::Error::other)
        .and_then(|bytes| {
            let temp = path.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&temp, bytes)?;
            std::fs::rename(&temp, path)
        });
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), %error, "cannot write precompiled artifact; the next start will compile again");
    }
}
