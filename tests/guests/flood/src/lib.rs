//! A decider that returns as many, and as large, events as the command asks for.
//!
//! `{"type": "Flood", "count": N, "bytes": B}` returns `N` `Flooded` events whose data
//! is a JSON object of about `B` bytes each; any other command one small `Done` event.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};

struct Flood;

impl Guest for Flood {
    fn initial_state() -> Vec<u8> {
        Vec::new()
    }

    fn evolve(state: Vec<u8>, _events: Vec<Event>) -> Result<Vec<u8>, String> {
        Ok(state)
    }

    fn decide(
        _context: DeciderContext,
        _state: Vec<u8>,
        command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        let command: serde_json::Value = serde_json::from_str(&command)
            .map_err(|e| DecideError::InvalidCommand(e.to_string()))?;
        if command["type"] != "Flood" {
            return Ok(vec![NewEvent {
                event_type: "Done".to_owned(),
                data: "{}".to_owned(),
                metadata: None,
                stream_id: None,
                tags: Vec::new(),
            }]);
        }
        let count = command["count"].as_u64().unwrap_or(1) as usize;
        let bytes = command["bytes"].as_u64().unwrap_or(0) as usize;
        let data = format!(r#"{{"pad":"{}"}}"#, "x".repeat(bytes.saturating_sub(10)));
        Ok((0..count)
            .map(|_| NewEvent {
                event_type: "Flooded".to_owned(),
                data: data.clone(),
                metadata: None,
                stream_id: None,
                tags: Vec::new(),
            })
            .collect())
    }
}

export!(Flood);
