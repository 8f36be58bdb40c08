//! The projection runner: one thread per projection generation, applying the global
//! log to its documents exactly once.
//!
//! A runner reads the log after its checkpoint in batches, only the events its logic
//! wants (the store filters them), splits each batch into runs of one partition, and
//! applies the runs through an [`Overlay`]. The documents changed and the new
//! checkpoint commit in one transaction, so a crash never applies an event twice or
//! skips one. The checkpoint advances to the last position *read*, including events
//! the filter left out, so `wait_for` works for any position.
//!
//! When a batch fails, its changes are discarded and its events are applied one at a
//! time, committing the good ones, to find the failing event: the `stop` policy records
//! it and ends the runner with the checkpoint just before it; `skip` records it as
//! skipped and goes on. A guest trap or deadline is a failure like any other, and so
//! is an upcaster's on the events it reads for the projection: the batch is then
//! upcast one event at a time, and the event the upcaster fails on meets the policy. A
//! database error is not the event's fault: the runner records it, waits, and retries.
//!
//! Caught up, the runner parks on the store's head watch until the log grows (or it
//! is told to stop), waking meanwhile when its lease is due for renewal, so an idle
//! projection keeps its runner.
//!
//! A runner works only while it holds its generation's lease (`projection:<name>:<n>`
//! in the [`LeaseStore`]), renewed at a third of its time to live, and every batch it
//! commits carries the lease's fence: when several processes run the same projection
//! over one database, exactly one applies events at a time, and one that paused past
//! its lease commits nothing after another took over. A runner that does not hold the
//! lease stands by, and when it takes it over it goes on from the checkpoint the store
//! has. The runner is a thread of its own, because it calls the guest;
//! it reaches the async store through the engine's tokio runtime. A runner building a new generation beside the active one asks,
//! with every commit that reaches the head, to become the generation queries read.

use super::overlay::{DocumentLimits, Overlay, Pending};
use super::{GenerationStatus, ProjectionLogic, ProjectionState};
use crate::metrics::observe_since;
use crate::remote_parent;
use crate::runtime::Documents;
use crate::store::{
    Committed, DocumentBatch, EventStore, FailurePolicy, Generation, Lease, LeaseStore, LogFilter,
    ProjectionStore, RecordedEvent,
};
use crate::sync::lock;
use crate::upcasting::{UpcasterSet, Upcasters};
use crate::{Error, Result, chain};
use prometheus_client::metrics::histogram::Histogram;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::watch;

/// The span over which the events/s rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// What a projection has published for `wait_for`: the checkpoint of the generation
/// queries read, and the event it stopped at, if it did.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    pub(super) checkpoint: u64,
    pub(super) fault: Option<(u64, String)>,
}

/// The state of one runner shared between its thread and the engine.
pub(super) struct RunnerShared {
    pub(super) projection: String,
    pub(super) generation: u64,
    module: String,
    version: u64,
    /// The upcaster set recorded with the generation.
    upcasters: String,
    /// Whether this generation is the one queries read (and `wait_for` watches).
    active: AtomicBool,
    published: Arc<watch::Sender<Progress>>,
    tracked: Mutex<Tracked>,
    stop: watch::Sender<bool>,
}

struct Tracked {
    policy: FailurePolicy,
    checkpoint: u64,
    caught_up: bool,
    stopped: bool,
    /// The runner does not hold the lease (another owner does, or it has not asked yet):
    /// it waits to take over.
    standby: bool,
    fault: Option<(u64, String)>,
    last_error: Option<String>,
    skipped: u64,
    applied: u64,
    /// Batches refused by the fence.
    fenced: u64,
    /// (time, events applied by then), oldest first; the first is the rate's baseline.
    samples: VecDeque<(Instant, u64)>,
}

impl RunnerShared {
    /// Shared state for a runner of `generation`, publishing to `published` while
    /// `active`.
    pub(super) fn new(
        projection: &str,
        generation: &Generation,
        policy: FailurePolicy,
        active: bool,
        published: Arc<watch::Sender<Progress>>,
    ) -> Arc<RunnerShared> {
        Arc::new(RunnerShared {
            projection: projection.to_owned(),
            generation: generation.generation,
            module: generation.built_by.module.clone(),
            version: generation.built_by.version,
            upcasters: generation.built_by.upcasters.clone(),
            active: AtomicBool::new(active),
            published,
            tracked: Mutex::new(Tracked {
                policy,
                checkpoint: generation.checkpoint,
                caught_up: false,
                stopped: false,
                // Until its runner first holds the lease, this process does not run it.
                standby: true,
                fault: generation.fault.clone(),
                last_error: generation.fault.as_ref().map(|(_, error)| error.clone()),
                skipped: generation.skipped,
                applied: 0,
                fenced: 0,
                samples: VecDeque::from([(Instant::now(), 0)]),
            }),
            stop: watch::channel(false).0,
        })
    }

    fn tracked(&self) -> MutexGuard<'_, Tracked> {
        lock(&self.tracked)
    }

    /// The generation's checkpoint as this process knows it.
    pub(super) fn checkpoint(&self) -> u64 {
        self.tracked().checkpoint
    }

    /// Apply `policy` to the next failure.
    pub(super) fn set_policy(&self, policy: FailurePolicy) {
        self.tracked().policy = policy;
    }

    /// Make this generation the one queries read, and publish its progress.
    pub(super) fn activate(&self) {
        self.active.store(true, Ordering::SeqCst);
        let tracked = self.tracked();
        self.publish(&tracked);
    }

    /// Ask the runner's thread to finish; a runner without one is marked stopped.
    pub(super) fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Mark the runner as not running (its thread ended, or it never had one).
    pub(super) fn mark_stopped(&self) {
        self.tracked().stopped = true;
    }

    /// The runner's status, with the log's head for the lag.
    pub(super) fn status(&self, head: u64) -> GenerationStatus {
        let tracked = self.tracked();
        let state = if tracked.fault.is_some() {
            ProjectionState::Faulted
        } else if tracked.stopped {
            ProjectionState::Stopped
        } else if tracked.standby {
            ProjectionState::Standby
        } else if !self.active.load(Ordering::SeqCst) {
            ProjectionState::Rebuilding
        } else if tracked.caught_up {
            ProjectionState::Live
        } else {
            ProjectionState::CatchingUp
        };
        let events_per_second = match (tracked.samples.front(), tracked.samples.back()) {
            (Some(&(since, base)), Some(&(_, latest))) if !tracked.stopped => {
                let seconds = since.elapsed().as_secs_f64();
                if seconds > 0.0 {
                    (latest - base) as f64 / seconds
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        GenerationStatus {
            generation: self.generation,
            module: self.module.clone(),
            version: self.version,
            upcasters: self.upcasters.clone(),
            checkpoint: tracked.checkpoint,
            head,
            lag: head.saturating_sub(tracked.checkpoint),
            state,
            events_per_second,
            events_applied: tracked.applied,
            last_error: tracked.last_error.clone(),
            faulted_at: tracked.fault.as_ref().map(|(position, _)| *position),
            skipped: tracked.skipped,
            fenced_commits: tracked.fenced,
            runner: None,
        }
    }

    fn publish(&self, tracked: &Tracked) {
        if self.active.load(Ordering::SeqCst) {
            self.published.send_modify(|progress| {
                progress.checkpoint = progress.checkpoint.max(tracked.checkpoint);
                progress.fault.clone_from(&tracked.fault);
            });
        }
    }

    /// Record a commit up to `checkpoint` that applied `applied` events; `caught_up`
    /// when it reached the head seen before the read.
    fn advance(&self, checkpoint: u64, applied: u64, skipped: bool, caught_up: bool) {
        let mut tracked = self.tracked();
        tracked.checkpoint = checkpoint;
        tracked.caught_up = caught_up;
        tracked.applied += applied;
        tracked.skipped += u64::from(skipped);
        tracked.last_error = None;
        let now = Instant::now();
        let total = tracked.applied;
        tracked.samples.push_back((now, total));
        while tracked
            .samples
            .get(1)
            .is_some_and(|&(at, _)| now.duration_since(at) >= RATE_WINDOW)
        {
            tracked.samples.pop_front();
        }
        self.publish(&tracked);
    }

    /// Whether another owner holds the lease and this runner waits to take over.
    pub(super) fn standing_by(&self) -> bool {
        self.tracked().standby
    }

    fn set_standby(&self, standby: bool) {
        self.tracked().standby = standby;
    }

    /// Go on from `checkpoint`, the store's, after taking the lease over.
    fn take_over(&self, checkpoint: u64) {
        let mut tracked = self.tracked();
        tracked.checkpoint = checkpoint;
        tracked.caught_up = false;
        self.publish(&tracked);
    }

    fn record_fenced(&self) {
        self.tracked().fenced += 1;
    }

    fn mark_caught_up(&self) {
        self.tracked().caught_up = true;
    }

    fn record_error(&self, error: &str) {
        self.tracked().last_error = Some(error.to_owned());
    }

    fn record_fault(&self, position: u64, error: String) {
        let mut tracked = self.tracked();
        tracked.last_error = Some(error.clone());
        tracked.fault = Some((position, error));
        self.publish(&tracked);
    }

    fn policy(&self) -> FailurePolicy {
        self.tracked().policy
    }
}

/// The pause before the next try after `failures` failures in a row: `base`, doubled
/// for each, at most a minute.
fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.min(6))
        .min(Duration::from_secs(60))
}

/// The span of log a batch read: after `checkpoint` up to `read_to`, `caught_up` when
/// that is the head seen before the read.
#[derive(Debug, Clone, Copy)]
struct Batch {
    checkpoint: u64,
    read_to: u64,
    caught_up: bool,
}

/// Called by a runner whose generation just became the one queries read.
pub(super) type OnPromoted = Box<dyn Fn(&Arc<RunnerShared>) + Send>;

/// What a runner thread needs besides its logic.
pub(super) struct RunnerContext {
    pub(super) events: Arc<dyn EventStore>,
    pub(super) store: Arc<dyn ProjectionStore>,
    pub(super) leases: Arc<dyn LeaseStore>,
    /// Who this process is, as lease owner.
    pub(super) owner: Arc<str>,
    /// How long a lease lasts unless renewed.
    pub(super) lease_ttl: Duration,
    /// The runtime the store's futures run on.
    pub(super) handle: Handle,
    /// The deployed upcasters: each batch is read in the current shape of its events.
    pub(super) upcasters: Arc<Upcasters>,
    pub(super) batch_size: usize,
    /// Seconds of each batch, applied and committed.
    pub(super) batch_seconds: Histogram,
    /// Bytes of committed documents kept in memory between batches.
    pub(super) document_cache_bytes: usize,
    pub(super) retry_delay: Duration,
    /// What the guest's documents must hold to, and how many of their bytes a batch
    /// keeps.
    pub(super) limits: DocumentLimits,
    /// Called once this runner's generation became the one queries read.
    pub(super) promoted: OnPromoted,
}

/// Start the thread that runs `logic` for `shared`'s generation.
pub(super) fn spawn(
    shared: Arc<RunnerShared>,
    logic: Arc<dyn ProjectionLogic>,
    context: RunnerContext,
) -> Result<JoinHandle<()>> {
    let name = format!("refold-projection-{}", shared.projection);
    let projection = shared.projection.clone();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let overlay = Overlay::new(
                context.store.clone(),
                context.handle.clone(),
                &shared.projection,
                shared.generation,
                context.document_cache_bytes,
                context.limits,
            );
            Runner {
                shared,
                logic,
                context,
                overlay,
                head_seen: Cell::new(0),
                lease: RefCell::new(None),
            }
            .run();
        })
        .map_err(|source| Error::Thread {
            name: format!("refold-projection-{projection}"),
            source,
        })
}

/// What one step of the loop came to.
enum Step {
    /// Events were committed; read on.
    Progressed,
    /// Nothing new after this checkpoint; wait for the head to pass it.
    Idle(u64),
    /// This generation just became the one queries read.
    Promoted,
    /// The runner is done: faulted, or its generation was dropped.
    Finished,
}

struct Runner {
    shared: Arc<RunnerShared>,
    logic: Arc<dyn ProjectionLogic>,
    context: RunnerContext,
    /// The documents the logic reads and writes, with what it knows to be committed.
    overlay: Overlay,
    /// The log's head when the current step began.
    head_seen: Cell<u64>,
    /// The lease held, and when it was last taken or renewed.
    lease: RefCell<Option<(Lease, Instant)>>,
}

/// Where a runner stands with its lease.
enum Held {
    /// It holds the lease: it may work.
    Yes,
    /// Another owner holds it.
    No,
    /// Its generation is gone from the store, or stopped at an event elsewhere.
    Finished,
}

impl Runner {
    fn run(&self) {
        let handle = &self.context.handle;
        let mut head = self.context.events.subscribe();
        let mut stop = self.shared.stop.subscribe();
        let overlay = &self.overlay;
        // Failures in a row, for the pause before the next try.
        let mut failures = 0u32;
        while !*stop.borrow_and_update() {
            let step = match self.hold_lease() {
                Ok(Held::Yes) => self.step(overlay, &mut head),
                Ok(Held::No) => {
                    // Look again a third of a lease later; a stop ends the wait early.
                    handle.block_on(async {
                        let _ = tokio::time::timeout(
                            self.context.lease_ttl / 3,
                            stop.wait_for(|stop| *stop),
                        )
                        .await;
                    });
                    continue;
                }
                Ok(Held::Finished) => break,
                Err(error) => Err(error),
            };
            if step.is_ok() {
                failures = 0;
            }
            match step {
                Ok(Step::Progressed) => {}
                Ok(Step::Idle(checkpoint)) => {
                    self.shared.mark_caught_up();
                    // Wake when the lease is due for renewal even if the log does not
                    // grow: an idle runner that let its lease lapse would still say
                    // it runs the projection while another process did.
                    let renew_in = self.renewal_due();
                    handle.block_on(async {
                        let _ = tokio::time::timeout(renew_in, async {
                            tokio::select! {
                                _ = head.wait_for(|head| *head > checkpoint) => {}
                                _ = stop.wait_for(|stop| *stop) => {}
                            }
                        })
                        .await;
                    });
                }
                Ok(Step::Promoted) => (self.context.promoted)(&self.shared),
                Ok(Step::Finished) => break,
                Err(error) => {
                    let message = chain(&error);
                    tracing::warn!(projection = %self.shared.projection, generation = self.shared.generation, error = %message, "projection runner failed; retrying");
                    self.shared.record_error(&message);
                    let pause = backoff(self.context.retry_delay, failures);
                    failures = failures.saturating_add(1);
                    // Waking early is the point: a stop ends the wait.
                    handle.block_on(async {
                        let _ = tokio::time::timeout(pause, stop.wait_for(|stop| *stop)).await;
                    });
                }
            }
        }
        self.release_lease();
        self.shared.mark_stopped();
    }

    /// How long until the lease held is due for renewal (at once when none is held).
    fn renewal_due(&self) -> Duration {
        let interval = self.context.lease_ttl / 3;
        self.lease
            .borrow()
            .as_ref()
            .map_or(Duration::ZERO, |(_, since)| {
                interval.saturating_sub(since.elapsed())
            })
    }

    /// Take or renew the generation's lease when due. Taking it over from another owner
    /// (or again after losing it) first catches up with what the store has.
    fn hold_lease(&self) -> Result<Held> {
        let ttl = self.context.lease_ttl;
        if let Some((_, since)) = &*self.lease.borrow()
            && since.elapsed() < ttl / 3
        {
            return Ok(Held::Yes);
        }
        let asked = Instant::now();
        let name = format!(
            "projection:{}:{}",
            self.shared.projection, self.shared.generation
        );
        let granted = self.context.handle.block_on(self.context.leases.acquire(
            &name,
            &self.context.owner,
            ttl,
        ))?;
        let Some(lease) = granted else {
            if self.lease.take().is_some() {
                tracing::info!(projection = %self.shared.projection, generation = self.shared.generation, "another process took over this projection");
            }
            self.shared.set_standby(true);
            return Ok(Held::No);
        };
        let taken_over = self
            .lease
            .borrow()
            .as_ref()
            .is_none_or(|(held, _)| held.token != lease.token);
        *self.lease.borrow_mut() = Some((lease, asked));
        if taken_over {
            // Another owner may have written the documents in between.
            self.overlay.forget_committed();
            let stored = self
                .context
                .handle
                .block_on(self.context.store.definition(&self.shared.projection))?;
            let generation = stored.and_then(|definition| {
                std::iter::once(definition.active)
                    .chain(definition.building)
                    .find(|g| g.generation == self.shared.generation)
            });
            let Some(generation) = generation else {
                return Ok(Held::Finished);
            };
            if let Some((position, error)) = generation.fault {
                self.shared.record_fault(position, error);
                return Ok(Held::Finished);
            }
            self.shared.take_over(generation.checkpoint);
        }
        self.shared.set_standby(false);
        Ok(Held::Yes)
    }

    /// Give the lease up, so another process need not wait for it to expire.
    fn release_lease(&self) {
        if let Some((lease, _)) = self.lease.take()
            && let Err(error) = self
                .context
                .handle
                .block_on(self.context.leases.release(&lease))
        {
            tracing::warn!(projection = %self.shared.projection, error = %chain(&error), "cannot release the projection's lease; another process takes over when it expires");
        }
    }

    /// Events read per batch: the runner's batch size, at most what the logic takes.
    fn batch_size(&self) -> usize {
        self.context.batch_size.min(self.logic.max_batch()).max(1)
    }

    /// Read and apply the next batch, or find there is none.
    fn step(&self, overlay: &Overlay, head: &mut watch::Receiver<u64>) -> Result<Step> {
        let head = *head.borrow_and_update();
        self.head_seen.set(head);
        let checkpoint = self.shared.checkpoint();
        if checkpoint >= head {
            if !self.shared.active.load(Ordering::SeqCst) {
                // A rebuild at the head: take over if the active generation is not ahead.
                match self.commit(Pending::new(), checkpoint, 0, None, true)? {
                    Step::Progressed => {}
                    done => return Ok(done),
                }
            }
            return Ok(Step::Idle(checkpoint));
        }
        let batch_size = self.batch_size();
        let upcasters = self.context.upcasters.current();
        // Asked for each batch: a workflow's event types follow its module's hot swaps.
        let filter = self.logic.filter()?;
        let events = self.context.handle.block_on(self.context.events.read_log(
            checkpoint,
            &upcasters.stored_filter(&filter),
            batch_size,
        ))?;
        let last_read = events.last().map_or(0, |e| e.global_position);
        // A short batch holds every wanted event up to the head seen before the read.
        let caught_up = events.len() < batch_size;
        let read_to = if caught_up {
            last_read.max(head)
        } else {
            last_read
        };
        let batch = tracing::info_span!(
            "projection batch",
            projection = %self.shared.projection,
            generation = self.shared.generation,
            after = checkpoint,
            events = events.len(),
        );
        if remote_parent::wanted() {
            let traceparent = events.iter().find_map(traceparent_of);
            remote_parent::continue_trace(&batch, traceparent.as_deref());
        }
        let _batch = batch.entered();
        let started = Instant::now();
        let step = match upcasters.upcast_filtered(events, &filter) {
            Ok(events) => self.process(overlay, &events, read_to, caught_up),
            Err(Error::Guest { .. }) => {
                let batch = Batch {
                    checkpoint,
                    read_to,
                    caught_up,
                };
                self.upcast_one_at_a_time(overlay, &upcasters, &filter, batch)
            }
            Err(other) => Err(other),
        };
        observe_since(&self.context.batch_seconds, started);
        step
    }

    /// An upcaster failed on the batch after `checkpoint`: read it again and take its
    /// stored events one at a time, so the event it fails on meets the projection's
    /// policy (an upcaster's fault is a guest's, as the projection's own would be) and
    /// the others are applied.
    fn upcast_one_at_a_time(
        &self,
        overlay: &Overlay,
        upcasters: &UpcasterSet,
        filter: &LogFilter,
        batch: Batch,
    ) -> Result<Step> {
        let Batch {
            checkpoint,
            read_to,
            caught_up,
        } = batch;
        tracing::debug!(projection = %self.shared.projection, "an upcaster failed on a batch; upcasting its events one at a time");
        let stored = self.context.handle.block_on(self.context.events.read_log(
            checkpoint,
            &upcasters.stored_filter(filter),
            self.batch_size(),
        ))?;
        for event in stored.into_iter().filter(|e| e.global_position <= read_to) {
            let position = event.global_position;
            let at_end = caught_up && position == read_to;
            let step = match upcasters.upcast_filtered(vec![event.clone()], filter) {
                Ok(events) => self.process(overlay, &events, position, at_end)?,
                Err(error @ Error::Guest { .. }) => self.failed(&event, &error, at_end)?,
                Err(other) => return Err(other),
            };
            if let Step::Finished = step {
                return Ok(Step::Finished);
            }
        }
        self.commit(Pending::new(), read_to, 0, None, caught_up)
    }

    /// Apply `events` and commit up to `read_to`, finding the failing event if any.
    fn process(
        &self,
        overlay: &Overlay,
        events: &[RecordedEvent],
        read_to: u64,
        caught_up: bool,
    ) -> Result<Step> {
        let failure = match self.apply(overlay, events)? {
            Ok(pending) => {
                return self.commit(pending, read_to, events.len(), None, caught_up);
            }
            Err(error) => error,
        };
        // A commit that reaches `read_to` says whether that is the head, so the state
        // is live by the time the checkpoint is published.
        let at_end = |event: &RecordedEvent| caught_up && event.global_position == read_to;
        if let [event] = events {
            if let Step::Finished = self.failed(event, &failure, at_end(event))? {
                return Ok(Step::Finished);
            }
        } else {
            tracing::debug!(projection = %self.shared.projection, error = %chain(&failure), "a batch failed; applying its events one at a time");
            for event in events {
                let step = match self.apply(overlay, std::slice::from_ref(event))? {
                    Ok(pending) => {
                        self.commit(pending, event.global_position, 1, None, at_end(event))?
                    }
                    Err(error) => self.failed(event, &error, at_end(event))?,
                };
                if let Step::Finished = step {
                    return Ok(Step::Finished);
                }
            }
        }
        self.commit(Pending::new(), read_to, 0, None, caught_up)
    }

    /// Apply `events` through the overlay, one call per run of one partition. The
    /// outer error is the database's; the inner one is the events': the guest's, or a
    /// document the overlay refused (not a JSON object, too large, or past the
    /// batch's bytes).
    fn apply(&self, overlay: &Overlay, events: &[RecordedEvent]) -> Result<Result<Pending>> {
        let mut documents: Box<dyn Documents> = Box::new(overlay.clone());
        for run in events.chunk_by(|a, b| a.partition == b.partition) {
            overlay.set_partition(&run[0].partition);
            let applied = self.logic.apply(run, &mut documents);
            if let Err(error) = applied.and_then(|()| overlay.refusal(&self.shared.module)) {
                overlay.take()?;
                return Ok(Err(error));
            }
        }
        Ok(Ok(overlay.take()?))
    }

    /// Handle `event` failing with `error` under the projection's policy.
    fn failed(&self, event: &RecordedEvent, error: &Error, caught_up: bool) -> Result<Step> {
        let message = chain(error);
        let position = event.global_position;
        match self.shared.policy() {
            FailurePolicy::Stop => {
                self.context
                    .handle
                    .block_on(self.context.store.record_fault(
                        &self.shared.projection,
                        self.shared.generation,
                        position,
                        &message,
                    ))?;
                tracing::error!(projection = %self.shared.projection, position, error = %message, "projection stopped at an event it cannot apply");
                self.shared.record_fault(position, message);
                Ok(Step::Finished)
            }
            FailurePolicy::Retry => {
                // The run loop records it and tries again after a pause.
                Err(Error::ProjectionFaulted {
                    projection: self.shared.projection.clone(),
                    position,
                    error: message,
                })
            }
            FailurePolicy::Skip => {
                tracing::warn!(projection = %self.shared.projection, position, error = %message, "projection skipped an event it cannot apply");
                self.commit(
                    Pending::new(),
                    position,
                    0,
                    Some((position, message)),
                    caught_up,
                )
            }
        }
    }

    fn commit(
        &self,
        pending: Pending,
        checkpoint: u64,
        applied: usize,
        skipped: Option<(u64, String)>,
        caught_up: bool,
    ) -> Result<Step> {
        let was_skip = skipped.is_some();
        self.overlay.committing(&pending);
        let committed = self
            .context
            .handle
            .block_on(self.context.store.commit(DocumentBatch {
                projection: self.shared.projection.clone(),
                generation: self.shared.generation,
                changes: pending,
                checkpoint,
                skipped,
                caught_up,
                fence: self.lease.borrow().as_ref().map(|(lease, _)| lease.fence()),
            }))
            .inspect_err(|_| self.overlay.forget_committed())?;
        match committed {
            Committed::Superseded => return Ok(Step::Finished),
            Committed::Fenced => {
                // Another process took the lease over: nothing of this batch stands.
                tracing::info!(projection = %self.shared.projection, generation = self.shared.generation, "a batch was fenced: another process holds the lease now");
                self.shared.record_fenced();
                self.overlay.forget_committed();
                self.lease.take();
                return Ok(Step::Progressed);
            }
            Committed::Stored | Committed::Promoted => {}
        }
        let live = checkpoint >= self.head_seen.get();
        self.shared
            .advance(checkpoint, applied as u64, was_skip, live);
        Ok(match committed {
            Committed::Promoted => Step::Promoted,
            _ => Step::Progressed,
        })
    }
}

/// The `traceparent` of the command that appended `event` (`metadata.refold.traceparent`),
/// if it had one: a batch continues the trace of the first of its events that has one.
fn traceparent_of(event: &RecordedEvent) -> Option<String> {
    let metadata: serde_json::Value = serde_json::from_str(&event.metadata).ok()?;
    metadata["refold"]["traceparent"]
        .as_str()
        .map(str::to_owned)
}
