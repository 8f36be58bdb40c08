//! A decider whose `evolve` cannot fold some of the events its own `decide` returns.
//!
//! `decide` returns one event of the command's `type` (none for `Nothing`, and for
//! `Echo` an `Echoed` event whose data is the state). `evolve` fails on `Unfoldable`
//! events (an error it reports), traps on `Trap` events, and grows its memory without
//! bound on `Bloat` events; every other event is folded into the state: the number of
//! events folded and what `evolve` saw of the last one.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};
use serde_json::{Value, json};

struct Unfoldable;

impl Guest for Unfoldable {
    fn initial_state() -> Vec<u8> {
        json!({ "folded": 0, "last": null })
            .to_string()
            .into_bytes()
    }

    fn evolve(state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
        let mut state: Value = serde_json::from_slice(&state).map_err(|e| e.to_string())?;
        for event in events {
            match event.event_type.as_str() {
                "Unfoldable" => {
                    return Err(format!(
                        "cannot fold event {} of stream {}",
                        event.stream_position, event.stream_id
                    ));
                }
                "Trap" => panic!("the unfoldable guest traps on purpose"),
                "Bloat" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                _ => {
                    state["folded"] = json!(state["folded"].as_u64().unwrap_or(0) + 1);
                    state["last"] = json!({
                        "type": event.event_type,
                        "streamId": event.stream_id,
                        "streamPosition": event.stream_position,
                        "globalPosition": event.global_position,
                        "eventId": event.event_id,
                        "recordedAt": event.recorded_at,
                        "partition": event.partition,
                    });
                }
            }
        }
        Ok(state.to_string().into_bytes())
    }

    fn decide(
        _context: DeciderContext,
        state: Vec<u8>,
        command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        let command: Value = serde_json::from_str(&command)
            .map_err(|e| DecideError::InvalidCommand(e.to_string()))?;
        let event = |event_type: &str, data: String| NewEvent {
            event_type: event_type.to_owned(),
            data,
            metadata: None,
            stream_id: None,
            tags: Vec::new(),
        };
        match command["type"].as_str().unwrap_or_default() {
            "Nothing" => Ok(Vec::new()),
            "Echo" => Ok(vec![event(
                "Echoed",
                String::from_utf8(state).map_err(|e| DecideError::Rejected(e.to_string()))?,
            )]),
            "" => Err(DecideError::InvalidCommand(
                "the command has no type".to_owned(),
            )),
            other => Ok(vec![event(other, "{}".to_owned())]),
        }
    }
}

export!(Unfoldable);
