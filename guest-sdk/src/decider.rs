//! The write-side trait a guest author implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Write-side domain logic for one kind of stream.
///
/// `Command` and `Event` are serde enums in the adjacently tagged representation
/// (`#[serde(tag = "type", content = "data")]`): the variant name is the command or
/// event type and its fields are the JSON data. `State` crosses the wasm boundary as
/// JSON bytes between calls.
pub trait Decider {
    /// What the decider remembers about a stream.
    type State: Serialize + DeserializeOwned;
    /// The commands it understands.
    type Command: DeserializeOwned;
    /// The events it produces and folds.
    type Event: Serialize + DeserializeOwned;

    /// The state of a stream with no events.
    fn initial_state() -> Self::State;

    /// Fold one event into the state. The host also folds the events `decide` just
    /// returned, before it appends them; the result must not depend on anything the
    /// store assigns at the append (the event's global position and recorded-at).
    fn evolve(state: Self::State, event: Self::Event) -> Self::State;

    /// Decide which events `command` produces given `state`, or reject it.
    fn decide(command: Self::Command, state: &Self::State) -> Result<Vec<Self::Event>, Rejection>;
}

/// A business rule's refusal of a command, with a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What rule refused the command and why, for the person who sent it.
    pub message: String,
}

impl Rejection {
    /// A rejection with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Rejection {
            message: message.into(),
        }
    }
}
