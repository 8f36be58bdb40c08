//! A decider whose `initial-state` traps, so no stream can ever be loaded with it.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};

struct BrokenInit;

impl Guest for BrokenInit {
    fn initial_state() -> Vec<u8> {
        panic!("the broken-init guest has no initial state, on purpose")
    }

    fn evolve(state: Vec<u8>, _events: Vec<Event>) -> Result<Vec<u8>, String> {
        Ok(state)
    }

    fn decide(
        _context: DeciderContext,
        _state: Vec<u8>,
        _command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        Ok(Vec::new())
    }
}

export!(BrokenInit);
