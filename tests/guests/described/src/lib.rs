//! A counter that describes itself: its commands and events derive `JsonSchema`, and
//! `export_decider!(…, schemas)` exports their schemas, so the engine refuses a
//! command that does not match before `decide` runs. `decide` counts nothing itself:
//! tests read the module's guest call counter.

use refold_guest::schemars::JsonSchema;
use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};

/// The counter's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    /// The sum of every amount added.
    pub value: u64,
}

/// The commands.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
#[schemars(crate = "refold_guest::schemars")]
pub enum Command {
    /// Add `amount`, with an optional note.
    Add {
        /// How much to add, 1 to 1,000.
        #[schemars(range(min = 1, max = 1000))]
        amount: u64,
        /// Why.
        note: Option<String>,
    },
    /// Set the counter back to 0.
    Reset,
}

/// The events.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
#[schemars(crate = "refold_guest::schemars")]
pub enum Event {
    /// `amount` was added.
    Added {
        /// How much.
        amount: u64,
    },
    /// The counter was set back to 0.
    WasReset {},
}

/// The decider.
pub struct Described;

impl Decider for Described {
    type State = Counter;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Counter {
        Counter::default()
    }

    fn evolve(mut state: Counter, event: Event) -> Counter {
        match event {
            Event::Added { amount } => state.value += amount,
            Event::WasReset {} => state.value = 0,
        }
        state
    }

    fn decide(command: Command, _: &Counter, _: &Context) -> Result<Vec<Event>, Rejection> {
        Ok(vec![match command {
            Command::Add { amount, .. } => Event::Added { amount },
            Command::Reset => Event::WasReset {},
        }])
    }
}

refold_guest::export_decider!(Described, schemas);
