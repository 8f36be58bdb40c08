//! An upcaster that misbehaves on request, so tests can prove a read fails alone.
//!
//! It reads `Trap` (panics), `Spin` (loops forever) and `Ping` (becomes `Pong`, which
//! `examples`' upcasters never read; a second fixture deployed beside it that reads
//! `Pong` and makes `Ping` closes a cycle).
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/upcaster-module",
});

use exports::refold::domain::upcaster::{Event, Guest, UpcastEvent};

struct FaultyUpcaster;

impl Guest for FaultyUpcaster {
    fn event_types() -> Vec<String> {
        ["Trap", "Spin", "Ping"].map(str::to_owned).to_vec()
    }

    fn upcast(events: Vec<Event>) -> Result<Vec<Vec<UpcastEvent>>, String> {
        Ok(events
            .into_iter()
            .map(|event| match event.event_type.as_str() {
                "Trap" => panic!("the upcaster traps on event {}", event.global_position),
                "Spin" => loop {
                    std::hint::spin_loop();
                },
                _ => vec![UpcastEvent {
                    event_type: "Pong".to_owned(),
                    data: event.data,
                    metadata: None,
                }],
            })
            .collect())
    }
}

export!(FaultyUpcaster);
