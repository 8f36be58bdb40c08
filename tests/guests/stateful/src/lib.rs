//! A decider that keeps hidden global state, so tests can prove the harness's
//! determinism check catches it.
//!
//! `evolve` counts its calls in a `static` and mixes the count into the state it
//! returns: folding the same events on a fresh instance and on a warm one gives
//! different states. `decide` answers every command with one `Noted` event.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, Event, Guest, NewEvent};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times `evolve` ran in this instance: the hidden global state.
static FOLDS: AtomicU64 = AtomicU64::new(0);

struct Stateful;

impl Guest for Stateful {
    fn initial_state() -> Vec<u8> {
        b"{}".to_vec()
    }

    fn evolve(_state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
        let folds = FOLDS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(format!(r#"{{"events":{},"folds":{folds}}}"#, events.len()).into_bytes())
    }

    fn decide(_state: Vec<u8>, _command: String) -> Result<Vec<NewEvent>, DecideError> {
        Ok(vec![NewEvent {
            event_type: "Noted".to_owned(),
            data: "{}".to_owned(),
            metadata: None,
        }])
    }
}

export!(Stateful);
