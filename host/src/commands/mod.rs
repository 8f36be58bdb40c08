//! Command handling: the write side, end to end.
//!
//! [`CommandHandler::handle`] takes a command for a stream, loads the stream's state
//! (from a state cache bounded by bytes, else the newest snapshot of the same decider
//! version plus the events after it), asks the decider's `decide`, folds the decided
//! events into the state with `evolve`, and only then appends them, with the version
//! it decided on as the expected version. A command therefore never fails after its
//! events are written: a decided event that `evolve` cannot fold (a trap, the memory
//! cap, an error) fails the command with nothing written, and the stream stays
//! loadable. Before the append the events carry what the host assigns up front (ids,
//! stream, stream positions) but no global position (0) and no recorded-at (empty):
//! `evolve` must not depend on those two. The state so folded is the one cached once
//! the append succeeds, and the outcome is the events as the store acknowledged them.
//! When another writer got there first the append conflicts: the handler catches the
//! state up from the store and decides again, up to [`CommandConfig::max_attempts`]
//! times. A decision is never applied to a state other than the one it was made on.
//! A rejection, or a decision of no events, appends nothing, so no expected version
//! checks the state it was made on: when that state came from the cache, the handler
//! reads the stream's newer events first (another process or node may have written
//! some) and, if there are any, decides again on the caught-up state.
//!
//! The decider is looked up once per command, so a deploy in the middle of a command
//! lets it finish on the version it started on; the next command uses the new one,
//! with its own cached states and snapshots (they are keyed by the version's hash).
//!
//! The handler is async: it awaits the store, and runs every guest call on tokio's
//! blocking pool, so a slow guest never stalls the runtime's I/O threads.
//!
//! A command whose text is not JSON the engine takes (a lone UTF-16 surrogate, say),
//! or whose stream or partition cannot be named so, is refused before the decider
//! sees it ([`Error::MalformedCommand`]).
//!
//! A command comes as an envelope ([`CommandRequest`]): the command the decider reads,
//! and an optional `metadata` object the handler takes out before the decider sees the
//! command. Merged with the keys given beside the envelope (HTTP headers, `--id`),
//! it is the command's [`CommandMetadata`] (`metadata`), which every event of the
//! command carries: the caller's keys and Refold's under `refold` (command,
//! correlation and causation ids, the trace context).
//!
//! A command sent with an id is answered once: the handler looks the id up before
//! deciding, and a command recorded already gets its recorded outcome (its events as
//! stored, or its rejection) with nothing decided or appended; another command under
//! the same id is refused ([`Error::IdempotencyKeyReused`]). Its events get ids
//! derived from the id (`identity`), and its record is written in the same
//! transaction as its events ([`EventStore::record_command`]), which looks the id up
//! again inside it: a resend racing the first finds the first's record there and gets
//! its outcome. A rejection or a decision of no events is recorded too; a command the
//! decider cannot read, or one that fails (conflicts, a guest fault), is not, so a
//! resend of it is decided afresh.

mod cache;
mod identity;
pub(crate) use identity::derived_uuid;
mod logic;
mod measured;
mod metadata;
mod prepared;
mod query;
mod request;

pub use logic::{DeciderLogic, NativeDecider, StreamAt};
pub use metadata::CommandMetadata;
pub use request::{CommandRequest, RefoldKeys};

use crate::failpoint::Failpoint;
use crate::metrics::Latencies;
use crate::runtime::{DecideError, NewEvent, Runtime};
use crate::store::{
    AppendRequest, Direction, EventData, EventStore, ExpectedVersion, RecordedEvent,
    RecordedOutcome, Snapshot,
};
use crate::sync::blocking;
use crate::upcasting::UpcasterSet;
use crate::{Error, GuestFault, Result};
use cache::{CachedState, StateCache, StreamKey};
use prepared::{Appended, Prepared};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Settings of a [`CommandHandler`].
#[derive(Debug, Clone)]
pub struct CommandConfig {
    /// How many times a command is decided before conflicts make it give up.
    pub max_attempts: u32,
    /// Bytes of stream states the cache may hold.
    pub cache_bytes: usize,
    /// Save a snapshot each time a stream's version crosses a multiple of this
    /// (`None`: never).
    pub snapshot_every: Option<u64>,
    /// Events passed to `evolve` in one call while rehydrating.
    pub evolve_batch: usize,
}

impl Default for CommandConfig {
    fn default() -> Self {
        CommandConfig {
            max_attempts: 10,
            cache_bytes: 64 << 20,
            snapshot_every: Some(1000),
            evolve_batch: 1000,
        }
    }
}

/// What a handled command did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommandOutcome {
    /// The events appended, in order; empty when the decider decided none.
    pub events: Vec<RecordedEvent>,
    /// The stream's version after the command.
    pub stream_version: u64,
    /// Global position of the last event appended (`None` when none were): wait for a
    /// projection to reach it to read this command's effect.
    pub position: Option<u64>,
    /// The decider that decided, and its version.
    pub module: String,
    /// The decider's version number.
    pub module_version: u64,
    /// How many times the command was decided (more than 1 after conflicts).
    pub attempts: u32,
    /// The command's id, given or generated (`metadata.refold.commandId` of its events).
    pub command_id: String,
    /// Whether this is the recorded outcome of an earlier send of the same command
    /// id: then nothing was decided or appended now.
    pub replayed: bool,
}

/// Counters of the handler's work since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CommandMetrics {
    /// Commands that appended events or decided none.
    pub handled: u64,
    /// Commands the decider rejected or could not read.
    pub rejected: u64,
    /// Appends that conflicted and were decided again.
    pub conflicts: u64,
    /// Events folded while loading states from the store.
    pub events_folded: u64,
    /// Commands that started from a cached state.
    pub cache_hits: u64,
    /// Snapshots saved.
    pub snapshots_saved: u64,
    /// Commands sent with an id answered from their record, deciding nothing.
    pub replayed: u64,
}

/// Runs commands through deciders against an event store.
pub struct CommandHandler {
    store: Arc<dyn EventStore>,
    runtime: Arc<Runtime>,
    config: CommandConfig,
    cache: StateCache,
    handled: AtomicU64,
    rejected: AtomicU64,
    conflicts: AtomicU64,
    events_folded: AtomicU64,
    cache_hits: AtomicU64,
    snapshots_saved: AtomicU64,
    replayed: AtomicU64,
    /// Seconds of each command, by decider and outcome.
    latency: Latencies,
}

impl CommandHandler {
    /// A handler over `store`, using the deciders deployed in `runtime`.
    pub fn new(store: Arc<dyn EventStore>, runtime: Arc<Runtime>, config: CommandConfig) -> Self {
        CommandHandler {
            cache: StateCache::new(config.cache_bytes),
            store,
            runtime,
            config,
            handled: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            events_folded: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            snapshots_saved: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            latency: crate::metrics::latencies(),
        }
    }

    /// Handle `command` (a command envelope, JSON text) for `stream` with the decider
    /// deployed as `decider`.
    pub async fn handle(
        &self,
        decider: &str,
        partition: &str,
        stream: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let request = CommandRequest::new(stream, command).in_partition(partition);
        self.handle_request(decider, request).await
    }

    /// Handle `command` for `stream` with the given decider logic.
    pub async fn handle_with(
        &self,
        logic: Arc<dyn DeciderLogic>,
        partition: &str,
        stream: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let request = CommandRequest::new(stream, command).in_partition(partition);
        self.handle_request_with(logic, request).await
    }

    /// Handle `request` with the decider deployed as `decider`.
    pub async fn handle_request(
        &self,
        decider: &str,
        request: CommandRequest,
    ) -> Result<CommandOutcome> {
        let module = self.runtime.module(decider)?;
        if module.is_query_decider() {
            return Err(Error::NotAStreamDecider {
                module: decider.to_owned(),
            });
        }
        self.handle_request_with(module, request).await
    }

    /// Handle `request` with the given decider logic.
    pub async fn handle_request_with(
        &self,
        logic: Arc<dyn DeciderLogic>,
        request: CommandRequest,
    ) -> Result<CommandOutcome> {
        let decider = logic.name().to_owned();
        let (stream, partition) = (request.stream.clone(), request.partition.clone());
        let command = self.decide_and_append(logic, request);
        self.measured(&decider, &stream, &partition, command).await
    }

    /// Handle `request` with `logic`: load, decide, append, retry on conflict.
    async fn decide_and_append(
        &self,
        logic: Arc<dyn DeciderLogic>,
        request: CommandRequest,
    ) -> Result<CommandOutcome> {
        let named = request.stream.clone();
        let prepared = Prepared::new(logic.name(), logic.version(), request, &named)?;
        logic.check_command(&prepared.command)?;
        if let Some(replayed) = self.recorded(&prepared).await? {
            return Ok(replayed);
        }
        let (partition, stream) = (prepared.partition.as_str(), prepared.stream.as_str());
        let upcasters = self.runtime.upcasters().current();
        let key = StreamKey::new(logic.as_ref(), &upcasters, partition, stream);
        let (mut current, mut unchecked) = match self.cached(&key) {
            Some(cached) => (cached, true),
            None => (self.rehydrate(&logic, &upcasters, &key).await?, false),
        };
        for attempt in 1..=self.config.max_attempts {
            let (decided_on, decided) = decide(&logic, &key, current, &prepared).await?;
            current = decided_on;
            let answered = !matches!(&decided, Ok(events) if !events.is_empty());
            if answered && std::mem::take(&mut unchecked) {
                // A rejection or a decision of nothing appends nothing, so no expected
                // version checks the cached state it was made on: check it here.
                let version = current.version;
                current = self.catch_up(&logic, &upcasters, &key, current).await?;
                if current.version != version {
                    continue;
                }
            }
            let events = match decided {
                Ok(events) => events,
                Err(refusal) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    self.cache.put(key, current);
                    let error = refused(logic.name(), refusal);
                    return self.rejection(&prepared, attempt, error).await;
                }
            };
            if events.is_empty() {
                let nothing = RecordedOutcome::Decided {
                    stream_version: current.version,
                    positions: None,
                };
                if let Some(first) = self.record_outcome(&prepared, attempt, nothing).await? {
                    return Ok(first);
                }
                self.handled.fetch_add(1, Ordering::Relaxed);
                let version = current.version;
                self.cache.put(key, current);
                return Ok(prepared.outcome(attempt, Vec::new(), version, None));
            }
            if let Err(fault) = check_streams(logic.name(), stream, &events) {
                self.cache.put(key, current);
                return Err(fault);
            }
            let pending = pending(&prepared, current.version, events);
            let (decided_on, folded) = fold_decided(&logic, current, pending).await?;
            current = decided_on;
            let (next, pending) = match folded {
                Ok(folded) => folded,
                Err(error) => {
                    self.cache.put(key, current);
                    return Err(error);
                }
            };
            let request = AppendRequest {
                partition: partition.to_owned(),
                stream: stream.to_owned(),
                expected: ExpectedVersion::Exact(current.version),
                events: pending.into_iter().map(event_data).collect(),
            };
            match self
                .append_command(&prepared, attempt, request.into())
                .await
            {
                Ok(Appended::Now(mut appended)) => {
                    Failpoint::CommandAfterAppend.reached();
                    let appended = appended.pop().expect("one outcome per append");
                    let outcome = prepared.outcome(
                        attempt,
                        appended.events,
                        appended.stream_version,
                        Some(appended.last_position),
                    );
                    self.appended(&key, current.version, next).await;
                    return Ok(outcome);
                }
                Ok(Appended::Replayed(first)) => return Ok(first),
                Err(Error::Conflict { .. }) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    current = self.catch_up(&logic, &upcasters, &key, current).await?;
                }
                Err(refused) => {
                    self.cache.put(key, current);
                    return Err(blame_guest(logic.name(), refused));
                }
            }
        }
        self.cache.remove(&key);
        Err(Error::TooManyConflicts {
            partition: partition.to_owned(),
            stream: stream.to_owned(),
            attempts: self.config.max_attempts,
        })
    }

    /// After a command's events were appended, taking the stream from `from` (a
    /// version) to the state `next`: a snapshot saved when a mark was crossed, `next`
    /// cached.
    async fn appended(&self, key: &StreamKey, from: u64, next: CachedState) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if self.crossed_snapshot_mark(from, next.version) {
            // The events are written: a snapshot that cannot be saved now is saved at
            // a later mark, never a reason to fail the command.
            if let Err(error) = self.save_snapshot(key, &next).await {
                tracing::warn!(partition = %key.partition, stream = %key.stream, error = %crate::chain(&error), "snapshot not saved");
            }
        }
        self.cache.put(key.clone(), next);
    }

    /// The current state of `stream` as `logic` folds it, and the version it includes:
    /// from the cache if held there, else from the newest snapshot and the events after it.
    pub async fn load(
        &self,
        logic: Arc<dyn DeciderLogic>,
        partition: &str,
        stream: &str,
    ) -> Result<(Vec<u8>, u64)> {
        let upcasters = self.runtime.upcasters().current();
        let key = StreamKey::new(logic.as_ref(), &upcasters, partition, stream);
        let loaded = self.cached_or_loaded(&logic, &upcasters, &key).await?;
        self.cache.put(key, loaded.clone());
        Ok((loaded.state, loaded.version))
    }

    /// Fold `stream` from its newest snapshot (or from the start), ignoring the cache,
    /// and save a snapshot of the result. Returns the state and version.
    pub async fn snapshot(
        &self,
        logic: Arc<dyn DeciderLogic>,
        partition: &str,
        stream: &str,
    ) -> Result<(Vec<u8>, u64)> {
        let upcasters = self.runtime.upcasters().current();
        let key = StreamKey::new(logic.as_ref(), &upcasters, partition, stream);
        let loaded = self.rehydrate(&logic, &upcasters, &key).await?;
        self.save_snapshot(&key, &loaded).await?;
        Ok((loaded.state, loaded.version))
    }

    /// Counters of the work done so far.
    pub fn metrics(&self) -> CommandMetrics {
        CommandMetrics {
            handled: self.handled.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            events_folded: self.events_folded.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            snapshots_saved: self.snapshots_saved.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
        }
    }

    /// Bytes of stream states cached now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// The state of `key` from the cache, caught up with the store, else from the
    /// newest snapshot and the events after it. (The command loop takes a cached state
    /// as it is: its append's expected version catches one that fell behind, and it
    /// checks the store itself before answering with a rejection.)
    async fn cached_or_loaded(
        &self,
        logic: &Arc<dyn DeciderLogic>,
        upcasters: &Arc<UpcasterSet>,
        key: &StreamKey,
    ) -> Result<CachedState> {
        match self.cached(key) {
            Some(cached) => self.catch_up(logic, upcasters, key, cached).await,
            None => self.rehydrate(logic, upcasters, key).await,
        }
    }

    /// The cached state of `key`, if held, counted as a hit.
    fn cached(&self, key: &StreamKey) -> Option<CachedState> {
        let cached = self.cache.get(key)?;
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(cached)
    }

    /// State from the newest snapshot of this logic plus the events after it.
    async fn rehydrate(
        &self,
        logic: &Arc<dyn DeciderLogic>,
        upcasters: &Arc<UpcasterSet>,
        key: &StreamKey,
    ) -> Result<CachedState> {
        let start = match self
            .store
            .load_snapshot(&key.partition, &key.stream, &key.identity)
            .await?
        {
            Some(snapshot) => CachedState {
                state: snapshot.state,
                version: snapshot.version,
            },
            None => {
                let logic = logic.clone();
                CachedState {
                    state: blocking(move || logic.initial_state()).await??,
                    version: 0,
                }
            }
        };
        let snapshot_version = start.version;
        let loaded = self.catch_up(logic, upcasters, key, start).await?;
        if self.crossed_snapshot_mark(snapshot_version, loaded.version) {
            self.save_snapshot(key, &loaded).await?;
        }
        Ok(loaded)
    }

    /// Fold the events after `from.version` into `from.state`, batch by batch, each
    /// batch as `upcasters` upcast it.
    async fn catch_up(
        &self,
        logic: &Arc<dyn DeciderLogic>,
        upcasters: &Arc<UpcasterSet>,
        key: &StreamKey,
        from: CachedState,
    ) -> Result<CachedState> {
        let mut current = from;
        let batch = self.config.evolve_batch.max(1);
        loop {
            let events = self
                .store
                .read_stream(
                    &key.partition,
                    &key.stream,
                    current.version + 1,
                    Direction::Forward,
                    batch,
                )
                .await?;
            let Some(last) = events.last() else { break };
            let folded = events.len();
            let version = last.stream_position;
            let events = upcasters.upcast_async(events).await?;
            current = evolve(logic, current.state, events, version).await?;
            self.events_folded
                .fetch_add(folded as u64, Ordering::Relaxed);
            if folded < batch {
                break;
            }
        }
        Ok(current)
    }

    fn crossed_snapshot_mark(&self, from: u64, to: u64) -> bool {
        match self.config.snapshot_every {
            Some(every) if every > 0 => to / every > from / every,
            _ => false,
        }
    }

    async fn save_snapshot(&self, key: &StreamKey, state: &CachedState) -> Result<()> {
        self.store
            .save_snapshot(Snapshot {
                partition: key.partition.clone(),
                stream: key.stream.clone(),
                module: key.identity.clone(),
                version: state.version,
                state: state.state.clone(),
            })
            .await?;
        self.snapshots_saved.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Ask `logic` to decide the `prepared` command (its context holding the command's
/// metadata) on `state`, on the blocking pool; gives the state back with the decision.
async fn decide(
    logic: &Arc<dyn DeciderLogic>,
    key: &StreamKey,
    state: CachedState,
    prepared: &Prepared,
) -> Result<(CachedState, std::result::Result<Vec<NewEvent>, DecideError>)> {
    let (logic, key) = (logic.clone(), key.clone());
    let (command, metadata) = (prepared.command.clone(), prepared.context.clone());
    blocking(move || {
        let stream = StreamAt {
            partition: &key.partition,
            stream: &key.stream,
            version: state.version,
            metadata: &metadata,
        };
        let decided = logic.decide(stream, &state.state, &command)?;
        Ok((state, decided))
    })
    .await?
}

/// Fold `events` into `state` with `logic`, on the blocking pool: the state at
/// `version`.
async fn evolve(
    logic: &Arc<dyn DeciderLogic>,
    state: Vec<u8>,
    events: Vec<RecordedEvent>,
    version: u64,
) -> Result<CachedState> {
    let logic = logic.clone();
    blocking(move || {
        let state = logic.evolve(&state, &events)?;
        Ok(CachedState { state, version })
    })
    .await?
}

/// Fold the decided `pending` events into `current` with `logic`, on the blocking
/// pool; gives `current` back with the result: the state after the events, and the
/// events.
async fn fold_decided(
    logic: &Arc<dyn DeciderLogic>,
    current: CachedState,
    pending: Vec<RecordedEvent>,
) -> Result<(CachedState, Result<(CachedState, Vec<RecordedEvent>)>)> {
    let logic = logic.clone();
    blocking(move || {
        let version = current.version + pending.len() as u64;
        let folded = logic
            .evolve(&current.state, &pending)
            .map(|state| (CachedState { state, version }, pending));
        (current, folded)
    })
    .await
}

/// A stream decider's events go to the command's stream: naming another is a fault.
fn check_streams(module: &str, stream: &str, events: &[NewEvent]) -> Result<()> {
    let elsewhere = events.iter().enumerate().find_map(|(index, event)| {
        event
            .stream_id
            .as_deref()
            .filter(|named| *named != stream)
            .map(|named| (index, named))
    });
    match elsewhere {
        None => Ok(()),
        Some((index, named)) => Err(Error::Guest {
            module: module.to_owned(),
            function: "decide",
            fault: GuestFault::Malformed(format!(
                "event {index} names stream '{named}', but a stream decider's events go to the command's stream '{stream}' (leave stream-id out)"
            )),
        }),
    }
}

/// The events decided for the `prepared` command as `evolve` sees them before the
/// append: ids assigned, the command's metadata merged into theirs, at the stream
/// positions after `version`, with global position 0 and recorded-at empty (the store
/// assigns those when it appends).
fn pending(prepared: &Prepared, version: u64, events: Vec<NewEvent>) -> Vec<RecordedEvent> {
    (0u64..)
        .zip(events)
        .map(|(index, event)| RecordedEvent {
            global_position: 0,
            partition: prepared.partition.clone(),
            stream: prepared.stream.clone(),
            stream_position: version + 1 + index,
            id: prepared.event_id(&prepared.stream, index),
            event_type: event.event_type,
            metadata: prepared.metadata.event_metadata(event.metadata.as_deref()),
            data: event.data,
            recorded_at: String::new(),
            tags: event.tags,
        })
        .collect()
}

/// A decider's answer that no events follow, as the error the caller gets.
fn refused(module: &str, refusal: DecideError) -> Error {
    match refusal {
        DecideError::Rejected(message) => Error::Rejected {
            module: module.to_owned(),
            message,
        },
        DecideError::InvalidCommand(message) => Error::InvalidCommand {
            module: module.to_owned(),
            message,
        },
    }
}

/// A pending event as the append takes it, with the id `evolve` saw.
fn event_data(event: RecordedEvent) -> EventData {
    EventData::new(event.event_type, event.data)
        .with_id(event.id)
        .with_metadata(event.metadata)
        .with_tags(event.tags)
}

/// The store's refusal of decided events as what it is: the guest's output broke a
/// rule of the store (a size, a limit), so the fault is the decider's, not the
/// client's. Any other error stays as it is.
fn blame_guest(module: &str, refused: Error) -> Error {
    let fault = match refused {
        Error::AppendTooLarge {
            measure,
            limit,
            value,
        } => GuestFault::OutputTooLarge {
            measure,
            limit,
            value: Some(value),
        },
        Error::InvalidAppend { reason, .. } => GuestFault::Malformed(reason),
        other => return other,
    };
    Error::Guest {
        module: module.to_owned(),
        function: "decide",
        fault,
    }
}

/// Refuse a command the decider must not see: its text not JSON (a lone surrogate
/// included), or its stream or partition not a name the store takes.
fn check_command(module: &str, partition: &str, stream: &str, command: &str) -> Result<()> {
    use crate::store::validate::{Name, check_name};
    let refuse = |reason: String, field: Option<String>| Error::MalformedCommand {
        module: module.to_owned(),
        stream: stream.to_owned(),
        reason,
        field,
    };
    check_name(Name::Partition, partition).map_err(|reason| refuse(reason, None))?;
    check_name(Name::Stream, stream).map_err(|reason| refuse(reason, None))?;
    crate::json::check_json(command).map_err(|not_json| {
        refuse(
            format!("the command is not valid JSON: {not_json}"),
            Some(not_json.pointer),
        )
    })
}
