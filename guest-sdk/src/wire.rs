//! Exactly what an exported component runs, callable natively.
//!
//! The export macros route every WIT call through these functions, so calling them
//! from native Rust exercises the same decoding, logic and encoding as the wasm
//! component, minus the boundary. Benchmarks use them as the native baseline; unit
//! tests use them to test logic without building a component.

use crate::{DecideError, Decider, Documents, Event, NewEvent, Projection, ReadModel};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The encoded state of a stream with no events.
pub fn initial_state<D: Decider>() -> Vec<u8> {
    encode_state(&D::initial_state())
}

/// Decode `state`, fold `events` into it in order, and encode the result.
pub fn evolve<D: Decider>(state: &[u8], events: &[Event]) -> Result<Vec<u8>, String> {
    let mut state = decode_state::<D>(state)?;
    for event in events {
        let typed = decode_event::<D::Event>(event)?;
        state = D::evolve(state, typed);
    }
    Ok(encode_state(&state))
}

/// Decode `state` and `command` and decide: the events to append, or why not.
pub fn decide<D: Decider>(state: &[u8], command: &str) -> Result<Vec<NewEvent>, DecideError> {
    let state = decode_state::<D>(state).map_err(DecideError::InvalidCommand)?;
    let command: D::Command = serde_json::from_str(command).map_err(|e| {
        DecideError::InvalidCommand(format!(
            "the command is not a known command as JSON {{\"type\": ..., \"data\": {{...}}}}: {e}"
        ))
    })?;
    let events = D::decide(command, &state).map_err(|r| DecideError::Rejected(r.message))?;
    events
        .iter()
        .map(encode_event)
        .collect::<Result<_, _>>()
        .map_err(DecideError::InvalidCommand)
}

/// The event types a projection wants.
pub fn event_types<P: Projection>() -> Vec<String> {
    P::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect()
}

/// Apply `events` in order to the read model behind `documents`.
pub fn apply<P: Projection>(events: &[Event], documents: &mut dyn Documents) -> Result<(), String> {
    let mut read_model = ReadModel::new(documents);
    for event in events {
        let typed = decode_event::<P::Event>(event)?;
        P::apply(typed, event, &mut read_model)?;
    }
    Ok(())
}

fn encode_state<S: Serialize>(state: &S) -> Vec<u8> {
    serde_json::to_vec(state).expect("a state that derives Serialize encodes to JSON")
}

fn decode_state<D: Decider>(state: &[u8]) -> Result<D::State, String> {
    serde_json::from_slice(state).map_err(|e| format!("the state passed in cannot be decoded: {e}"))
}

/// Read an event's type and data into the adjacently tagged enum `E`.
fn decode_event<E: DeserializeOwned>(event: &Event) -> Result<E, String> {
    let mut json = String::with_capacity(event.event_type.len() + event.data.len() + 20);
    json.push_str("{\"type\":");
    json.push_str(&serde_json::Value::String(event.event_type.clone()).to_string());
    json.push_str(",\"data\":");
    json.push_str(&event.data);
    json.push('}');
    serde_json::from_str(&json).map_err(|e| {
        format!(
            "event {} ({} at {} of {}) cannot be read: {e}",
            event.global_position, event.event_type, event.stream_position, event.stream_id
        )
    })
}

/// Split an adjacently tagged event into its type and data, keeping the data's
/// JSON text exactly as serde wrote it (field order included).
fn encode_event<E: Serialize>(event: &E) -> Result<NewEvent, String> {
    #[derive(serde::Deserialize)]
    struct Tagged<'a> {
        #[serde(rename = "type")]
        event_type: String,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
    }
    let json =
        serde_json::to_string(event).map_err(|e| format!("an event cannot be encoded: {e}"))?;
    let tagged: Tagged<'_> = serde_json::from_str(&json).map_err(|_| {
        "an event must encode as {\"type\": ..., \"data\": {...}}; use #[serde(tag = \"type\", content = \"data\")]"
            .to_owned()
    })?;
    Ok(NewEvent {
        event_type: tagged.event_type,
        data: tagged
            .data
            .map_or_else(|| "{}".to_owned(), |d| d.get().to_owned()),
        metadata: None,
    })
}
