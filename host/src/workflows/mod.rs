//! Workflows: durable processes that react to events and send commands, exactly once.
//!
//! A workflow module (the WIT `workflow-module` world) names the event types it reacts
//! to and maps each such event to an instance (an order id, say); for each input the
//! instance gets its state and answers its new state, the commands to send (to a
//! stream or a query decider, at once or after a delay) and whether it is finished.
//! The outcome of each command it sent (accepted with its events, or rejected with
//! the reason) is its next input, so compensation is a step like any other.
//!
//! Durable execution, in three parts:
//!
//! - `record`: each instance keeps its inputs and outputs as the stream
//!   `workflow-<name>-<instance>` in its input's partition; its state is rebuilt by
//!   folding it, and every step and command has an id derived from (workflow,
//!   instance, the input's global position, the step's index), so writing or sending
//!   it again stores or applies nothing new.
//! - `logic`: the workflow as projection logic, so the projection runner drives it,
//!   with its checkpoint, lease (one node at a time), fence and failure policy
//!   (`stop`, `skip`, `retry` with backoff); its projection is named
//!   `workflow:<name>` and keeps no documents. A new version of the module takes over
//!   from the next input, with the instances as their streams hold them.
//! - `timers`: a delayed command is a timer, due by the host's clock; a tracker per
//!   workflow rebuilds the pending timers from the workflow's events when it starts,
//!   appends a timer's `WorkflowTimerDue` event when its time has come, and the
//!   runner sends the command when it reaches that event in the log.
//!
//! `code` holds what the runner calls (a module, or [`NativeWorkflow`] for native Rust)
//! and `status` what [`WorkflowEngine::status`] reports.

mod code;
mod logic;
mod record;
mod status;
mod timers;

pub use code::{NativeWorkflow, WorkflowCode};
pub use record::{STEPPED, TIMER_DUE, stream_of};
pub use status::{WorkflowConfig, WorkflowStatus};

use crate::commands::CommandHandler;
use crate::projections::{FailurePolicy, ProjectionEngine, ProjectionLogic};
use crate::runtime::{Runtime, World};
use crate::store::EventStore;
use crate::sync::lock;
use crate::{Error, Result};
use logic::{Counters, Source, WorkflowLogic};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use timers::Tracked;
use tokio::runtime::Handle;
use tokio::sync::watch;

/// The name of the projection that runs the workflow `workflow`.
pub fn projection_of(workflow: &str) -> String {
    format!("workflow:{workflow}")
}

/// Runs the workflows of one process.
pub struct WorkflowEngine {
    events: Arc<dyn EventStore>,
    commands: Arc<CommandHandler>,
    runtime: Arc<Runtime>,
    config: WorkflowConfig,
    handle: Handle,
    running: Mutex<HashMap<String, Running>>,
}

/// A workflow known to this process: its counters and its timers' tracker.
struct Running {
    counters: Arc<Counters>,
    tracked: Arc<Mutex<Tracked>>,
    stop: watch::Sender<bool>,
}

impl WorkflowEngine {
    /// An engine sending commands through `commands`, with workflow modules from
    /// `runtime`.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime: trackers run on it.
    pub fn new(
        events: Arc<dyn EventStore>,
        commands: Arc<CommandHandler>,
        runtime: Arc<Runtime>,
        config: WorkflowConfig,
    ) -> Self {
        WorkflowEngine {
            events,
            commands,
            runtime,
            config,
            handle: Handle::current(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Run the workflow module deployed as `name` on `projections` under `policy`:
    /// from the first event of the log the first time, from its checkpoint after, with
    /// whichever version of the module is deployed when each input is handled.
    pub async fn deploy(
        &self,
        projections: &ProjectionEngine,
        name: &str,
        policy: FailurePolicy,
    ) -> Result<()> {
        let logic = self.logic(name, Source::Deployed(self.runtime.clone()));
        projections.deploy_logic(logic, policy).await
    }

    /// Run `code`, compiled into the host, as the workflow `code.name()`.
    pub async fn deploy_native(
        &self,
        projections: &ProjectionEngine,
        code: Arc<dyn WorkflowCode>,
        policy: FailurePolicy,
    ) -> Result<()> {
        let name = code.name().to_owned();
        let logic = self.logic(&name, Source::Native(code));
        projections.deploy_logic(logic, policy).await
    }

    /// Record the workflow deployed as `name` so that it runs from the first event
    /// wherever it next runs, without running it here.
    pub async fn record(
        &self,
        projections: &ProjectionEngine,
        name: &str,
        policy: FailurePolicy,
    ) -> Result<()> {
        let logic = self.logic(name, Source::Deployed(self.runtime.clone()));
        projections.record(logic.as_ref(), policy).await
    }

    /// The logic of the workflow `name`, starting its tracker if it has none yet.
    fn logic(&self, name: &str, source: Source) -> Arc<dyn ProjectionLogic> {
        let mut running = lock(&self.running);
        let entry = running.entry(name.to_owned()).or_insert_with(|| {
            let tracked = Arc::new(Mutex::new(Tracked::default()));
            let (stop, stopped) = watch::channel(false);
            let _guard = self.handle.enter();
            timers::spawn(
                name.to_owned(),
                self.events.clone(),
                tracked.clone(),
                stopped,
            );
            Running {
                counters: Arc::default(),
                tracked,
                stop,
            }
        });
        Arc::new(WorkflowLogic {
            workflow: name.to_owned(),
            projection: projection_of(name),
            source,
            events: self.events.clone(),
            commands: self.commands.clone(),
            handle: self.handle.clone(),
            max_steps: self.config.max_steps_per_input,
            counters: entry.counters.clone(),
        })
    }

    /// The state of every workflow deployed here, by name, with who runs each.
    pub async fn status(&self, projections: &ProjectionEngine) -> Result<Vec<WorkflowStatus>> {
        let mut names: Vec<(String, u64)> = self
            .runtime
            .modules()
            .into_iter()
            .filter(|m| m.world == World::Workflow)
            .map(|m| (m.name, m.version))
            .collect();
        {
            let running = lock(&self.running);
            for name in running.keys() {
                if !names.iter().any(|(n, _)| n == name) {
                    names.push((name.clone(), 0));
                }
            }
        }
        names.sort();
        let mut projected = names
            .iter()
            .filter_map(|(name, _)| projections.status_of(&projection_of(name)).ok())
            .collect::<Vec<_>>();
        projections.read_runners(&mut projected).await?;
        let running = lock(&self.running);
        Ok(names
            .into_iter()
            .filter_map(|(name, version)| {
                let projection = projected
                    .iter()
                    .find(|p| p.name == projection_of(&name))?
                    .clone();
                let active = projection.active;
                let (counters, tracked) = running
                    .get(&name)
                    .map(|r| (r.counters.clone(), r.tracked.clone()))
                    .unzip();
                let count = |read: fn(&Counters) -> u64| counters.as_deref().map_or(0, read);
                let tracked = tracked.as_ref().map(|t| lock(t));
                let tracked = tracked.as_deref();
                Some(WorkflowStatus {
                    version,
                    policy: projection.policy,
                    state: active.state,
                    checkpoint: active.checkpoint,
                    head: active.head,
                    lag: active.lag,
                    instances_open: tracked.map_or(0, Tracked::open),
                    instances_finished: tracked.map_or(0, Tracked::finished),
                    timers_pending: tracked.map_or(0, Tracked::pending),
                    next_timer_at_ms: tracked.and_then(Tracked::next_due),
                    inputs_handled: count(|c| c.inputs.load(Ordering::Relaxed)),
                    steps: count(|c| c.steps.load(Ordering::Relaxed)),
                    commands_sent: count(|c| c.commands.load(Ordering::Relaxed)),
                    last_error: active
                        .last_error
                        .or_else(|| tracked.and_then(|t| t.last_error.clone())),
                    faulted_at: active.faulted_at,
                    skipped: active.skipped,
                    runner: active.runner,
                    name,
                })
            })
            .collect())
    }

    /// The state of the workflow `name`.
    pub async fn status_of(
        &self,
        projections: &ProjectionEngine,
        name: &str,
    ) -> Result<WorkflowStatus> {
        self.status(projections)
            .await?
            .into_iter()
            .find(|status| status.name == name)
            .ok_or_else(|| Error::UnknownWorkflow(name.to_owned()))
    }

    /// Stop every workflow's timers (their runners stop with the projections).
    pub fn shutdown(&self) {
        for running in lock(&self.running).values() {
            running.stop.send_replace(true);
        }
    }
}

impl Drop for WorkflowEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
