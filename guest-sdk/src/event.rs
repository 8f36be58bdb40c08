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
}

/// An event a decider wants appended; the store assigns positions, id and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The event's type name.
    pub event_type: String,
    /// The event's data: a JSON object, as text.
    pub data: String,
    /// Optional metadata: a JSON object, as text.
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
