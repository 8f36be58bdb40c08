//! The event store: the part that must never lose or reorder a fact.
//!
//! [`EventStore`] is the small, backend-neutral contract the rest of the engine uses:
//! append to a stream under an [expected version](ExpectedVersion), read a stream or
//! the global log, keep snapshots, and wake subscribers when the log grows.
//! [`SqliteStore`] implements it on one SQLite file in WAL mode, with a single writer
//! thread that commits the appends waiting at each moment together (group commit).

mod reads;
pub(crate) mod schema;
mod sqlite;
mod types;
mod validate;
mod writer;

pub use sqlite::{SqliteStore, StoreConfig, Synchronous};
pub use types::{
    AppendOutcome, AppendRequest, DEFAULT_PARTITION, Direction, EventData, ExpectedVersion,
    LogFilter, RecordedEvent, Snapshot, StoreMetrics, category,
};

use crate::Result;
use tokio::sync::watch;

/// What the engine needs from an event store. Calls block; async callers wrap them in
/// `spawn_blocking`.
pub trait EventStore: Send + Sync {
    /// Append events to one stream, all or nothing, if its version matches `expected`.
    ///
    /// Re-sending an append whose event ids are all already stored, in the same
    /// stream and order, returns the original outcome and writes nothing.
    fn append(&self, request: AppendRequest) -> Result<AppendOutcome>;

    /// Events of one stream, starting at stream position `from` (inclusive; for
    /// [`Direction::Backward`], `u64::MAX` means "from the end"), at most `limit`.
    fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Events of the global log with a global position greater than `after`, in order,
    /// that pass `filter`, at most `limit`.
    fn read_log(&self, after: u64, filter: &LogFilter, limit: usize) -> Result<Vec<RecordedEvent>>;

    /// The stream's version (position of its last event), or `None` if it has none.
    fn stream_version(&self, partition: &str, stream: &str) -> Result<Option<u64>>;

    /// The global position of the last event in the log (0 when empty).
    fn head(&self) -> u64;

    /// A receiver of the log head, updated after every commit; await `changed()` to
    /// learn of new events without polling.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Store a snapshot, replacing any older one of the same stream and module.
    fn save_snapshot(&self, snapshot: Snapshot) -> Result<()>;

    /// The newest snapshot of a stream made by `module` (a module content hash).
    fn load_snapshot(
        &self,
        partition: &str,
        stream: &str,
        module: &str,
    ) -> Result<Option<Snapshot>>;

    /// Counters of the work done so far.
    fn metrics(&self) -> StoreMetrics;
}
