//! Command handling: the write side, end to end.
//!
//! [`CommandHandler::handle`] takes a command for a stream, loads the stream's state
//! (from a state cache bounded by bytes, else the newest snapshot of the same decider
//! version plus the events after it), asks the decider's `decide`, and appends the
//! events it returns with the version it decided on as the expected version. When
//! another writer got there first the append conflicts: the handler catches the
//! state up from the store and decides again, up to
//! [`CommandConfig::max_attempts`] times. A decision is never applied to a state
//! other than the one it was made on.
//!
//! The decider is looked up once per command, so a deploy in the middle of a command
//! lets it finish on the version it started on; the next command uses the new one,
//! with its own cached states and snapshots (they are keyed by the version's hash).

mod cache;
mod logic;

pub use logic::{DeciderLogic, NativeDecider};

use crate::runtime::{DecideError, Runtime};
use crate::store::{
    AppendRequest, Direction, EventData, EventStore, ExpectedVersion, RecordedEvent, Snapshot,
};
use crate::{Error, Result};
use cache::{CachedState, StateCache, StreamKey};
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
        }
    }

    /// Handle `command` (JSON text) for `stream` with the decider deployed as `decider`.
    pub fn handle(
        &self,
        decider: &str,
        partition: &str,
        stream: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let module = self.runtime.module(decider)?;
        self.handle_with(module.as_ref(), partition, stream, command)
    }

    /// Handle `command` for `stream` with the given decider logic.
    pub fn handle_with(
        &self,
        logic: &dyn DeciderLogic,
        partition: &str,
        stream: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let key = StreamKey::new(logic, partition, stream);
        let mut current = self.cached_or_loaded(logic, &key, false)?;
        for attempt in 1..=self.config.max_attempts {
            let events = match logic.decide(&current.state, command)? {
                Ok(events) => events,
                Err(refusal) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    self.cache.put(key, current);
                    return Err(match refusal {
                        DecideError::Rejected(message) => Error::Rejected {
                            module: logic.name().to_owned(),
                            message,
                        },
                        DecideError::InvalidCommand(message) => Error::InvalidCommand {
                            module: logic.name().to_owned(),
                            message,
                        },
                    });
                }
            };
            let outcome = |events, stream_version, position| CommandOutcome {
                events,
                stream_version,
                position,
                module: logic.name().to_owned(),
                module_version: logic.version(),
                attempts: attempt,
            };
            if events.is_empty() {
                self.handled.fetch_add(1, Ordering::Relaxed);
                let version = current.version;
                self.cache.put(key, current);
                return Ok(outcome(Vec::new(), version, None));
            }
            let request = AppendRequest {
                partition: partition.to_owned(),
                stream: stream.to_owned(),
                expected: ExpectedVersion::Exact(current.version),
                events: events
                    .into_iter()
                    .map(|e| {
                        let event = EventData::new(e.event_type, e.data);
                        match e.metadata {
                            Some(metadata) => event.with_metadata(metadata),
                            None => event,
                        }
                    })
                    .collect(),
            };
            match self.store.append(request.clone()) {
                Ok(appended) => {
                    self.handled.fetch_add(1, Ordering::Relaxed);
                    let recorded = recorded_events(&request, current.version, &appended);
                    self.remember(logic, key, current, &recorded)?;
                    return Ok(outcome(
                        recorded,
                        appended.stream_version,
                        Some(appended.last_position),
                    ));
                }
                Err(Error::Conflict { .. }) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    current = self.catch_up(logic, &key, current)?;
                }
                Err(other) => return Err(other),
            }
        }
        self.cache.remove(&key);
        Err(Error::TooManyConflicts {
            partition: partition.to_owned(),
            stream: stream.to_owned(),
            attempts: self.config.max_attempts,
        })
    }

    /// The current state of `stream` as `logic` folds it, and the version it includes:
    /// from the cache if held there, else from the newest snapshot and the events after it.
    pub fn load(
        &self,
        logic: &dyn DeciderLogic,
        partition: &str,
        stream: &str,
    ) -> Result<(Vec<u8>, u64)> {
        let key = StreamKey::new(logic, partition, stream);
        let loaded = self.cached_or_loaded(logic, &key, true)?;
        self.cache.put(key, loaded.clone());
        Ok((loaded.state, loaded.version))
    }

    /// Fold `stream` from its newest snapshot (or from the start), ignoring the cache,
    /// and save a snapshot of the result. Returns the state and version.
    pub fn snapshot(
        &self,
        logic: &dyn DeciderLogic,
        partition: &str,
        stream: &str,
    ) -> Result<(Vec<u8>, u64)> {
        let key = StreamKey::new(logic, partition, stream);
        let loaded = self.rehydrate(logic, &key)?;
        self.save_snapshot(&key, &loaded)?;
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
        }
    }

    /// Bytes of stream states cached now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// The state of `key` from the cache, else from the newest snapshot and the events
    /// after it. A cached state is caught up with the store only when `current` is
    /// asked: the command loop skips that, because its append's expected version
    /// catches a cached state that fell behind.
    fn cached_or_loaded(
        &self,
        logic: &dyn DeciderLogic,
        key: &StreamKey,
        current: bool,
    ) -> Result<CachedState> {
        match self.cache.get(key) {
            Some(cached) => {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                if current {
                    self.catch_up(logic, key, cached)
                } else {
                    Ok(cached)
                }
            }
            None => self.rehydrate(logic, key),
        }
    }

    /// State from the newest snapshot of this logic plus the events after it.
    fn rehydrate(&self, logic: &dyn DeciderLogic, key: &StreamKey) -> Result<CachedState> {
        let start = match self
            .store
            .load_snapshot(&key.partition, &key.stream, &key.identity)?
        {
            Some(snapshot) => CachedState {
                state: snapshot.state,
                version: snapshot.version,
            },
            None => CachedState {
                state: logic.initial_state()?,
                version: 0,
            },
        };
        let snapshot_version = start.version;
        let loaded = self.catch_up(logic, key, start)?;
        if self.crossed_snapshot_mark(snapshot_version, loaded.version) {
            self.save_snapshot(key, &loaded)?;
        }
        Ok(loaded)
    }

    /// Fold the events after `from.version` into `from.state`, batch by batch.
    fn catch_up(
        &self,
        logic: &dyn DeciderLogic,
        key: &StreamKey,
        from: CachedState,
    ) -> Result<CachedState> {
        let CachedState {
            mut state,
            mut version,
        } = from;
        let batch = self.config.evolve_batch.max(1);
        loop {
            let events = self.store.read_stream(
                &key.partition,
                &key.stream,
                version + 1,
                Direction::Forward,
                batch,
            )?;
            let Some(last) = events.last() else { break };
            version = last.stream_position;
            state = logic.evolve(&state, &events)?;
            self.events_folded
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            if events.len() < batch {
                break;
            }
        }
        Ok(CachedState { state, version })
    }

    /// Fold the events just appended into the state they were decided on, cache it,
    /// and snapshot it if it crossed a snapshot mark.
    fn remember(
        &self,
        logic: &dyn DeciderLogic,
        key: StreamKey,
        decided_on: CachedState,
        appended: &[RecordedEvent],
    ) -> Result<()> {
        let previous = decided_on.version;
        let state = CachedState {
            state: logic.evolve(&decided_on.state, appended)?,
            version: previous + appended.len() as u64,
        };
        if self.crossed_snapshot_mark(previous, state.version) {
            self.save_snapshot(&key, &state)?;
        }
        self.cache.put(key, state);
        Ok(())
    }

    fn crossed_snapshot_mark(&self, from: u64, to: u64) -> bool {
        match self.config.snapshot_every {
            Some(every) if every > 0 => to / every > from / every,
            _ => false,
        }
    }

    fn save_snapshot(&self, key: &StreamKey, state: &CachedState) -> Result<()> {
        self.store.save_snapshot(Snapshot {
            partition: key.partition.clone(),
            stream: key.stream.clone(),
            module: key.identity.clone(),
            version: state.version,
            state: state.state.clone(),
        })?;
        self.snapshots_saved.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The events of a committed append as the store recorded them.
fn recorded_events(
    request: &AppendRequest,
    previous_version: u64,
    appended: &crate::store::AppendOutcome,
) -> Vec<RecordedEvent> {
    request
        .events
        .iter()
        .zip(0u64..)
        .map(|(event, offset)| RecordedEvent {
            global_position: appended.first_position + offset,
            partition: request.partition.clone(),
            stream: request.stream.clone(),
            stream_position: previous_version + 1 + offset,
            id: event.id,
            event_type: event.event_type.clone(),
            data: event.data.clone(),
            metadata: event.metadata.clone(),
            recorded_at: appended.recorded_at.clone(),
        })
        .collect()
}
