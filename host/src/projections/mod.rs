//! Projections: the read side, from the global log to queryable documents.
//!
//! [`ProjectionEngine`] runs every deployed projection on its own thread (see
//! `runner`): it reads the log after the projection's checkpoint in batches, only the
//! event types the projection declares, applies them through the projection's logic,
//! and commits the documents it wrote together with the new checkpoint in one SQLite
//! transaction in the event store's file, so an event is applied exactly once however
//! the process stops. Caught up, it tails the log live. One slow or failing projection
//! holds up neither the others nor the write side.
//!
//! The logic is anything implementing [`ProjectionLogic`]: a projection [`Module`]
//! (wasm), a [`NativeProjection`] (the same Rust compiled into the host, for
//! benchmarks), or [`StreamSnapshots`], which keeps each stream's state as a decider's
//! own `evolve` folds it.
//!
//! Deploying another version of a projection rebuilds its read model from position 0
//! beside the old one (blue/green): queries keep reading the old documents until the
//! new ones have caught up, then one transaction switches them over and the old ones
//! are dropped. A projection that stopped at an event it could not apply (policy
//! [`FailurePolicy::Stop`]) resumes at that event when the process restarts or a fixed
//! version is deployed. [`ProjectionEngine::wait_for`] lets a writer read its own
//! writes: it returns once the projection has passed a global position.

mod catalog;
mod logic;
mod overlay;
mod queries;
mod runner;
mod schema;
mod snapshot;
mod wake;

pub use logic::{NativeProjection, ProjectionLogic};
pub use queries::{Document, FieldFilter, ListQuery, Page};
pub use snapshot::StreamSnapshots;

use crate::runtime::{Module, Runtime};
use crate::store::{EventStore, SqliteStore};
use crate::{Error, Result};
use catalog::{Definition, Generation};
use runner::{Progress, RunnerContext, RunnerShared};
use rusqlite::Connection;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Idle read connections kept for queries.
const IDLE_READERS: usize = 8;

/// What a projection does with an event its logic cannot apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Stop the projection with the event's position and the error recorded; its
    /// checkpoint stays just before the event, and a restart or a redeploy retries it.
    #[default]
    Stop,
    /// Record the event as skipped, with the error, and go on.
    Skip,
}

impl FailurePolicy {
    /// The policy's name: `stop` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Stop => "stop",
            FailurePolicy::Skip => "skip",
        }
    }
}

/// What a projection generation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectionState {
    /// Applying the log, behind its head.
    CatchingUp,
    /// At the head, applying new events as they are appended.
    Live,
    /// A new generation being built beside the one queries read.
    Rebuilding,
    /// Stopped at an event it could not apply.
    Faulted,
    /// Not running in this process (shut down, replaced, or its logic not deployed).
    Stopped,
}

impl fmt::Display for ProjectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProjectionState::CatchingUp => "catching-up",
            ProjectionState::Live => "live",
            ProjectionState::Rebuilding => "rebuilding",
            ProjectionState::Faulted => "faulted",
            ProjectionState::Stopped => "stopped",
        })
    }
}

/// Settings of a [`ProjectionEngine`].
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Events read and applied per transaction.
    pub batch_size: usize,
    /// How long a runner waits before retrying after a database error.
    pub retry_delay: Duration,
}

impl Default for ProjectionConfig {
    /// Batches of 500 events, retries after one second.
    fn default() -> Self {
        ProjectionConfig {
            batch_size: 500,
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// The state of one projection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: String,
    /// What it does with an event it cannot apply.
    pub policy: FailurePolicy,
    /// The generation queries read.
    pub active: GenerationStatus,
    /// A new generation being built beside it, if any.
    pub rebuild: Option<GenerationStatus>,
}

/// The state of one generation of a projection's read model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationStatus {
    /// The generation's number (each rebuild makes a new one).
    pub generation: u64,
    /// The module whose logic builds it.
    pub module: String,
    /// That module's version.
    pub version: u64,
    /// Every event up to this global position is applied.
    pub checkpoint: u64,
    /// The log's head.
    pub head: u64,
    /// Events of the log not yet passed: `head - checkpoint`.
    pub lag: u64,
    /// What it is doing.
    pub state: ProjectionState,
    /// Events applied per second, over the last few seconds.
    pub events_per_second: f64,
    /// Events applied by this process.
    pub events_applied: u64,
    /// The last error met, if the work has not succeeded since.
    pub last_error: Option<String>,
    /// The global position of the event it stopped at, when faulted.
    pub faulted_at: Option<u64>,
    /// Events skipped under the `skip` policy.
    pub skipped: u64,
}

/// Runs projections and answers read-model queries.
pub struct ProjectionEngine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<SqliteStore>,
    runtime: Arc<Runtime>,
    config: ProjectionConfig,
    /// The connection deploys change definitions with.
    catalog: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    slots: Mutex<HashMap<String, Slot>>,
    /// Threads of generations that were replaced, joined at shutdown.
    retired: Mutex<Vec<JoinHandle<()>>>,
}

/// One projection in this process: its runners and what it publishes.
struct Slot {
    policy: FailurePolicy,
    published: Arc<watch::Sender<Progress>>,
    active: Runner,
    building: Option<Runner>,
}

/// One generation's runner: its shared state, its logic and thread when running.
struct Runner {
    shared: Arc<RunnerShared>,
    logic: Option<Arc<dyn ProjectionLogic>>,
    thread: Option<JoinHandle<()>>,
}

impl Runner {
    /// A generation known from the database whose logic is not deployed here.
    fn parked(shared: Arc<RunnerShared>) -> Runner {
        shared.mark_stopped();
        Runner {
            shared,
            logic: None,
            thread: None,
        }
    }

    /// Whether its thread is still at work (a faulted runner's has ended).
    fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn running_identity(&self) -> Option<&str> {
        self.logic
            .as_ref()
            .filter(|_| self.running())
            .map(|l| l.identity())
    }

    /// Tell its thread to finish, handing the thread over to be joined.
    fn stop(self, finished: &mut Vec<JoinHandle<()>>) {
        self.shared.stop();
        finished.extend(self.thread);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ProjectionEngine {
    /// An engine keeping read models in `store`'s file (its tables are created or
    /// upgraded now), with decider modules for snapshot projections from `runtime`.
    /// No projection runs until it is deployed.
    pub fn new(
        store: Arc<SqliteStore>,
        runtime: Arc<Runtime>,
        config: ProjectionConfig,
    ) -> Result<ProjectionEngine> {
        let catalog = schema::connect(&store)?;
        Ok(ProjectionEngine {
            inner: Arc::new(Inner {
                store,
                runtime,
                config,
                catalog: Mutex::new(catalog),
                readers: Mutex::new(Vec::new()),
                slots: Mutex::new(HashMap::new()),
                retired: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Run the projection module `module` under its name with `policy`.
    ///
    /// The first deploy of a name builds its read model from position 0. Deploying the
    /// version already recorded (e.g. after a restart) resumes from its checkpoint.
    /// Another version is rebuilt beside the current read model and replaces it once
    /// caught up, unless the current one is faulted: then the new version resumes at
    /// the failing event (a fix is taken to agree with what was applied before; call
    /// [`rebuild`](Self::rebuild) to start over).
    pub fn deploy(&self, module: Arc<Module>, policy: FailurePolicy) -> Result<()> {
        self.deploy_logic(module, policy)
    }

    /// Keep the state of every stream of `category` as the decider deployed as
    /// `decider` folds it: the projection `<decider>:<category>` with one collection
    /// named `category`, a document per stream (id = stream id). Returns its name.
    pub fn deploy_snapshot(
        &self,
        decider: &str,
        category: &str,
        policy: FailurePolicy,
    ) -> Result<String> {
        let module = self.inner.runtime.module(decider)?;
        let snapshots = Arc::new(StreamSnapshots::new(module, category));
        let name = snapshots.name().to_owned();
        self.deploy_logic(snapshots, policy)?;
        Ok(name)
    }

    /// [`deploy`](Self::deploy) any projection logic under `logic.name()`.
    pub fn deploy_logic(
        &self,
        logic: Arc<dyn ProjectionLogic>,
        policy: FailurePolicy,
    ) -> Result<()> {
        let mut finished = Vec::new();
        let deployed = self.inner.deploy(logic, policy, &mut finished);
        join(finished);
        deployed
    }

    /// Know the projection `name` as the database records it, without running it: its
    /// status (stopped, at its recorded checkpoint) and its read model answer. Does
    /// nothing for a name the database does not record, or one already known here.
    pub fn park(&self, name: &str, policy: FailurePolicy) -> Result<()> {
        let catalog = lock(&self.inner.catalog);
        if let Some(definition) = catalog::load(&catalog, name)? {
            lock(&self.inner.slots)
                .entry(name.to_owned())
                .or_insert_with(|| Slot::parked(name, &definition, policy));
        }
        Ok(())
    }

    /// Record the projection `logic` builds, if the database does not yet, so that it
    /// builds from position 0 wherever it next runs, and [`park`](Self::park) it here.
    pub fn record(&self, logic: &dyn ProjectionLogic, policy: FailurePolicy) -> Result<()> {
        {
            let mut catalog = lock(&self.inner.catalog);
            if catalog::load(&catalog, logic.name())?.is_none() {
                catalog::create(&mut catalog, logic, policy)?;
            }
        }
        self.park(logic.name(), policy)
    }

    /// Build the read model of `name` again from position 0 with its current logic,
    /// beside the current one, and switch to it once caught up.
    pub fn rebuild(&self, name: &str) -> Result<()> {
        let mut finished = Vec::new();
        let rebuilt = self.inner.rebuild(name, &mut finished);
        join(finished);
        rebuilt
    }

    /// The state of every projection in this process, by name.
    pub fn status(&self) -> Vec<ProjectionStatus> {
        let head = self.inner.store.head();
        let slots = lock(&self.inner.slots);
        let mut statuses: Vec<ProjectionStatus> = slots
            .iter()
            .map(|(name, slot)| slot.status(name, head))
            .collect();
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        statuses
    }

    /// The state of the projection `name`.
    pub fn status_of(&self, name: &str) -> Result<ProjectionStatus> {
        let head = self.inner.store.head();
        lock(&self.inner.slots)
            .get(name)
            .map(|slot| slot.status(name, head))
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))
    }

    /// Wait until the projection `name` has passed global position `position` (its
    /// checkpoint is at least `position`), so a query sees the effect of every event
    /// up to it. Returns the checkpoint reached. Fails at once if the projection is
    /// stopped at an event at or before `position`, and after `timeout` otherwise.
    pub fn wait_for(&self, name: &str, position: u64, timeout: Duration) -> Result<u64> {
        let (mut progress, shared) = {
            let slots = lock(&self.inner.slots);
            let slot = slots
                .get(name)
                .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
            (slot.published.subscribe(), slot.active.shared.clone())
        };
        let deadline = Instant::now() + timeout;
        wake::block_on(
            async {
                progress
                    .wait_for(|p| {
                        p.checkpoint >= position
                            || p.fault.as_ref().is_some_and(|(at, _)| *at <= position)
                    })
                    .await
                    .is_ok()
            },
            Some(deadline),
        );
        let reached = progress.borrow().clone();
        if reached.checkpoint >= position {
            return Ok(reached.checkpoint);
        }
        if let Some((at, error)) = reached.fault.filter(|(at, _)| *at <= position) {
            return Err(Error::ProjectionFaulted {
                projection: name.to_owned(),
                position: at,
                error,
            });
        }
        Err(Error::ProjectionTimeout {
            projection: name.to_owned(),
            position,
            checkpoint: reached.checkpoint,
            state: shared.status(self.inner.store.head()).state.to_string(),
            timeout,
        })
    }

    /// The document `id` of `collection` in `partition`, as JSON text.
    pub fn get(
        &self,
        projection: &str,
        partition: &str,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>> {
        self.inner
            .read(|conn| queries::get(conn, projection, partition, collection, id))
    }

    /// A page of the documents of `collection` in `partition`, in id order.
    pub fn list(
        &self,
        projection: &str,
        partition: &str,
        collection: &str,
        query: &ListQuery,
    ) -> Result<Page> {
        self.inner
            .read(|conn| queries::list(conn, projection, partition, collection, query))
    }

    /// How many documents `collection` in `partition` holds.
    pub fn count(&self, projection: &str, partition: &str, collection: &str) -> Result<u64> {
        self.inner
            .read(|conn| queries::count(conn, projection, partition, collection))
    }

    /// Stop every projection and wait for their threads; checkpoints are committed
    /// with their documents, so nothing is lost. Calling it again does nothing.
    pub fn shutdown(&self) {
        let mut finished = std::mem::take(&mut *lock(&self.inner.retired));
        for slot in lock(&self.inner.slots).values_mut() {
            slot.active.shared.stop();
            finished.extend(slot.active.thread.take());
            if let Some(building) = &mut slot.building {
                building.shared.stop();
                finished.extend(building.thread.take());
            }
        }
        join(finished);
    }
}

impl Drop for ProjectionEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn join(threads: Vec<JoinHandle<()>>) {
    for thread in threads {
        if thread.join().is_err() {
            tracing::error!("a projection runner thread panicked");
        }
    }
}

impl Slot {
    fn status(&self, name: &str, head: u64) -> ProjectionStatus {
        ProjectionStatus {
            name: name.to_owned(),
            policy: self.policy,
            active: self.active.shared.status(head),
            rebuild: self.building.as_ref().map(|b| b.shared.status(head)),
        }
    }
}

impl Inner {
    fn deploy(
        self: &Arc<Self>,
        logic: Arc<dyn ProjectionLogic>,
        policy: FailurePolicy,
        finished: &mut Vec<JoinHandle<()>>,
    ) -> Result<()> {
        let name = logic.name().to_owned();
        let mut catalog = lock(&self.catalog);
        let mut slots = lock(&self.slots);
        let Some(definition) = catalog::load(&catalog, &name)? else {
            let generation = catalog::create(&mut catalog, logic.as_ref(), policy)?;
            let published = Arc::new(watch::channel(Progress::default()).0);
            let active = self.start(&name, &generation, logic, policy, true, &published)?;
            slots.insert(
                name,
                Slot {
                    policy,
                    published,
                    active,
                    building: None,
                },
            );
            return Ok(());
        };
        catalog::set_policy(&catalog, &name, policy)?;
        let slot = slots
            .entry(name.clone())
            .or_insert_with(|| Slot::parked(&name, &definition, policy));
        slot.policy = policy;
        slot.active.shared.set_policy(policy);
        if let Some(building) = &slot.building {
            building.shared.set_policy(policy);
        }
        let Definition { active, building } = definition;
        let identity = logic.identity();
        if active.identity == identity || active.fault.is_some() {
            // The recorded version (a restart), or a fix for a stopped one: go on from
            // the checkpoint.
            if slot.active.running_identity() != Some(identity) {
                catalog::resume(&catalog, logic.as_ref(), active.generation)?;
                let resumed = Generation {
                    module: logic.module().to_owned(),
                    version: logic.version(),
                    fault: None,
                    ..active.clone()
                };
                let runner = self.start(
                    &name,
                    &resumed,
                    logic.clone(),
                    policy,
                    true,
                    &slot.published,
                )?;
                slot.published.send_modify(|p| p.fault = None);
                std::mem::replace(&mut slot.active, runner).stop(finished);
            }
            match building {
                Some(rebuild) if active.identity == identity && rebuild.identity != identity => {
                    // A rebuild of another version was under way: this deploy overrides it.
                    catalog::drop_rebuild(&mut catalog, &name)?;
                    if let Some(runner) = slot.building.take() {
                        runner.stop(finished);
                    }
                }
                Some(rebuild)
                    if rebuild.identity == identity
                        && slot.building.as_ref().and_then(Runner::running_identity)
                            != Some(identity) =>
                {
                    // An explicit rebuild of this version, interrupted by a restart.
                    let runner =
                        self.start(&name, &rebuild, logic, policy, false, &slot.published)?;
                    if let Some(old) = slot.building.replace(runner) {
                        old.stop(finished);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        let generation = match building {
            Some(building) if building.identity == identity => {
                if slot.building.as_ref().and_then(Runner::running_identity) == Some(identity) {
                    return Ok(());
                }
                building
            }
            _ => catalog::add_generation(&mut catalog, logic.as_ref())?,
        };
        let runner = self.start(&name, &generation, logic, policy, false, &slot.published)?;
        if let Some(old) = slot.building.replace(runner) {
            old.stop(finished);
        }
        Ok(())
    }

    fn rebuild(self: &Arc<Self>, name: &str, finished: &mut Vec<JoinHandle<()>>) -> Result<()> {
        let mut catalog = lock(&self.catalog);
        let mut slots = lock(&self.slots);
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
        let logic = slot
            .active
            .logic
            .clone()
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
        let generation = catalog::add_generation(&mut catalog, logic.as_ref())?;
        let runner = self.start(
            name,
            &generation,
            logic,
            slot.policy,
            false,
            &slot.published,
        )?;
        if let Some(old) = slot.building.replace(runner) {
            old.stop(finished);
        }
        Ok(())
    }

    /// Start a runner for `generation` with `logic`.
    fn start(
        self: &Arc<Self>,
        name: &str,
        generation: &Generation,
        logic: Arc<dyn ProjectionLogic>,
        policy: FailurePolicy,
        active: bool,
        published: &Arc<watch::Sender<Progress>>,
    ) -> Result<Runner> {
        let shared = RunnerShared::new(name, generation, policy, active, published.clone());
        let engine = Arc::downgrade(self);
        let context = RunnerContext {
            store: self.store.clone(),
            filter: logic.filter()?,
            batch_size: self.config.batch_size,
            retry_delay: self.config.retry_delay,
            promoted: Box::new(move |shared| {
                if let Some(engine) = engine.upgrade() {
                    engine.promote(shared);
                }
            }),
        };
        let thread = runner::spawn(shared.clone(), logic.clone(), context)?;
        Ok(Runner {
            shared,
            logic: Some(logic),
            thread: Some(thread),
        })
    }

    /// Make the rebuilt generation of `shared` the active runner of its projection;
    /// the old one's documents are already gone, so its runner stops.
    fn promote(&self, shared: &Arc<RunnerShared>) {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&shared.projection) else {
            return;
        };
        if !slot
            .building
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(&b.shared, shared))
        {
            return;
        }
        let Some(building) = slot.building.take() else {
            return;
        };
        building.shared.activate();
        let old = std::mem::replace(&mut slot.active, building);
        old.shared.stop();
        lock(&self.retired).extend(old.thread);
        tracing::info!(projection = %shared.projection, generation = shared.generation, "rebuilt read model is now the one queries read");
    }

    /// Run `read` on an idle query connection, opening one if none is idle.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = schema::connect(&self.store)?;
                conn.pragma_update(None, "query_only", true)?;
                conn
            }
        };
        let result = read(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

impl Slot {
    /// A projection known from the database, not running in this process yet.
    fn parked(name: &str, definition: &Definition, policy: FailurePolicy) -> Slot {
        let published = Arc::new(
            watch::channel(Progress {
                checkpoint: definition.active.checkpoint,
                fault: definition.active.fault.clone(),
            })
            .0,
        );
        let active = Runner::parked(RunnerShared::new(
            name,
            &definition.active,
            policy,
            true,
            published.clone(),
        ));
        let building = definition.building.as_ref().map(|generation| {
            Runner::parked(RunnerShared::new(
                name,
                generation,
                policy,
                false,
                published.clone(),
            ))
        });
        Slot {
            policy,
            published,
            active,
            building,
        }
    }
}
