//! {{name}}: a decider. A counter that never passes 100.

use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};

/// The most the counter may reach.
pub const LIMIT: i64 = 100;

/// What the decider knows about one stream.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    /// The sum of every amount added.
    pub value: i64,
}

/// The commands, as JSON `{"type": "Add", "data": {"amount": 5}}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Command {
    /// Add `amount` to the counter.
    Add {
        /// How much to add.
        amount: i64,
    },
}

/// The events, as JSON `{"type": "Added", "data": {"amount": 5}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// `amount` was added.
    Added {
        /// How much was added.
        amount: i64,
    },
}

/// The decider.
pub struct CounterDecider;

impl Decider for CounterDecider {
    type State = Counter;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Counter {
        Counter::default()
    }

    fn evolve(mut state: Counter, event: Event) -> Counter {
        match event {
            Event::Added { amount } => state.value += amount,
        }
        state
    }

    fn decide(
        command: Command,
        state: &Counter,
        _context: &Context,
    ) -> Result<Vec<Event>, Rejection> {
        match command {
            Command::Add { amount } if state.value + amount > LIMIT => Err(Rejection::new(
                format!("the counter would pass {LIMIT} (it is {})", state.value),
            )),
            Command::Add { amount } => Ok(vec![Event::Added { amount }]),
        }
    }
}

refold_guest::export_decider!(CounterDecider);
