//! The engine: every part wired together over one database.
//!
//! [`Engine`] is what the `refold` command line and HTTP API run: one [`Storage`],
//! one [`Runtime`] whose compiled components are cached beside the database, the
//! [`CommandHandler`], the [`ProjectionEngine`], and the record of deployed modules.
//! [`Engine::open`] is the one place that picks the storage backend, from
//! [`EngineConfig::store`] (a SQLite file or a PostgreSQL schema); [`Engine::with_storage`]
//! takes any other. Deploying
//! through the engine records the module in the store before it goes live, so a restart comes back with the same modules at the same
//! versions, and every projection resumes from its checkpoint. Deploying a projection
//! module starts (or blue/green rebuilds) its projection; deploying a decider swaps it
//! in for the next command and rebuilds the snapshot projections that use it. What a
//! deploy may do to a name's history (its world, older bytes, rollbacks) is decided in
//! `engine/deploys.rs`.

mod deploys;

pub use deploys::{DeployOptions, Deployment, Rollback, StartDeploy};

use crate::commands::{CommandConfig, CommandHandler};
use crate::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine, StreamSnapshots};
use crate::runtime::{Module, ModuleInfo, Runtime, RuntimeConfig, World};
use crate::store::postgres::PgStore;
use crate::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use crate::store::{
    AppendLimits, Direction, LogFilter, NewModule, RecordedEvent, SnapshotProjection, Storage,
    StoreUrl,
};
use crate::sync::blocking;
use crate::workflows::{WorkflowConfig, WorkflowEngine, WorkflowStatus, projection_of};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The store: a SQLite file or a PostgreSQL schema.
    pub store: StoreUrl,
    /// Durability of commits (on PostgreSQL, `synchronous_commit` on or off).
    pub synchronous: Synchronous,
    /// How much one append may carry (what a `decide` may return is
    /// `runtime.decide_limits`; see [`with_append_limits`](Self::with_append_limits)).
    pub append_limits: AppendLimits,
    /// Limits of guest calls and where compiled components are cached (by default, for
    /// a SQLite file, a folder beside it: `<db>.compiled`; for PostgreSQL, in memory
    /// only).
    pub runtime: RuntimeConfig,
    /// Retries, state cache and snapshots of command handling.
    pub commands: CommandConfig,
    /// Batching and retries of projections.
    pub projections: ProjectionConfig,
    /// How workflows run.
    pub workflows: WorkflowConfig,
    /// Whether deployed projections run in this process. A short-lived command that
    /// only reads or appends turns this off, so it never competes with a server's
    /// projections over the same file.
    pub run_projections: bool,
}

impl EngineConfig {
    /// Default settings for the SQLite database at `db`.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        EngineConfig::for_store(StoreUrl::Sqlite(db.into()))
    }

    /// Default settings for `store`.
    pub fn for_store(store: StoreUrl) -> Self {
        let cache_dir = match &store {
            StoreUrl::Sqlite(db) => Some(compiled_cache_dir(db)),
            StoreUrl::Postgres(_) => None,
        };
        EngineConfig {
            store,
            synchronous: Synchronous::Full,
            append_limits: AppendLimits::default(),
            runtime: RuntimeConfig {
                cache_dir,
                ..RuntimeConfig::default()
            },
            commands: CommandConfig::default(),
            projections: ProjectionConfig::default(),
            workflows: WorkflowConfig::default(),
            run_projections: true,
        }
    }
}

impl EngineConfig {
    /// The same settings with `limits` for every append: those clients make (refused
    /// as [`Error::AppendTooLarge`]) and what one `decide` may return (a guest fault).
    pub fn with_append_limits(mut self, limits: AppendLimits) -> Self {
        self.append_limits = limits;
        self.runtime.decide_limits = limits;
        self
    }
}

/// Where the compiled components of the database at `db` are cached.
fn compiled_cache_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push(".compiled");
    db.with_file_name(name)
}

/// Store, runtime, command handling and deployed modules over one database.
pub struct Engine {
    storage: Storage,
    runtime: Arc<Runtime>,
    commands: Arc<CommandHandler>,
    projections: ProjectionEngine,
    workflows: WorkflowEngine,
    deploying: tokio::sync::Mutex<()>,
    run_projections: bool,
    /// How many deploys the store held when this engine last brought its modules up
    /// to date ([`ModuleStore::deploys`](crate::store::ModuleStore::deploys)).
    deploys_seen: AtomicU64,
}

impl Engine {
    /// Open the store `config.store` (creating its file or schema if needed), bring back
    /// every deployed module at the version it had, and resume every projection from
    /// its checkpoint.
    pub async fn open(config: EngineConfig) -> Result<Engine> {
        let storage = match &config.store {
            StoreUrl::Sqlite(db) => SqliteStore::open_storage(
                StoreConfig::new(db)
                    .with_synchronous(config.synchronous)
                    .with_append_limits(config.append_limits),
            )?,
            StoreUrl::Postgres(pg) => {
                PgStore::open_storage(
                    (**pg)
                        .clone()
                        .with_synchronous(config.synchronous)
                        .with_append_limits(config.append_limits),
                )
                .await?
            }
        };
        Engine::with_storage(storage, config).await
    }

    /// [`open`](Self::open) over `storage` instead of the store `config.store` (which
    /// is then not opened).
    pub async fn with_storage(storage: Storage, config: EngineConfig) -> Result<Engine> {
        let runtime = Arc::new(Runtime::new(config.runtime)?);
        let commands = Arc::new(CommandHandler::new(
            storage.events.clone(),
            runtime.clone(),
            config.commands,
        ));
        let projections = ProjectionEngine::new(&storage, runtime.clone(), config.projections);
        let workflows = WorkflowEngine::new(
            storage.events.clone(),
            commands.clone(),
            runtime.clone(),
            config.workflows,
        );
        let engine = Engine {
            storage,
            runtime,
            commands,
            projections,
            workflows,
            deploying: tokio::sync::Mutex::new(()),
            run_projections: config.run_projections,
            deploys_seen: AtomicU64::new(0),
        };
        engine.catch_up_deploys().await?;
        for snapshot in engine.storage.modules.snapshots().await? {
            if engine.run_projections {
                engine
                    .projections
                    .deploy_snapshot(&snapshot.decider, &snapshot.category, snapshot.policy)
                    .await?;
            } else {
                let name = StreamSnapshots::name_for(&snapshot.decider, &snapshot.category);
                engine.projections.park(&name, snapshot.policy).await?;
            }
        }
        Ok(engine)
    }

    /// Load the component in `bytes`, record it in the store as the next version of
    /// `name`, and make it live. Calls in flight finish on the version they started
    /// on. `policy` is what a projection module does with an event it cannot apply
    /// (deciders ignore it). A module of another world than the name's current version
    /// is refused ([`Error::WorldChange`]; see [`deploy_with`](Self::deploy_with)).
    pub async fn deploy(
        &self,
        name: &str,
        bytes: &[u8],
        policy: FailurePolicy,
    ) -> Result<ModuleInfo> {
        let options = DeployOptions {
            policy,
            ..DeployOptions::default()
        };
        self.deploy_with(name, bytes, options).await
    }

    /// [`deploy`](Self::deploy) with all its options.
    pub async fn deploy_with(
        &self,
        name: &str,
        bytes: &[u8],
        options: DeployOptions,
    ) -> Result<ModuleInfo> {
        check_module_name(name)?;
        let _one_deploy_at_a_time = self.deploying.lock().await;
        self.deploy_locked(name, bytes, options).await
    }

    /// Deploy `bytes` as `name` the way a server does at start (`refold serve
    /// --deploy`): not when they are the current version's bytes, and not when they
    /// are an older version's while a newer one is current (a hot swap made since the
    /// server was first started with the file), unless `force`.
    pub async fn deploy_at_start(
        &self,
        name: &str,
        bytes: &[u8],
        options: DeployOptions,
        force: bool,
    ) -> Result<StartDeploy> {
        check_module_name(name)?;
        let _one_deploy_at_a_time = self.deploying.lock().await;
        let history = self.storage.modules.history(name).await?;
        let hash = crate::runtime::content_hash(bytes);
        Ok(match deploys::start_plan(&history, &hash, force) {
            deploys::StartPlan::Deploy => {
                StartDeploy::Deployed(self.deploy_locked(name, bytes, options).await?)
            }
            deploys::StartPlan::Current(version) => StartDeploy::Current { version },
            deploys::StartPlan::KeepNewer {
                version,
                file_version,
            } => StartDeploy::KeptNewer {
                version,
                file_version,
            },
        })
    }

    /// Re-deploy the bytes of an earlier version of `name` as its next version, live
    /// at once like any deploy: version `to`, or by default the newest version before
    /// the current one with other bytes. A projection keeps the failure policy that
    /// version had. A version of another world is refused unless `replace_world`.
    pub async fn rollback(
        &self,
        name: &str,
        to: Option<u64>,
        replace_world: bool,
    ) -> Result<Rollback> {
        check_module_name(name)?;
        let _one_deploy_at_a_time = self.deploying.lock().await;
        let history = self.storage.modules.history(name).await?;
        let target = deploys::rollback_target(name, &history, to)?;
        let newest = history.last().map_or(0, |record| record.version);
        let (record, bytes) = self
            .storage
            .modules
            .version(name, target.version)
            .await?
            .ok_or_else(|| Error::UnknownVersion {
                module: name.to_owned(),
                version: target.version,
                newest,
            })?;
        let options = DeployOptions {
            policy: record.policy.unwrap_or_default(),
            replace_world,
        };
        let module = self.deploy_locked(name, &bytes, options).await?;
        Ok(Rollback {
            module,
            rolled_back_to: record.version,
        })
    }

    /// Load, record and make live; the caller holds `deploying`.
    async fn deploy_locked(
        &self,
        name: &str,
        bytes: &[u8],
        options: DeployOptions,
    ) -> Result<ModuleInfo> {
        let module = self.load(name, bytes.to_vec()).await?;
        self.runtime.upcasters().check(&module)?;
        let info = module.info().clone();
        let policy =
            matches!(info.world, World::Projection | World::Workflow).then_some(options.policy);
        let record = self
            .storage
            .modules
            .record(NewModule {
                name,
                hash: &info.hash,
                world: info.world.name(),
                policy,
                bytes,
                replace_world: options.replace_world,
            })
            .await?;
        let module = self.runtime.deploy_version(module, record.version);
        self.start(module.clone(), policy.unwrap_or_default(), true)
            .await?;
        self.restart_snapshots_of(module.info()).await?;
        Ok(module.info().clone())
    }

    /// Make live every deploy recorded in the store since this engine last looked:
    /// those of another process on the same database (a `refold deploy` beside a
    /// running server) or of another node. Returns the modules that went live, none
    /// when nothing changed; one cheap read when nothing did.
    pub async fn sync_deploys(&self) -> Result<Vec<ModuleInfo>> {
        if self.storage.modules.deploys().await? == self.deploys_seen.load(Ordering::Acquire) {
            return Ok(Vec::new());
        }
        let _one_deploy_at_a_time = self.deploying.lock().await;
        self.catch_up_deploys().await
    }

    /// Check for deploys made elsewhere every `every` (see
    /// [`sync_deploys`](Self::sync_deploys)) until the engine is dropped. Needs a
    /// tokio runtime; a failed check is logged and tried again at the next tick.
    pub fn follow_deploys(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                match engine.sync_deploys().await {
                    Ok(live) => {
                        for module in live {
                            tracing::info!(
                                module = %module.name,
                                version = module.version,
                                "a deploy made elsewhere is live"
                            );
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %crate::chain(&error), "checking for new deploys failed");
                    }
                }
            }
        })
    }

    /// Bring every module up to its newest recorded version (loading those this engine
    /// does not run at that version) and start what they run. Callers hold
    /// `deploying`, or are the engine being opened.
    async fn catch_up_deploys(&self) -> Result<Vec<ModuleInfo>> {
        let seen = self.storage.modules.deploys().await?;
        let mut live = Vec::new();
        let mut current = self.storage.modules.current().await?;
        // Upcasters first: the projections started below read through them.
        current.sort_by_key(|(record, _)| record.world != World::Upcaster.name());
        for (record, bytes) in current {
            let running = self.runtime.module(&record.name).ok();
            if running
                .as_ref()
                .is_some_and(|module| module.info().version == record.version)
            {
                continue;
            }
            let module = match self.load(&record.name, bytes).await {
                Ok(module) => module,
                // Stored by a build that did not try modules first: serve the others.
                Err(refused @ Error::ModuleRefused { .. }) => {
                    tracing::error!(module = %record.name, version = record.version, error = %crate::chain(&refused), "a stored module fails its trial call; it is not deployed");
                    continue;
                }
                Err(other) => return Err(other),
            };
            let module = self.runtime.deploy_version(module, record.version);
            self.start(module.clone(), record.policy.unwrap_or_default(), false)
                .await?;
            if running.is_some() {
                self.restart_snapshots_of(module.info()).await?;
            }
            live.push(module.info().clone());
        }
        self.deploys_seen.store(seen, Ordering::Release);
        Ok(live)
    }

    /// Rebuild the snapshot projections folded by `decider` after a new version of it
    /// went live.
    async fn restart_snapshots_of(&self, decider: &ModuleInfo) -> Result<()> {
        if decider.world != World::Decider || !self.run_projections {
            return Ok(());
        }
        for snapshot in self.storage.modules.snapshots().await? {
            if snapshot.decider == decider.name {
                self.projections
                    .deploy_snapshot(&snapshot.decider, &snapshot.category, snapshot.policy)
                    .await?;
            }
        }
        Ok(())
    }

    /// Compile and try the component in `bytes` (guest code: on the blocking pool).
    async fn load(&self, name: &str, bytes: Vec<u8>) -> Result<Module> {
        let (runtime, name) = (self.runtime.clone(), name.to_owned());
        blocking(move || runtime.load(&name, &bytes)).await?
    }

    /// Keep each stream of `category` folded by the decider deployed as `decider` as
    /// a read-model document (a snapshot projection); recorded, so it runs again after
    /// a restart. Returns the projection's name.
    pub async fn deploy_snapshot(
        &self,
        decider: &str,
        category: &str,
        policy: FailurePolicy,
    ) -> Result<String> {
        let _one_deploy_at_a_time = self.deploying.lock().await;
        self.runtime.module(decider)?;
        self.storage
            .modules
            .record_snapshot(&SnapshotProjection {
                decider: decider.to_owned(),
                category: category.to_owned(),
                policy,
            })
            .await?;
        if self.run_projections {
            self.projections
                .deploy_snapshot(decider, category, policy)
                .await
        } else {
            Ok(StreamSnapshots::name_for(decider, category))
        }
    }

    /// Run a projection module's projection (deciders need nothing started). When
    /// this engine runs no projections, the projection is only known here (its status
    /// and read model answer), and recorded when `deployed_now`, so that it shows
    /// before any server has run it.
    async fn start(
        &self,
        module: Arc<Module>,
        policy: FailurePolicy,
        deployed_now: bool,
    ) -> Result<()> {
        match module.info().world {
            World::Projection if self.run_projections => {
                self.projections.deploy(module, policy).await
            }
            World::Projection if deployed_now => {
                self.projections.record(module.as_ref(), policy).await
            }
            World::Projection => self.projections.park(&module.info().name, policy).await,
            World::Workflow if self.run_projections => {
                let name = &module.info().name;
                self.workflows.deploy(&self.projections, name, policy).await
            }
            World::Workflow if deployed_now => {
                let name = &module.info().name;
                self.workflows.record(&self.projections, name, policy).await
            }
            World::Workflow => {
                let name = projection_of(&module.info().name);
                self.projections.park(&name, policy).await
            }
            World::Decider | World::Upcaster => Ok(()),
        }
    }

    /// The current version of every deployed module.
    pub fn modules(&self) -> Vec<ModuleInfo> {
        self.runtime.modules()
    }

    /// Every deploy of `name`, oldest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Deployment>> {
        Ok(self
            .storage
            .modules
            .history(name)
            .await?
            .into_iter()
            .map(Deployment::of)
            .collect())
    }

    /// Events of `stream` from stream position `from`, at most `limit`, in their
    /// current shape (as stored when `raw`; see [`crate::upcasting`]).
    pub async fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
        raw: bool,
    ) -> Result<Vec<RecordedEvent>> {
        let upcasters = self.runtime.upcasters().current();
        let events = self
            .storage
            .events
            .read_stream(partition, stream, from, direction, limit)
            .await?;
        if raw {
            return Ok(events);
        }
        upcasters.upcast_async(events).await
    }

    /// Events of the global log after `after` that pass `filter`, in their current
    /// shape (as stored when `raw`), about `limit` of them (see
    /// [`UpcasterSet::read_log`](crate::upcasting::UpcasterSet::read_log)).
    pub async fn read_log(
        &self,
        after: u64,
        filter: &LogFilter,
        limit: usize,
        raw: bool,
    ) -> Result<Vec<RecordedEvent>> {
        let upcasters = self.runtime.upcasters().current();
        upcasters
            .read_log(self.storage.events.as_ref(), after, filter, limit, raw)
            .await
    }

    /// The storage the engine runs on.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn crate::store::EventStore> {
        &self.storage.events
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

    /// The workflows.
    pub fn workflows(&self) -> &WorkflowEngine {
        &self.workflows
    }

    /// The state of every workflow deployed here, by name.
    pub async fn workflow_status(&self) -> Result<Vec<WorkflowStatus>> {
        self.workflows.status(&self.projections).await
    }

    /// Stop every projection after its current batch. Acknowledged appends are
    /// already durable; the store finishes accepted writes when dropped.
    pub fn shutdown(&self) {
        self.workflows.shutdown();
        self.projections.shutdown();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
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
