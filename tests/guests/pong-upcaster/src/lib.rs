//! The second upcaster of a chain: it reads `Pong` (what `faulty-upcaster` makes of a
//! `Ping`) and makes `Done`, or, when the data says `{"back": true}`, `Ping` again,
//! closing a cycle.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/upcaster-module",
});

use exports::refold::domain::upcaster::{Event, Guest, UpcastEvent};

struct PongUpcaster;

impl Guest for PongUpcaster {
    fn event_types() -> Vec<String> {
        vec!["Pong".to_owned()]
    }

    fn upcast(events: Vec<Event>) -> Result<Vec<Vec<UpcastEvent>>, String> {
        Ok(events
            .into_iter()
            .map(|event| {
                let back = event.data.replace(' ', "").contains("\"back\":true");
                vec![UpcastEvent {
                    event_type: if back { "Ping" } else { "Done" }.to_owned(),
                    data: event.data,
                    metadata: None,
                }]
            })
            .collect())
    }
}

export!(PongUpcaster);
