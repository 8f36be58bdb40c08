//! [`ProjectionEngine`]: the projections of one process, their runners and queries.
//!
//! Each projection has a slot here: the runner of the generation queries read, the
//! runner of a generation being built beside it, and the progress it publishes for
//! `wait_for`. Deploys are decided by [`plan`](super::plan) and carried out here, one
//! at a time; a rebuilt generation that catches up is promoted by its own runner.

use super::overlay::DocumentLimits;
use super::plan::{self, Build, Building, Plan, Running};
use super::runner::{self, Progress, RunnerContext, RunnerShared};
use super::{ProjectionConfig, ProjectionLogic, ProjectionStatus, Runner, StreamSnapshots};
use crate::metrics::Latencies;
use crate::runtime::{Module, Runtime};
use crate::store::{
    BuiltBy, Definition, EventStore, FailurePolicy, Generation, LeaseStore, ListQuery, Page,
    ProjectionStore, Storage,
};
use crate::sync::{blocking, lock};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::watch;

/// How often `wait_for` on a node whose runner stands by reads the checkpoint the node
/// running the projection committed.
const STANDBY_POLL: Duration = Duration::from_millis(100);

/// Runs projections and answers read-model queries.
pub struct ProjectionEngine {
    inner: Arc<Inner>,
}

struct Inner {
    events: Arc<dyn EventStore>,
    store: Arc<dyn ProjectionStore>,
    leases: Arc<dyn LeaseStore>,
    /// This engine as the owner of its runners' leases: unique per engine.
    owner: Arc<str>,
    runtime: Arc<Runtime>,
    config: ProjectionConfig,
    /// The async runtime runners use to reach the store from their threads.
    handle: Handle,
    /// Held by a deploy or rebuild from reading the catalog to starting its runners.
    deploying: tokio::sync::Mutex<()>,
    slots: Mutex<HashMap<String, Slot>>,
    /// Threads of generations that were replaced, joined at shutdown.
    retired: Mutex<Vec<JoinHandle<()>>>,
    /// Seconds of each batch (apply and commit), by projection.
    batch_seconds: Latencies,
}

/// One projection in this process: its runners and what it publishes.
struct Slot {
    policy: FailurePolicy,
    published: Arc<watch::Sender<Progress>>,
    active: RunnerHandle,
    building: Option<RunnerHandle>,
}

/// One generation's runner as the engine holds it: its shared state, and its logic and
/// thread when it runs here.
struct RunnerHandle {
    shared: Arc<RunnerShared>,
    /// The logic it runs, with its identity.
    logic: Option<(Arc<dyn ProjectionLogic>, String)>,
    thread: Option<JoinHandle<()>>,
}

impl RunnerHandle {
    /// A generation known from the store whose logic is not running here.
    fn parked(shared: Arc<RunnerShared>) -> RunnerHandle {
        shared.mark_stopped();
        RunnerHandle {
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
            .map(|(_, identity)| identity.as_str())
    }

    /// Tell its thread to finish, handing the thread over to be joined.
    fn stop(self, finished: &mut Vec<JoinHandle<()>>) {
        self.shared.stop();
        finished.extend(self.thread);
    }
}

impl ProjectionEngine {
    /// An engine keeping read models in `storage`, with decider modules for snapshot
    /// projections from `runtime`. No projection runs until it is deployed.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime: runners reach the store through it.
    pub fn new(storage: &Storage, runtime: Arc<Runtime>, config: ProjectionConfig) -> Self {
        ProjectionEngine {
            inner: Arc::new(Inner {
                events: storage.events.clone(),
                store: storage.projections.clone(),
                leases: storage.leases.clone(),
                owner: node_name().into(),
                runtime,
                config,
                handle: Handle::current(),
                deploying: tokio::sync::Mutex::new(()),
                slots: Mutex::new(HashMap::new()),
                retired: Mutex::new(Vec::new()),
                batch_seconds: crate::metrics::latencies(),
            }),
        }
    }

    /// The events the projection `name` skipped under the `skip` policy (in its
    /// active generation), in log order after the global position `after`, at most
    /// `limit`, with their errors.
    pub async fn skipped(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::store::SkippedEvent>> {
        self.inner.store.skipped(name, after, limit).await
    }

    /// Seconds of each batch a runner of this engine applied and committed, by
    /// projection.
    pub fn batch_latency(&self) -> &Latencies {
        &self.inner.batch_seconds
    }

    /// Run the projection module `module` under its name with `policy`.
    ///
    /// The first deploy of a name builds its read model from position 0. Deploying the
    /// version already recorded (e.g. after a restart) resumes from its checkpoint.
    /// Another version is rebuilt beside the current read model and replaces it once
    /// caught up, unless the current one is faulted: then the new version resumes at
    /// the failing event (a fix is taken to agree with what was applied before; call
    /// [`rebuild`](Self::rebuild) to start over).
    pub async fn deploy(&self, module: Arc<Module>, policy: FailurePolicy) -> Result<()> {
        self.deploy_logic(module, policy).await
    }

    /// Keep the state of every stream of `category` as the decider deployed as
    /// `decider` folds it: the projection `<decider>:<category>` with one collection
    /// named `category`, a document per stream (id = stream id). Returns its name.
    pub async fn deploy_snapshot(
        &self,
        decider: &str,
        category: &str,
        policy: FailurePolicy,
    ) -> Result<String> {
        let module = self.inner.runtime.module(decider)?;
        let snapshots = Arc::new(StreamSnapshots::new(module, category));
        let name = snapshots.name().to_owned();
        self.deploy_logic(snapshots, policy).await?;
        Ok(name)
    }

    /// [`deploy`](Self::deploy) any projection logic under `logic.name()`.
    pub async fn deploy_logic(
        &self,
        logic: Arc<dyn ProjectionLogic>,
        policy: FailurePolicy,
    ) -> Result<()> {
        let mut finished = Vec::new();
        let deployed = self.inner.deploy(logic, policy, &mut finished).await;
        join(finished).await;
        deployed
    }

    /// Know the projection `name` as the store records it, without running it: its
    /// status (stopped, at its recorded checkpoint) and its read model answer. Does
    /// nothing for a name the store does not record, or one already known here.
    pub async fn park(&self, name: &str, policy: FailurePolicy) -> Result<()> {
        if let Some(definition) = self.inner.store.definition(name).await? {
            lock(&self.inner.slots)
                .entry(name.to_owned())
                .or_insert_with(|| Slot::parked(name, &definition, policy));
        }
        Ok(())
    }

    /// Record the projection `logic` builds, if the store does not yet, so that it
    /// builds from position 0 wherever it next runs, and [`park`](Self::park) it here.
    pub async fn record(&self, logic: &dyn ProjectionLogic, policy: FailurePolicy) -> Result<()> {
        {
            let _one_deploy_at_a_time = self.inner.deploying.lock().await;
            if self.inner.store.definition(logic.name()).await?.is_none() {
                self.inner
                    .store
                    .create(logic.name(), &self.inner.built_by(logic), policy)
                    .await?;
            }
        }
        self.park(logic.name(), policy).await
    }

    /// Build the read model of `name` again from position 0 with its current logic,
    /// beside the current one, and switch to it once caught up.
    pub async fn rebuild(&self, name: &str) -> Result<()> {
        let mut finished = Vec::new();
        let rebuilt = self.inner.rebuild(name, &mut finished).await;
        join(finished).await;
        rebuilt
    }

    /// The state of every projection in this process, by name.
    pub fn status(&self) -> Vec<ProjectionStatus> {
        let head = self.inner.events.head();
        let slots = lock(&self.inner.slots);
        let mut statuses: Vec<ProjectionStatus> = slots
            .iter()
            .map(|(name, slot)| slot.status(name, head))
            .collect();
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        statuses
    }

    /// Who this engine is as the owner of its runners' leases: `hostname:pid:random`,
    /// unique per engine, what [`Runner::owner`] shows on every node.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Fill in the [`Runner`] of every generation in `statuses`: who holds its lease
    /// now, from one read of the lease store, so a node that stands by shows which
    /// node runs the projection. A lease counts as held while it is unexpired by this
    /// node's clock (the stores judge expiry by their own: on PostgreSQL the database
    /// server's, so a node whose clock is off shows a lease expiring early or late by
    /// as much, while the fencing itself is unaffected).
    pub async fn read_runners(&self, statuses: &mut [ProjectionStatus]) -> Result<()> {
        let leases = self.inner.leases.leases().await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        for status in statuses {
            let name = status.name.clone();
            for generation in std::iter::once(&mut status.active).chain(status.rebuild.as_mut()) {
                let lease_name = format!("projection:{name}:{}", generation.generation);
                generation.runner = leases
                    .iter()
                    .find(|lease| lease.name == lease_name && lease.expires_at_ms > now)
                    .map(|lease| Runner {
                        owner: lease.owner.clone(),
                        token: lease.token,
                        expires_at_ms: lease.expires_at_ms,
                        this_node: lease.owner == *self.inner.owner,
                    });
            }
        }
        Ok(())
    }

    /// The state of the projection `name`.
    pub fn status_of(&self, name: &str) -> Result<ProjectionStatus> {
        let head = self.inner.events.head();
        lock(&self.inner.slots)
            .get(name)
            .map(|slot| slot.status(name, head))
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))
    }

    /// Wait until the projection `name` has passed global position `position` (its
    /// checkpoint is at least `position`), so a query sees the effect of every event
    /// up to it. Returns the checkpoint reached. Fails at once if the projection is
    /// stopped at an event at or before `position`, or if `position` is beyond the
    /// log's head as the store has it now ([`Error::BeyondHead`]: it may never come),
    /// and after `timeout` otherwise. The wait is a watch awaited, never a blocked
    /// thread; while another process runs the projection (this one stands by), the
    /// checkpoint that process committed is read from the store every 100 ms too.
    pub async fn wait_for(&self, name: &str, position: u64, timeout: Duration) -> Result<u64> {
        let (mut progress, shared) = {
            let slots = lock(&self.inner.slots);
            let slot = slots
                .get(name)
                .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
            (slot.published.subscribe(), slot.active.shared.clone())
        };
        if position > self.inner.events.head() {
            let head = self.inner.events.read_head().await?;
            if position > head {
                return Err(Error::BeyondHead { position, head });
            }
        }
        // Timing out is one of the answers; what was reached is read below either way.
        // While another node runs the projection, this one's runner publishes nothing:
        // the checkpoint that node commits is read from the store every
        // `STANDBY_POLL` instead.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let standby = shared.standing_by();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let wait = if standby {
                left.min(STANDBY_POLL)
            } else {
                left
            };
            let _ = tokio::time::timeout(
                wait,
                progress.wait_for(|p| {
                    p.checkpoint >= position
                        || p.fault.as_ref().is_some_and(|(at, _)| *at <= position)
                }),
            )
            .await;
            let reached = progress.borrow().clone();
            if reached.checkpoint >= position
                || reached
                    .fault
                    .as_ref()
                    .is_some_and(|(at, _)| *at <= position)
            {
                break;
            }
            if standby
                && let Some(stored) = self.inner.store.definition(name).await?
                && stored.active.checkpoint >= position
            {
                return Ok(stored.active.checkpoint);
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
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
            state: shared.status(self.inner.events.head()).state.to_string(),
            timeout,
        })
    }

    /// The document `id` of `collection` in `partition`, as JSON text.
    pub async fn get(
        &self,
        projection: &str,
        partition: &str,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>> {
        self.inner
            .store
            .get(projection, partition, collection, id)
            .await
    }

    /// A page of the documents of `collection` in `partition`, in id order.
    pub async fn list(
        &self,
        projection: &str,
        partition: &str,
        collection: &str,
        query: &ListQuery,
    ) -> Result<Page> {
        self.inner
            .store
            .list(projection, partition, collection, query)
            .await
    }

    /// How many documents `collection` in `partition` holds.
    pub async fn count(&self, projection: &str, partition: &str, collection: &str) -> Result<u64> {
        self.inner
            .store
            .count(projection, partition, collection)
            .await
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
        join_now(finished);
    }
}

impl Drop for ProjectionEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Wait for stopped runner threads, off the async threads.
async fn join(threads: Vec<JoinHandle<()>>) {
    if threads.is_empty() {
        return;
    }
    if blocking(move || join_now(threads)).await.is_err() {
        tracing::warn!("shutting down before stopped projection runners were joined");
    }
}

fn join_now(threads: Vec<JoinHandle<()>>) {
    for thread in threads {
        if thread.join().is_err() {
            tracing::error!("a projection runner thread panicked");
        }
    }
}

impl Slot {
    /// A projection known from the store, not running in this process yet.
    fn parked(name: &str, definition: &Definition, policy: FailurePolicy) -> Slot {
        let published = Arc::new(
            watch::channel(Progress {
                checkpoint: definition.active.checkpoint,
                fault: definition.active.fault.clone(),
            })
            .0,
        );
        let runner = |generation, active| {
            RunnerHandle::parked(RunnerShared::new(
                name,
                generation,
                policy,
                active,
                published.clone(),
            ))
        };
        Slot {
            policy,
            active: runner(&definition.active, true),
            building: definition.building.as_ref().map(|g| runner(g, false)),
            published,
        }
    }

    fn status(&self, name: &str, head: u64) -> ProjectionStatus {
        ProjectionStatus {
            name: name.to_owned(),
            policy: self.policy,
            active: self.active.shared.status(head),
            rebuild: self.building.as_ref().map(|b| b.shared.status(head)),
        }
    }

    fn running(&self) -> Running<'_> {
        Running {
            active: self.active.running_identity(),
            building: self
                .building
                .as_ref()
                .and_then(RunnerHandle::running_identity),
        }
    }

    /// Run `runner` as the generation being built, stopping the one it replaces.
    fn build(&mut self, runner: RunnerHandle, finished: &mut Vec<JoinHandle<()>>) {
        if let Some(old) = self.building.replace(runner) {
            old.stop(finished);
        }
    }
}

impl Inner {
    /// What `logic` builds a generation with now: its own identity, and the upcaster
    /// set deployed now.
    fn built_by(&self, logic: &dyn ProjectionLogic) -> BuiltBy {
        BuiltBy {
            upcasters: self.runtime.upcasters().current().identity().to_owned(),
            ..logic.built_by()
        }
    }

    async fn deploy(
        self: &Arc<Self>,
        logic: Arc<dyn ProjectionLogic>,
        policy: FailurePolicy,
        finished: &mut Vec<JoinHandle<()>>,
    ) -> Result<()> {
        let name = logic.name().to_owned();
        let built_by = self.built_by(logic.as_ref());
        let _one_deploy_at_a_time = self.deploying.lock().await;
        let stored = self.store.definition(&name).await?;
        let decided = {
            let slots = lock(&self.slots);
            let running = slots.get(&name).map(Slot::running).unwrap_or_default();
            plan::deploy(stored.as_ref(), running, &built_by.identity)
        };
        let Some(definition) = stored else {
            let generation = self.store.create(&name, &built_by, policy).await?;
            let published = Arc::new(watch::channel(Progress::default()).0);
            let active = self.start(&name, &generation, logic, policy, true, &published)?;
            lock(&self.slots).insert(
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
        self.store.set_policy(&name, policy).await?;
        // What to start once the store agrees: the active generation resumed, and the
        // generation to build; and whether the build under way is dropped.
        let mut resumed = None;
        let mut build = None;
        let mut drop_building = false;
        match decided {
            Plan::Create | Plan::Build(Build::Running) => {}
            Plan::Resume {
                start_active,
                building,
            } => {
                if start_active {
                    self.store
                        .resume(&name, definition.active.generation, &built_by)
                        .await?;
                    resumed = Some(Generation {
                        built_by: built_by.clone(),
                        fault: None,
                        ..definition.active.clone()
                    });
                }
                match building {
                    Building::Keep => {}
                    Building::Drop => {
                        self.store.drop_rebuild(&name).await?;
                        drop_building = true;
                    }
                    Building::Start(generation) => build = Some(generation),
                }
            }
            Plan::Build(Build::Stored(generation)) => build = Some(generation),
            Plan::Build(Build::New) => {
                build = Some(self.store.add_generation(&name, &built_by).await?);
            }
        }
        let mut slots = lock(&self.slots);
        let slot = slots
            .entry(name.clone())
            .or_insert_with(|| Slot::parked(&name, &definition, policy));
        slot.policy = policy;
        slot.active.shared.set_policy(policy);
        if let Some(building) = &slot.building {
            building.shared.set_policy(policy);
        }
        if let Some(resumed) = resumed {
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
        if drop_building && let Some(runner) = slot.building.take() {
            runner.stop(finished);
        }
        if let Some(generation) = build {
            let runner = self.start(&name, &generation, logic, policy, false, &slot.published)?;
            slot.build(runner, finished);
        }
        Ok(())
    }

    async fn rebuild(
        self: &Arc<Self>,
        name: &str,
        finished: &mut Vec<JoinHandle<()>>,
    ) -> Result<()> {
        let _one_deploy_at_a_time = self.deploying.lock().await;
        let logic = lock(&self.slots)
            .get(name)
            .and_then(|slot| slot.active.logic.as_ref().map(|(logic, _)| logic.clone()))
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
        let generation = self
            .store
            .add_generation(name, &self.built_by(logic.as_ref()))
            .await?;
        let mut slots = lock(&self.slots);
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))?;
        let runner = self.start(
            name,
            &generation,
            logic,
            slot.policy,
            false,
            &slot.published,
        )?;
        slot.build(runner, finished);
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
    ) -> Result<RunnerHandle> {
        let shared = RunnerShared::new(name, generation, policy, active, published.clone());
        let engine = Arc::downgrade(self);
        let context = RunnerContext {
            events: self.events.clone(),
            store: self.store.clone(),
            leases: self.leases.clone(),
            owner: self.owner.clone(),
            lease_ttl: self.config.lease_ttl,
            handle: self.handle.clone(),
            upcasters: self.runtime.upcasters().clone(),
            batch_size: self.config.batch_size,
            batch_seconds: self
                .batch_seconds
                .get_or_create(&vec![("projection", name.to_owned())])
                .clone(),
            document_cache_bytes: self.config.document_cache_bytes,
            retry_delay: self.config.retry_delay,
            limits: DocumentLimits {
                document_bytes: self.config.max_document_bytes,
                batch_bytes: self.config.max_batch_document_bytes,
            },
            promoted: Box::new(move |shared| {
                if let Some(engine) = engine.upgrade() {
                    engine.promote(shared);
                }
            }),
        };
        let thread = runner::spawn(shared.clone(), logic.clone(), context)?;
        Ok(RunnerHandle {
            shared,
            logic: Some((logic.clone(), logic.built_by().identity)),
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
}

/// This process as a lease owner, readable by whoever looks at the leases:
/// `hostname:pid:random` (eight hex digits of a fresh UUID, so two engines of one
/// process, or a restarted process given the same pid, are different owners).
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}
