//! A projection whose `event-types` traps, so the host can never know what to pass it.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/projection-module",
});

use exports::refold::domain::projection::{Event, Guest, Query};

struct BrokenEventTypes;

impl Guest for BrokenEventTypes {
    fn event_types() -> Vec<String> {
        panic!("the broken-event-types guest declares no event types, on purpose")
    }

    fn event_query() -> Option<Query> {
        None
    }

    fn apply(_events: Vec<Event>) -> Result<(), String> {
        Ok(())
    }
}

export!(BrokenEventTypes);
