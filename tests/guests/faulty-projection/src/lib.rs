//! A projection that fails on request, so tests can watch the failure policies work.
//!
//! It wants every event. For each one it counts the events of the event's stream in
//! the document of that stream in the `cart_summary` collection, a shape different
//! from the cart-summary projection's (so it also serves as a visibly different
//! version of a projection). An event of type `Poison` is an error it reports; an
//! event of type `Trap` makes it panic, which traps the component.
#![allow(missing_docs)]

use refold_guest::{Event, Projection, ReadModel};
use serde::{Deserialize, Serialize};

/// The collection it writes.
const COLLECTION: &str = "cart_summary";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamCount {
    stream: String,
    events: u64,
    last_position: u64,
}

pub struct FaultyProjection;

impl Projection for FaultyProjection {
    type Event = serde_json::Value;

    const EVENT_TYPES: &'static [&'static str] = &[];

    fn apply(
        _event: serde_json::Value,
        envelope: &Event,
        read_model: &mut ReadModel<'_>,
    ) -> Result<(), String> {
        match envelope.event_type.as_str() {
            "Poison" => Err(format!("event {} is poison", envelope.global_position)),
            "Trap" => panic!("the faulty projection traps on purpose"),
            _ => {
                let mut count = read_model
                    .get::<StreamCount>(COLLECTION, &envelope.stream_id)?
                    .unwrap_or(StreamCount {
                        stream: envelope.stream_id.clone(),
                        events: 0,
                        last_position: 0,
                    });
                count.events += 1;
                count.last_position = envelope.global_position;
                read_model.put(COLLECTION, &envelope.stream_id, &count)
            }
        }
    }
}

refold_guest::export_projection!(FaultyProjection);
