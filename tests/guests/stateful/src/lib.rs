//! A decider that keeps hidden global state, so tests can prove the harness's
//! determinism check catches it.
//!
//! `evolve` counts its calls in a `static` and mixes the count into the state it
//! returns: folding the same events on a fresh instance and on a warm one gives
//! different states. `decide` answers `Count` with a `Counted` event carrying how many
//! times it ran in this instance (hidden global state again), and every other command
//! with one `Noted` event.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times `evolve` ran in this instance: the hidden global state.
static FOLDS: AtomicU64 = AtomicU64::new(0);
/// How many times `decide` ran in this instance.
static DECISIONS: AtomicU64 = AtomicU64::new(0);

struct Stateful;

impl Guest for Stateful {
    fn initial_state() -> Vec<u8> {
        b"{}".to_vec()
    }

    fn evolve(_state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
        let folds = FOLDS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(format!(r#"{{"events":{},"folds":{folds}}}"#, events.len()).into_bytes())
    }

    fn decide(
        _context: DeciderContext,
        _state: Vec<u8>,
        command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        let decisions = DECISIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let event = if command.contains(r#""Count""#) {
            NewEvent {
                event_type: "Counted".to_owned(),
                data: format!(r#"{{"decisions":{decisions}}}"#),
                metadata: None,
                stream_id: None,
                tags: Vec::new(),
            }
        } else {
            NewEvent {
                event_type: "Noted".to_owned(),
                data: "{}".to_owned(),
                metadata: None,
                stream_id: None,
                tags: Vec::new(),
            }
        };
        Ok(vec![event])
    }
}

export!(Stateful);
