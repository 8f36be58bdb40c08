//! A decider whose state grows to the size a command asks for.
//!
//! `{"type": "Grow", "bytes": N}` decides a `Grown` event, which `evolve` folds into a
//! state of `N` bytes (written, so the memory is really used); `{"type": "Shrink"}`
//! decides `Shrunk`, which folds into an empty state. The state is raw bytes, so an
//! instance holds about one copy of it (two while `decide` reads it).
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};

struct BigState;

impl Guest for BigState {
    fn initial_state() -> Vec<u8> {
        Vec::new()
    }

    fn evolve(mut state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
        for event in events {
            let data: serde_json::Value =
                serde_json::from_str(&event.data).map_err(|e| e.to_string())?;
            match event.event_type.as_str() {
                "Grown" => {
                    let bytes = data["bytes"].as_u64().unwrap_or(0) as usize;
                    state = vec![0x5a; bytes];
                }
                "Shrunk" => state = Vec::new(),
                other => return Err(format!("unknown event type {other}")),
            }
        }
        Ok(state)
    }

    fn decide(
        _context: DeciderContext,
        state: Vec<u8>,
        command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        let command: serde_json::Value = serde_json::from_str(&command)
            .map_err(|e| DecideError::InvalidCommand(e.to_string()))?;
        let event = |event_type: &str, data: String| NewEvent {
            event_type: event_type.to_owned(),
            data,
            metadata: None,
            stream_id: None,
            tags: Vec::new(),
        };
        match command["type"].as_str().unwrap_or_default() {
            "Grow" => {
                let bytes = command["bytes"].as_u64().unwrap_or(0);
                Ok(vec![event(
                    "Grown",
                    format!(r#"{{"bytes":{bytes},"had":{}}}"#, state.len()),
                )])
            }
            "Shrink" => Ok(vec![event(
                "Shrunk",
                format!(r#"{{"had":{}}}"#, state.len()),
            )]),
            other => Err(DecideError::InvalidCommand(format!(
                "unknown command {other:?}"
            ))),
        }
    }
}

export!(BigState);
