//! The engine: every part wired together over one database file.
//!
//! [`Engine`] is what the `refold` command line and HTTP API run: one
//! [`SqliteStore`], one [`Runtime`] whose compiled components are cached beside the
//! database, the [`CommandHandler`], and the record of deployed modules. Deploying
//! through the engine records the module in the database before it goes live, so a
//! restart comes back with the same modules at the same versions.

mod deployments;

pub use deployments::Deployment;

use crate::commands::{CommandConfig, CommandHandler};
use crate::runtime::{ModuleInfo, Runtime, RuntimeConfig};
use crate::store::{SqliteStore, StoreConfig, Synchronous};
use crate::{Error, Result};
use deployments::Deployments;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The database file.
    pub db: PathBuf,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Limits of guest calls and where compiled components are cached (by default a
    /// folder beside the database: `<db>.compiled`).
    pub runtime: RuntimeConfig,
    /// Retries, state cache and snapshots of command handling.
    pub commands: CommandConfig,
}

impl EngineConfig {
    /// Default settings for the database at `db`.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        let db = db.into();
        let cache_dir = compiled_cache_dir(&db);
        EngineConfig {
            db,
            synchronous: Synchronous::Full,
            runtime: RuntimeConfig {
                cache_dir: Some(cache_dir),
                ..RuntimeConfig::default()
            },
            commands: CommandConfig::default(),
        }
    }
}

/// Where the compiled components of the database at `db` are cached.
fn compiled_cache_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push(".compiled");
    db.with_file_name(name)
}

/// Store, runtime, command handling and deployed modules over one database file.
pub struct Engine {
    store: Arc<SqliteStore>,
    runtime: Arc<Runtime>,
    commands: CommandHandler,
    deployments: Deployments,
    deploying: Mutex<()>,
}

impl Engine {
    /// Open the database (creating it if needed) and bring back every deployed module
    /// at the version it had.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let store = Arc::new(SqliteStore::open(
            StoreConfig::new(&config.db).with_synchronous(config.synchronous),
        )?);
        let runtime = Arc::new(Runtime::new(config.runtime)?);
        let deployments = Deployments::open(&store)?;
        for (deployment, bytes) in deployments.current()? {
            let module = runtime.load(&deployment.name, &bytes)?;
            runtime.deploy_version(module, deployment.version);
        }
        let commands = CommandHandler::new(store.clone(), runtime.clone(), config.commands);
        Ok(Engine {
            store,
            runtime,
            commands,
            deployments,
            deploying: Mutex::new(()),
        })
    }

    /// Load the component in `bytes`, record it in the database as the next version
    /// of `name`, and make it live. Calls in flight finish on the version they started on.
    pub fn deploy(&self, name: &str, bytes: &[u8]) -> Result<ModuleInfo> {
        check_module_name(name)?;
        let _one_deploy_at_a_time = self.deploying.lock().expect("deploy lock poisoned");
        let module = self.runtime.load(name, bytes)?;
        let version = self.deployments.next_version(name)?;
        let mut info = module.info().clone();
        info.version = version;
        self.deployments.record(&info, bytes)?;
        let module = self.runtime.deploy_version(module, version);
        Ok(module.info().clone())
    }

    /// The current version of every deployed module.
    pub fn modules(&self) -> Vec<ModuleInfo> {
        self.runtime.modules()
    }

    /// Every deploy of `name`, oldest first.
    pub fn history(&self, name: &str) -> Result<Vec<Deployment>> {
        self.deployments.history(name)
    }

    /// The event store.
    pub fn store(&self) -> &Arc<SqliteStore> {
        &self.store
    }

    /// The wasm runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The command handler.
    pub fn commands(&self) -> &CommandHandler {
        &self.commands
    }
}

/// Module names appear in URLs, file names and logs: keep them plain.
fn check_module_name(name: &str) -> Result<()> {
    let plain =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(plain) || name.starts_with('.') {
        return Err(Error::InvalidModuleName(name.to_owned()));
    }
    Ok(())
}
