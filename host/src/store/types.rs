//! The values the event store takes and gives.

use super::{AppendCondition, Query};
pub use crate::version::ExpectedVersion;
use uuid::Uuid;

/// The partition streams belong to when none is named.
pub const DEFAULT_PARTITION: &str = "default";

/// The longest stream id or partition name, in bytes. Names are also printable: no
/// control characters (NUL included).
pub const MAX_NAME_BYTES: usize = 200;

/// The category of a stream: its id up to the first `-` (`cart` for `cart-42`), or the
/// whole id when it has no `-`.
pub fn category(stream: &str) -> &str {
    stream
        .split_once('-')
        .map_or(stream, |(category, _)| category)
}

/// An event to append. The store assigns its positions and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// Unique id; resending an append with the same ids is idempotent.
    pub id: Uuid,
    /// The event's type name; must not be empty.
    pub event_type: String,
    /// The event's data: a JSON object, as text.
    pub data: String,
    /// The event's metadata: a JSON object, as text.
    pub metadata: String,
    /// The event's tags (`course:c1`), which [`Query`](super::Query) items match;
    /// empty for an untagged event. At most [`MAX_TAGS`](super::MAX_TAGS), each
    /// printable, not empty, at most [`MAX_TAG_BYTES`](super::MAX_TAG_BYTES), none twice.
    pub tags: Vec<String>,
}

impl EventData {
    /// An event with a fresh id, empty metadata and no tags.
    pub fn new(event_type: impl Into<String>, data: impl Into<String>) -> Self {
        EventData {
            id: Uuid::now_v7(),
            event_type: event_type.into(),
            data: data.into(),
            metadata: "{}".to_owned(),
            tags: Vec::new(),
        }
    }

    /// The same event with the given tags.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The same event with the given id.
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    /// The same event with the given metadata (a JSON object, as text).
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// Bytes of type + data + metadata: what the append limits count (tags are bounded
    /// by their own limits).
    pub fn size(&self) -> usize {
        self.event_type.len() + self.data.len() + self.metadata.len()
    }
}

/// How much one append may carry: a bound on the writer's work per call, and on what
/// one `decide` may return (a decided result is appended as one append).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendLimits {
    /// Events in one append call, all its streams together. Default: 10,000.
    pub max_events: usize,
    /// Bytes of type + data + metadata of those events together. Default: 16 MiB.
    pub max_bytes: usize,
}

impl Default for AppendLimits {
    /// 10,000 events and 16 MiB per append: ten times the largest append of the
    /// standard workloads (W2-batch, 1,000 events), well under a guest's memory cap.
    fn default() -> Self {
        AppendLimits {
            max_events: 10_000,
            max_bytes: 16 << 20,
        }
    }
}

impl AppendLimits {
    /// The first limit that `events` events of `bytes` bytes in total go over, if any:
    /// the measure, the limit and the value.
    pub fn exceeded(&self, events: usize, bytes: usize) -> Option<(Measure, usize, usize)> {
        if events > self.max_events {
            Some((Measure::Events, self.max_events, events))
        } else if bytes > self.max_bytes {
            Some((Measure::Bytes, self.max_bytes, bytes))
        } else {
            None
        }
    }
}

/// Which measure of an append or of a guest's output went over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// A number of events.
    Events,
    /// A number of bytes.
    Bytes,
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Measure::Events => "events",
            Measure::Bytes => "bytes",
        })
    }
}

/// One append: events for one stream under one expected version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The partition (tenant) of the stream.
    pub partition: String,
    /// The stream, e.g. `cart-42`.
    pub stream: String,
    /// The guard on the stream's version.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<EventData>,
}

impl AppendRequest {
    /// An append to `stream` in the default partition.
    pub fn new(
        stream: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Self {
        AppendRequest {
            partition: DEFAULT_PARTITION.to_owned(),
            stream: stream.into(),
            expected,
            events,
        }
    }

    /// The same append in another partition.
    pub fn in_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }
}

/// The one append request: events for one or more streams, each under its expected
/// version, all or nothing, and optionally a condition on the whole log. What
/// [`EventStore::append_all`](super::EventStore::append_all) takes; a plain list of
/// stream appends converts into one without a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appends {
    /// The streams' appends, in order; at least one.
    pub appends: Vec<AppendRequest>,
    /// Refuse them all if events matching its query are stored (after its position).
    pub condition: Option<AppendCondition>,
}

impl Appends {
    /// The same appends, refused if `condition` fails.
    pub fn with_condition(mut self, condition: AppendCondition) -> Appends {
        self.condition = Some(condition);
        self
    }
}

impl From<Vec<AppendRequest>> for Appends {
    fn from(appends: Vec<AppendRequest>) -> Appends {
        Appends {
            appends,
            condition: None,
        }
    }
}

impl From<AppendRequest> for Appends {
    fn from(append: AppendRequest) -> Appends {
        Appends::from(vec![append])
    }
}

/// What a successful append did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub stream_version: u64,
    /// Global position of the first event appended.
    pub first_position: u64,
    /// Global position of the last event appended.
    pub last_position: u64,
    /// When the store recorded the append (RFC 3339, UTC, milliseconds).
    pub recorded_at: String,
    /// The events as the store recorded them, in order.
    pub events: Vec<RecordedEvent>,
}

/// An event as the store recorded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordedEvent {
    /// Position in the global log, from 1.
    pub global_position: u64,
    /// The partition of its stream.
    pub partition: String,
    /// Its stream.
    pub stream: String,
    /// Position in its stream, from 1.
    pub stream_position: u64,
    /// Its unique id.
    pub id: Uuid,
    /// Its type name.
    pub event_type: String,
    /// Its data: a JSON object, as text.
    pub data: String,
    /// Its metadata: a JSON object, as text.
    pub metadata: String,
    /// When it was recorded: RFC 3339, UTC, milliseconds.
    pub recorded_at: String,
    /// Its tags, as appended; empty when it has none.
    pub tags: Vec<String>,
}

/// What a successful import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    /// Events written.
    pub imported: u64,
    /// Events skipped because they were stored already, each at its position.
    pub skipped: u64,
    /// The global position of the last event in the log after the import.
    pub head: u64,
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending stream positions.
    Forward,
    /// Descending stream positions.
    Backward,
}

/// Which events of the global log to read. The default passes every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only events of this partition.
    pub partition: Option<String>,
    /// Only events of these types (empty: all types).
    pub event_types: Vec<String>,
    /// Only events of streams in this category (the part before the first `-`).
    pub category: Option<String>,
    /// Only events this query matches (`None`, or [`Query::all`]: every event).
    pub query: Option<Query>,
}

impl LogFilter {
    /// The events `query` matches, in every partition.
    pub fn query(query: Query) -> LogFilter {
        LogFilter {
            query: Some(query),
            ..LogFilter::default()
        }
    }

    /// The same filter, limited to the events of `partition`.
    pub fn in_partition(mut self, partition: impl Into<String>) -> LogFilter {
        self.partition = Some(partition.into());
        self
    }
}

/// A folded state of a stream, tied to the module that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The partition of the stream.
    pub partition: String,
    /// The stream.
    pub stream: String,
    /// Content hash of the module whose `evolve` made the state.
    pub module: String,
    /// The stream version the state includes.
    pub version: u64,
    /// The guest-encoded state.
    pub state: Vec<u8>,
}

/// Counters of the store's work since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreMetrics {
    /// Appends committed.
    pub appends: u64,
    /// Events committed, by appends and by imports.
    pub events_appended: u64,
    /// Transactions the writer committed (one per group).
    pub commits: u64,
    /// Appends refused for a version conflict.
    pub conflicts: u64,
    /// Events returned by reads.
    pub events_read: u64,
    /// Writes (appends, snapshots, projection batches, every other record) handed to
    /// the writer, counted once in its inbox.
    pub writes_submitted: u64,
    /// Writes the writer took from its inbox into a group, counted before the group's
    /// transaction begins. `writes_submitted - writes_grouped` is the backlog in the
    /// inbox, give or take the writes being handed over at that instant (a write can be
    /// grouped before its sender counts it as submitted).
    pub writes_grouped: u64,
}
