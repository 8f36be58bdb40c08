//! The engine: every part wired together over one database file.
//!
//! [`Engine`] is what the `refold` command line and HTTP API run: one
//! [`SqliteStore`], one [`Runtime`] whose compiled components are cached beside the
//! database, the [`CommandHandler`], the [`ProjectionEngine`], and the record of
//! deployed modules. Deploying through the engine records the module in the database
//! before it goes live, so a restart comes back with the same modules at the same
//! versions, and every projection resumes from its checkpoint. Deploying a projection
//! module starts (or blue/green rebuilds) its projection; deploying a decider swaps it
//! in for the next command and rebuilds the snapshot projections that use it.

mod deployments;

pub use deployments::Deployment;

use crate::commands::{CommandConfig, CommandHandler};
use crate::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine};
use crate::runtime::{Module, ModuleInfo, Runtime, RuntimeConfig, World};
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
    /// Batching and retries of projections.
    pub projections: ProjectionConfig,
    /// Whether deployed projections run in this process. A short-lived command that
    /// only reads or appends turns this off, so it never competes with a server's
    /// projections over the same file.
    pub run_projections: bool,
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
            projections: ProjectionConfig::default(),
            run_projections: true,
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
    projections: ProjectionEngine,
    deployments: Deployments,
    deploying: Mutex<()>,
    run_projections: bool,
}

impl Engine {
    /// Open the database (creating it if needed), bring back every deployed module at
    /// the version it had, and resume every projection from its checkpoint.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let store = Arc::new(SqliteStore::open(
            StoreConfig::new(&config.db).with_synchronous(config.synchronous),
        )?);
        let runtime = Arc::new(Runtime::new(config.runtime)?);
        let deployments = Deployments::open(&store)?;
        let commands = CommandHandler::new(store.clone(), runtime.clone(), config.commands);
        let projections =
            ProjectionEngine::new(store.clone(), runtime.clone(), config.projections)?;
        let engine = Engine {
            store,
            runtime,
            commands,
            projections,
            deployments,
            deploying: Mutex::new(()),
            run_projections: config.run_projections,
        };
        for (deployment, bytes) in engine.deployments.current()? {
            let module = engine.runtime.load(&deployment.name, &bytes)?;
            let module = engine.runtime.deploy_version(module, deployment.version);
            engine.start(module, deployment.policy.unwrap_or_default(), false)?;
        }
        for (decider, category, policy) in engine.deployments.snapshots()? {
            if engine.run_projections {
                engine
                    .projections
                    .deploy_snapshot(&decider, &category, policy)?;
            } else {
                let name = crate::projections::StreamSnapshots::name_for(&decider, &category);
                engine.projections.park(&name, policy)?;
            }
        }
        Ok(engine)
    }

    /// Load the component in `bytes`, record it in the database as the next version
    /// of `name`, and make it live. Calls in flight finish on the version they started
    /// on. `policy` is what a projection module does with an event it cannot apply
    /// (deciders ignore it).
    pub fn deploy(&self, name: &str, bytes: &[u8], policy: FailurePolicy) -> Result<ModuleInfo> {
        check_module_name(name)?;
        let _one_deploy_at_a_time = self.deploying.lock().expect("deploy lock poisoned");
        let module = self.runtime.load(name, bytes)?;
        let version = self.deployments.next_version(name)?;
        let mut info = module.info().clone();
        info.version = version;
        let policy = (info.world == World::Projection).then_some(policy);
        self.deployments.record(&info, policy, bytes)?;
        let module = self.runtime.deploy_version(module, version);
        self.start(module.clone(), policy.unwrap_or_default(), true)?;
        if module.info().world == World::Decider && self.run_projections {
            for (decider, category, policy) in self.deployments.snapshots()? {
                if decider == name {
                    self.projections
                        .deploy_snapshot(&decider, &category, policy)?;
                }
            }
        }
        Ok(module.info().clone())
    }

    /// Keep each stream of `category` folded by the decider deployed as `decider` as
    /// a read-model document (a snapshot projection); recorded, so it runs again after
    /// a restart. Returns the projection's name.
    pub fn deploy_snapshot(
        &self,
        decider: &str,
        category: &str,
        policy: FailurePolicy,
    ) -> Result<String> {
        let _one_deploy_at_a_time = self.deploying.lock().expect("deploy lock poisoned");
        self.runtime.module(decider)?;
        self.deployments
            .record_snapshot(decider, category, policy)?;
        if self.run_projections {
            self.projections.deploy_snapshot(decider, category, policy)
        } else {
            Ok(crate::projections::StreamSnapshots::name_for(
                decider, category,
            ))
        }
    }

    /// Run a projection module's projection (deciders need nothing started). When
    /// this engine runs no projections, the projection is only known here (its status
    /// and read model answer), and recorded when `deployed_now`, so that it shows
    /// before any server has run it.
    fn start(&self, module: Arc<Module>, policy: FailurePolicy, deployed_now: bool) -> Result<()> {
        match module.info().world {
            World::Projection if self.run_projections => self.projections.deploy(module, policy),
            World::Projection if deployed_now => self.projections.record(module.as_ref(), policy),
            World::Projection => self.projections.park(&module.info().name, policy),
            World::Decider => Ok(()),
        }
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

    /// The projections and their read models.
    pub fn projections(&self) -> &ProjectionEngine {
        &self.projections
    }

    /// Stop every projection after its current batch. Acknowledged appends are
    /// already durable; the store finishes accepted appends when dropped.
    pub fn shutdown(&self) {
        self.projections.shutdown();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.projections.shutdown();
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
