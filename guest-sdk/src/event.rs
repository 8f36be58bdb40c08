//! The values that cross between the engine and a guest, as plain Rust types.
//!
//! They mirror the records of the WIT package one for one, so native callers and the
//! wasm exports share one vocabulary.

/// An event as the store recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The event's type name, e.g. `CartOpened`.
    pub event_type: String,
    /// The event's data: a JSON object, as text.
    pub data: String,
    /// The event's metadata: a JSON object, as text.
    pub metadata: String,
    /// The stream the event belongs to, e.g. `cart-42`.
    pub stream_id: String,
    /// Position in its stream, starting at 1.
    pub stream_position: u64,
    /// Position in the global log, starting at 1; 0 for an event a decider folds before
    /// it is appended.
    pub global_position: u64,
    /// The event's unique id.
    pub event_id: String,
    /// When the store recorded it (RFC 3339, UTC); empty for an event a decider folds
    /// before it is appended.
    pub recorded_at: String,
    /// The partition (tenant) the stream belongs to.
    pub partition: String,
    /// The event's tags, e.g. `course:c1`.
    pub tags: Vec<String>,
}

/// An event a decider wants appended; the store assigns positions, id and time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEvent {
    /// The event's type name.
    pub event_type: String,
    /// The event's data: a JSON object, as text.
    pub data: String,
    /// Optional metadata: a JSON object, as text.
    pub metadata: Option<String>,
    /// The stream to append it to; none: the command's stream.
    pub stream_id: Option<String>,
    /// Tags for query reads and append conditions.
    pub tags: Vec<String>,
}

/// What the engine knows about the command being decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The stream the command is for; none for a query decider.
    pub stream_id: Option<String>,
    /// The partition (tenant) of the stream.
    pub partition: String,
    /// The stream's version the state was folded to (0: no events yet).
    pub version: u64,
    /// The command's metadata: a JSON object, as text. The caller's keys, and the
    /// engine's under `refold` (`commandId`, `correlationId`, `causationId`).
    pub metadata: String,
}

impl Default for Context {
    /// No stream, the `default` partition, version 0, no metadata: the context of a
    /// decision tried outside the engine.
    fn default() -> Self {
        Context {
            stream_id: None,
            partition: "default".to_owned(),
            version: 0,
            metadata: "{}".to_owned(),
        }
    }
}

impl Context {
    /// The value of the metadata key `key` (a top-level key of [`metadata`](Self::metadata)),
    /// if the metadata has it.
    pub fn metadata_value(&self, key: &str) -> Option<serde_json::Value> {
        let mut metadata: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.metadata).ok()?;
        metadata.remove(key)
    }
}

/// A stored event in its current shape, as an upcaster makes it. It keeps the stored
/// event's id, stream, positions, time and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcastEvent {
    /// The current type name.
    pub event_type: String,
    /// The current data: a JSON object, as text.
    pub data: String,
    /// The current metadata (a JSON object, as text); none keeps the stored one.
    pub metadata: Option<String>,
}

/// Why `decide` produced no events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// A business rule refused the command.
    Rejected(String),
    /// The command could not be understood (bad JSON, unknown command type).
    InvalidCommand(String),
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecideError::Rejected(reason) => write!(f, "rejected: {reason}"),
            DecideError::InvalidCommand(reason) => write!(f, "invalid command: {reason}"),
        }
    }
}

impl std::error::Error for DecideError {}
