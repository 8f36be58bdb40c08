//! The write-side trait a guest author implements.

use crate::Context;
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
    /// `context` says which stream (and partition) the command is for, the version
    /// the state was folded to, and the command's metadata.
    fn decide(
        command: Self::Command,
        state: &Self::State,
        context: &Context,
    ) -> Result<Vec<Self::Event>, Rejection>;
}

/// Why `decide` produced no events, with a message for the caller: a business rule's
/// refusal ([`Rejection::new`]), or a command that makes no sense
/// ([`Rejection::invalid_command`], answered like a command that cannot be parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What refused the command and why, for the person who sent it.
    pub message: String,
    /// True when the command itself is invalid rather than refused by a rule.
    pub invalid_command: bool,
}

impl Rejection {
    /// A business rule refused the command: the text says which and why.
    pub fn new(message: impl Into<String>) -> Self {
        Rejection {
            message: message.into(),
            invalid_command: false,
        }
    }

    /// The command cannot be carried out as given (e.g. it names another stream's
    /// entity): the engine answers it like a command it cannot parse.
    pub fn invalid_command(message: impl Into<String>) -> Self {
        Rejection {
            message: message.into(),
            invalid_command: true,
        }
    }
}
