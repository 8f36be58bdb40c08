//! Storage: everything the engine keeps, behind backend-neutral traits.
//!
//! The engine persists four kinds of things, each behind its own trait so a backend
//! implements them over one database and the engine above never names the backend:
//!
//! - [`EventStore`]: the events, streams and snapshots, and a watch of the log head.
//!   Appends are guarded by an [`ExpectedVersion`], and may carry a condition on the
//!   whole log ([`AppendCondition`]): events carry tags, and a [`Query`] of types and
//!   tags picks events across streams (the Dynamic Consistency Boundary). The records
//!   of commands sent with an id ([`CommandRecord`]) live beside the events they
//!   appended.
//! - [`ProjectionStore`]: the projection catalog (generations, checkpoints, faults,
//!   skipped events) and the read-model documents; a batch's document changes commit
//!   with its checkpoint in one transaction.
//! - [`ModuleStore`]: deployed modules (their bytes once per content hash, every
//!   deploy) and the snapshot projections to run.
//! - [`LeaseStore`]: leases with fencing tokens, so one runner at a time does a job
//!   across processes.
//!
//! [`Storage`] holds one implementation of each. The SQLite backend, [`sqlite`],
//! implements all four on one file, with one writer thread for every write; the
//! PostgreSQL backend, [`postgres`], on one schema of a database that several nodes
//! share.
//!
//! The traits are async. Implementations never run guest code; callers never hold a
//! lock across an await.

mod commands;
mod counters;
pub mod postgres;
mod query;
mod records;
mod rules;
pub mod sqlite;
mod tagged;
mod types;
mod url;
pub(crate) mod validate;

pub use commands::{CommandRecord, CommandWrite, Decision, NewCommand, RecordedOutcome};
pub use counters::StoreHistograms;
pub use query::{
    AppendCondition, MAX_QUERY_ITEMS, MAX_QUERY_TYPES, MAX_TAG_BYTES, MAX_TAGS, Query, QueryItem,
};
pub use records::{
    BuiltBy, Committed, DEFAULT_PAGE_BYTES, Definition, Document, DocumentBatch, DocumentChange,
    DocumentKey, FailurePolicy, Fence, FieldFilter, Generation, Lease, ListQuery, ModuleRecord,
    NewModule, Page, SkippedEvent, SnapshotProjection,
};
pub use types::{
    AppendLimits, AppendOutcome, AppendRequest, Appends, DEFAULT_PARTITION, Direction, EventData,
    ExpectedVersion, ImportOutcome, LogFilter, MAX_NAME_BYTES, Measure, RecordedEvent, Snapshot,
    StoreMetrics, category,
};
pub use url::StoreUrl;

use crate::Result;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The events: append under an expected version, read a stream or the global log,
/// keep snapshots, and wake subscribers when the log grows.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Append events to one stream, all or nothing, if its version matches `expected`.
    /// One transaction; the outcome carries the events as recorded.
    ///
    /// Re-sending an append whose event ids are all already stored, in the same
    /// stream and order, returns the original outcome and writes nothing.
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome>;

    /// Append to several streams at once, each under its own expected version, all or
    /// nothing, in one transaction; the outcomes are in the order of `appends.appends`.
    /// When one does not go through, none does, and the error names that one (a
    /// conflict names its stream and actual version). A stream may appear more than
    /// once: each request sees the ones before it.
    ///
    /// With a [`condition`](Appends::condition), nothing is written if an event
    /// matching its query is stored after its position (in its partition, if it names
    /// one): [`Error::AppendConditionFailed`](crate::Error::AppendConditionFailed)
    /// with the first such event. The check is made in the same transaction, before
    /// the events are written and after every append committed before it, so of two
    /// conditional appends that would each break the other's condition only the first
    /// commits.
    ///
    /// Re-sending appends whose event ids are all stored already, each in the same
    /// stream and order, returns the original outcomes and writes nothing (whatever
    /// the condition says now).
    async fn append_all(&self, appends: Appends) -> Result<Vec<AppendOutcome>>;

    /// Write events exactly as given, every field (global position, partition, stream,
    /// stream position, id, type, data, metadata, recorded-at): a copy of another
    /// store's log, e.g. from `refold export`. One transaction for the call, all or
    /// nothing; the outcome says how many events were written and skipped, and the head
    /// after (an empty call writes nothing and gives the head).
    ///
    /// `events` are in global order. An event whose id is stored already at the same
    /// global position, in the same stream at the same stream position, is skipped, so
    /// an import cut short (a crash, a refusal of a later call) is resumed by importing
    /// the same events again. Every other event must continue the log: its global
    /// position is the head + 1 (the events before it in the call included) and its
    /// stream position its stream's version + 1. Refused, with nothing written:
    /// an event that is not a valid event (the checks of an append: a partition, a
    /// stream and a type that are not empty, data and metadata JSON objects, the size
    /// limit; also positions from 1, global positions increasing within the call, an
    /// RFC 3339 recorded-at) with [`Error::InvalidImport`](crate::Error::InvalidImport);
    /// a global position that does not follow the head, or that holds another event,
    /// with [`Error::ImportOutOfOrder`](crate::Error::ImportOutOfOrder); a stream
    /// position that does not follow its stream's version with
    /// [`Error::ImportStreamOutOfOrder`](crate::Error::ImportStreamOutOfOrder); an id
    /// stored as another event with [`Error::ImportIdTaken`](crate::Error::ImportIdTaken).
    ///
    /// Written events count as appended events in [`metrics`](Self::metrics), and the
    /// head watch learns the new head as after an append. Each imported event is
    /// recorded as an append of its own: a later resend of an original append of one
    /// event is still recognised as a retry, one of several events is refused as a
    /// reused id.
    async fn import(&self, events: Vec<RecordedEvent>) -> Result<ImportOutcome>;

    /// Events of one stream, starting at stream position `from` (inclusive; for
    /// [`Direction::Backward`], `u64::MAX` means "from the end"), at most `limit`.
    /// One read, so one consistent moment of the stream.
    async fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Events of the global log with a global position greater than `after`, in order,
    /// that pass `filter`, at most `limit`. One read. With a
    /// [`query`](LogFilter::query), this is the read by query of the DCB
    /// specification; a query that breaks its rules (no items, an empty type, a tag
    /// that no event could carry) is refused with
    /// [`Error::InvalidEventQuery`](crate::Error::InvalidEventQuery).
    async fn read_log(
        &self,
        after: u64,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// The stream's version (position of its last event), or `None` if it has none.
    async fn stream_version(&self, partition: &str, stream: &str) -> Result<Option<u64>>;

    /// The global position of the last committed event, read from the database now
    /// (not the cached watch), so commits by other processes and nodes count.
    async fn read_head(&self) -> Result<u64>;

    /// The global position of the last event in the log (0 when empty).
    fn head(&self) -> u64;

    /// A receiver of the log head, updated after every commit; await `changed()` to
    /// learn of new events without polling.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Store a snapshot, replacing an older one of the same stream and module (never a
    /// newer one). One transaction.
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()>;

    /// The newest snapshot of a stream made by `module` (a module content hash).
    async fn load_snapshot(
        &self,
        partition: &str,
        stream: &str,
        module: &str,
    ) -> Result<Option<Snapshot>>;

    /// Keep what a command sent with an id did, appending its events (if any) in the
    /// same transaction, all or nothing: unless a record of that id in that partition
    /// is stored already, in which case nothing is written and the stored record is
    /// the answer ([`CommandWrite::Found`]). Records are never removed.
    ///
    /// The append is checked as [`append_all`](Self::append_all) checks one, its
    /// condition included: a version conflict, a failed condition or a refusal writes
    /// no record either. Appends whose event ids are all stored already (an exact
    /// resend) write no events, and the record names the events stored.
    async fn record_command(&self, command: NewCommand) -> Result<CommandWrite>;

    /// The record of the command `command_id` in `partition`, if one is stored. One read.
    async fn command(&self, partition: &str, command_id: &str) -> Result<Option<CommandRecord>>;

    /// Counters of the work done so far.
    fn metrics(&self) -> StoreMetrics;

    /// Histograms of the work done so far (appends' latency, group commits' sizes),
    /// if the store keeps them.
    fn histograms(&self) -> Option<&StoreHistograms> {
        None
    }
}

/// The projection catalog and the read-model documents.
///
/// A projection has one generation that queries read (the active one) and at most one
/// being built beside it; generation numbers are never reused. Every method that
/// changes something is one transaction.
#[async_trait]
pub trait ProjectionStore: Send + Sync {
    /// The stored definition of the projection `name`, if any.
    async fn definition(&self, name: &str) -> Result<Option<Definition>>;

    /// Store a new projection whose first generation `built_by` builds from position 0.
    async fn create(
        &self,
        name: &str,
        built_by: &BuiltBy,
        policy: FailurePolicy,
    ) -> Result<Generation>;

    /// Start a new generation of `name` from position 0, built by `built_by`, dropping
    /// any other generation being built.
    async fn add_generation(&self, name: &str, built_by: &BuiltBy) -> Result<Generation>;

    /// Let `built_by` go on building `generation` from its checkpoint: record it as
    /// the logic building it and clear its fault.
    async fn resume(&self, name: &str, generation: u64, built_by: &BuiltBy) -> Result<()>;

    /// Record the projection's failure policy.
    async fn set_policy(&self, name: &str, policy: FailurePolicy) -> Result<()>;

    /// Drop the generation of `name` being built, if any, with its documents.
    async fn drop_rebuild(&self, name: &str) -> Result<()>;

    /// Record that `generation` stopped at the event at `position` because of `error`.
    async fn record_fault(
        &self,
        name: &str,
        generation: u64,
        position: u64,
        error: &str,
    ) -> Result<()>;

    /// Store a batch: its document changes, its checkpoint and its skipped event, in
    /// one transaction, unless its generation is gone or its fence is stale. When the
    /// batch is a rebuild that caught up with the head and with the active generation,
    /// the same transaction makes it the active one and drops the old one.
    async fn commit(&self, batch: DocumentBatch) -> Result<Committed>;

    /// A committed document of one generation (not necessarily the active one): what a
    /// runner reads beneath the changes of the batch it is applying.
    async fn document(
        &self,
        name: &str,
        generation: u64,
        key: &DocumentKey,
    ) -> Result<Option<String>>;

    /// The document `id` of `collection` in `partition`, from the active generation.
    async fn get(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>>;

    /// A page of the documents of `collection` in `partition`, in id order, from the
    /// active generation, in one read (never a mix of two generations).
    async fn list(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        query: &ListQuery,
    ) -> Result<Page>;

    /// How many documents `collection` in `partition` holds in the active generation.
    async fn count(&self, name: &str, partition: &str, collection: &str) -> Result<u64>;

    /// The events the active generation of `name` skipped under the `skip` policy, in
    /// log order after the global position `after`, at most `limit`, with the error
    /// of each. One read.
    async fn skipped(&self, name: &str, after: u64, limit: usize) -> Result<Vec<SkippedEvent>>;
}

/// Deployed modules and the snapshot projections to run.
#[async_trait]
pub trait ModuleStore: Send + Sync {
    /// Record a deploy of `module` as the next version of its name, storing its bytes
    /// unless a module with the same hash is stored already. One transaction, which
    /// also refuses a change of the name's world unless `module.replace_world`
    /// ([`Error::WorldChange`](crate::Error::WorldChange)); returns the record with the
    /// version it got.
    async fn record(&self, module: NewModule<'_>) -> Result<ModuleRecord>;

    /// The newest deploy of every name with its bytes, oldest deploy first.
    async fn current(&self) -> Result<Vec<(ModuleRecord, Vec<u8>)>>;

    /// Every deploy of `name`, oldest first.
    async fn history(&self, name: &str) -> Result<Vec<ModuleRecord>>;

    /// Deploy `version` of `name` with its bytes, if there is one.
    async fn version(&self, name: &str, version: u64) -> Result<Option<(ModuleRecord, Vec<u8>)>>;

    /// How many deploys were recorded so far, by any process: it only grows, so a
    /// change tells a node to reload `current()`.
    async fn deploys(&self) -> Result<u64>;

    /// Record (or update the policy of) a snapshot projection.
    async fn record_snapshot(&self, snapshot: &SnapshotProjection) -> Result<()>;

    /// Every recorded snapshot projection, by decider and category.
    async fn snapshots(&self) -> Result<Vec<SnapshotProjection>>;
}

/// Leases: exactly one holder of a named job at a time, across processes.
///
/// A lease is held until it expires; its holder renews it by acquiring it again. Each
/// time it passes to another owner its fencing token grows, and work committed under
/// a lease carries the token ([`Fence`]), so a holder that paused past its expiry
/// cannot commit after another took over.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take or renew the lease `name` for `owner` until `ttl` from now: granted when
    /// it is free, expired, or already `owner`'s. `None` while another owner holds it.
    /// One transaction.
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>>;

    /// Give up `lease` if it is still held with its token, so another owner need not
    /// wait for it to expire.
    async fn release(&self, lease: &Lease) -> Result<()>;

    /// Every lease recorded, held or expired, by name.
    async fn leases(&self) -> Result<Vec<Lease>>;
}

/// One backend's implementation of every storage trait, over one database.
#[derive(Clone)]
pub struct Storage {
    /// Events, streams and snapshots.
    pub events: Arc<dyn EventStore>,
    /// Projection catalog and read models.
    pub projections: Arc<dyn ProjectionStore>,
    /// Deployed modules.
    pub modules: Arc<dyn ModuleStore>,
    /// Leases.
    pub leases: Arc<dyn LeaseStore>,
}

impl Storage {
    /// Every trait served by one value that implements them all.
    pub fn of<S>(store: Arc<S>) -> Storage
    where
        S: EventStore + ProjectionStore + ModuleStore + LeaseStore + 'static,
    {
        Storage {
            events: store.clone(),
            projections: store.clone(),
            modules: store.clone(),
            leases: store,
        }
    }
}
