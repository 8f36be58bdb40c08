//! Exactly what an exported component runs, callable natively.
//!
//! The export macros route every WIT call through these functions, so calling them
//! from native Rust exercises the same decoding, logic and encoding as the wasm
//! component, minus the boundary. Benchmarks use them as the native baseline; unit
//! tests use them to test logic without building a component.

use crate::{
    Context, DecideError, Decider, Documents, Event, NewEvent, Projection, Query, QueryDecider,
    ReadModel, UpcastEvent, Upcaster, Workflow, WorkflowInput, WorkflowStep,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The encoded state of a stream with no events.
pub fn initial_state<D: Decider>() -> Vec<u8> {
    encode_state(&D::initial_state())
}

/// Decode `state`, fold `events` into it in order, and encode the result.
pub fn evolve<D: Decider>(state: &[u8], events: &[Event]) -> Result<Vec<u8>, String> {
    fold(state, events, D::evolve)
}

/// Decode `state` and `command` and decide in `context`: the events to append, or why not.
pub fn decide<D: Decider>(
    context: &Context,
    state: &[u8],
    command: &str,
) -> Result<Vec<NewEvent>, DecideError> {
    let (state, command) = decode_input::<D::State, D::Command>(state, command)?;
    let events = D::decide(command, &state, context).map_err(refusal)?;
    events
        .iter()
        .map(encode_event)
        .collect::<Result<_, _>>()
        .map_err(DecideError::InvalidCommand)
}

/// The encoded state of a query decider before any event.
pub fn query_initial_state<D: QueryDecider>() -> Vec<u8> {
    encode_state(&D::initial_state())
}

/// The query `command` depends on.
pub fn query_for<D: QueryDecider>(command: &str) -> Result<Query, DecideError> {
    let command = decode_command(command).map_err(not_a_command)?;
    Ok(D::query(&command))
}

/// Decode a query decider's `state`, fold `events` into it in order, and encode it.
pub fn query_evolve<D: QueryDecider>(state: &[u8], events: &[Event]) -> Result<Vec<u8>, String> {
    fold(state, events, D::evolve)
}

/// Decode `state` and `command` and let the query decider decide in `context`: the
/// events to append, each with its stream and tags, or why not.
pub fn query_decide<D: QueryDecider>(
    context: &Context,
    state: &[u8],
    command: &str,
) -> Result<Vec<NewEvent>, DecideError> {
    let (state, command) = decode_input::<D::State, D::Command>(state, command)?;
    let events = D::decide(command, &state, context).map_err(refusal)?;
    events
        .iter()
        .map(|tagged| {
            encode_event(&tagged.event).map(|event| NewEvent {
                stream_id: Some(tagged.stream.clone()),
                tags: tagged.tags.clone(),
                ..event
            })
        })
        .collect::<Result<_, _>>()
        .map_err(DecideError::InvalidCommand)
}

/// Fold `events` into the encoded `state` with `evolve`.
fn fold<S, E>(state: &[u8], events: &[Event], evolve: fn(S, E) -> S) -> Result<Vec<u8>, String>
where
    S: Serialize + DeserializeOwned,
    E: DeserializeOwned,
{
    let mut state = decode_state::<S>(state)?;
    for event in events {
        let typed = decode_event::<E>(event)?;
        state = evolve(state, typed);
    }
    Ok(encode_state(&state))
}

/// The state and the command of a decision, decoded.
fn decode_input<S: DeserializeOwned, C: DeserializeOwned>(
    state: &[u8],
    command: &str,
) -> Result<(S, C), DecideError> {
    let state = decode_state::<S>(state).map_err(DecideError::InvalidCommand)?;
    let command = decode_command(command).map_err(not_a_command)?;
    Ok((state, command))
}

fn not_a_command(error: serde_json::Error) -> DecideError {
    DecideError::InvalidCommand(format!(
        "the command is not a known command as JSON {{\"type\": ..., \"data\": {{...}}}}: {error}"
    ))
}

/// A guest's refusal as the WIT answers it.
fn refusal(rejection: crate::Rejection) -> DecideError {
    if rejection.invalid_command {
        DecideError::InvalidCommand(rejection.message)
    } else {
        DecideError::Rejected(rejection.message)
    }
}

/// Read a command into the adjacently tagged enum `C`. A command without data may
/// leave `data` out or send `{}` (or `null`): either names a unit variant (`Close`)
/// or a struct variant without fields (`Close {}`).
fn decode_command<C: DeserializeOwned>(text: &str) -> Result<C, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Tagged<'a> {
        #[serde(rename = "type")]
        command_type: String,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
    }
    let first = match serde_json::from_str(text) {
        Ok(command) => return Ok(command),
        Err(error) => error,
    };
    let Ok(tagged) = serde_json::from_str::<Tagged<'_>>(text) else {
        return Err(first);
    };
    let without_data = tagged.data.is_none_or(|data| {
        serde_json::from_str::<Option<serde_json::Map<String, serde_json::Value>>>(data.get())
            .is_ok_and(|object| object.is_none_or(|object| object.is_empty()))
    });
    if !without_data {
        return Err(first);
    }
    let unit = serde_json::json!({ "type": tagged.command_type });
    let empty = serde_json::json!({ "type": tagged.command_type, "data": {} });
    C::deserialize(unit)
        .or_else(|_| C::deserialize(empty))
        .map_err(|_| first)
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

/// The stored event types an upcaster reads.
pub fn upcast_event_types<U: Upcaster>() -> Vec<String> {
    U::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect()
}

/// The current shape of each of `events`, one list per event.
pub fn upcast<U: Upcaster>(events: &[Event]) -> Result<Vec<Vec<UpcastEvent>>, String> {
    events
        .iter()
        .map(|event| {
            let stored = decode_event::<U::Stored>(event)?;
            U::upcast(stored, event)?
                .iter()
                .map(|current| {
                    let encoded = encode_event(current)?;
                    Ok(UpcastEvent {
                        event_type: encoded.event_type,
                        data: encoded.data,
                        metadata: None,
                    })
                })
                .collect()
        })
        .collect()
}

/// The event types a workflow reacts to.
pub fn workflow_event_types<W: Workflow>() -> Vec<String> {
    W::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect()
}

/// A workflow instance's state before its first input, as JSON text.
pub fn workflow_initial_state<W: Workflow>() -> String {
    serde_json::to_string(&W::initial_state())
        .expect("a state that derives Serialize encodes to JSON")
}

/// The workflow instance `event` belongs to, if any.
pub fn instance_of<W: Workflow>(event: &Event) -> Result<Option<String>, String> {
    let input = decode_event::<W::Input>(event)?;
    Ok(W::instance_of(&input, event))
}

/// What the workflow instance `instance`, in `state` (JSON text), does with `input`.
pub fn handle<W: Workflow>(
    instance: &str,
    state: &str,
    input: WorkflowInput,
) -> Result<WorkflowStep, String> {
    let state: W::State = serde_json::from_str(state)
        .map_err(|e| format!("the state passed in cannot be decoded: {e}"))?;
    let step = match input {
        WorkflowInput::Event(event) => {
            let input = decode_event::<W::Input>(&event)?;
            W::on_event(instance, state, input, &event)?
        }
        WorkflowInput::Outcome(outcome) => W::on_outcome(instance, state, outcome)?,
    };
    Ok(WorkflowStep {
        state: serde_json::to_string(&step.state)
            .map_err(|e| format!("the state cannot be encoded: {e}"))?,
        commands: step.commands,
        finished: step.finished,
    })
}

fn encode_state<S: Serialize>(state: &S) -> Vec<u8> {
    serde_json::to_vec(state).expect("a state that derives Serialize encodes to JSON")
}

fn decode_state<S: DeserializeOwned>(state: &[u8]) -> Result<S, String> {
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
        ..NewEvent::default()
    })
}
