//! A projection that declares a query instead of event types, so tests can watch the
//! runner and the harness pass it only the events the query matches.
//!
//! Its query: every event tagged `vip`, or of type `Audit`. For each event it gets, it
//! counts the events of the event's stream in the `tagged` collection.
#![allow(missing_docs)]

use refold_guest::{Event, Projection, Query, ReadModel};
use serde::{Deserialize, Serialize};

/// The collection it writes.
const COLLECTION: &str = "tagged";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamCount {
    events: u64,
    last_position: u64,
}

pub struct TaggedCounter;

impl Projection for TaggedCounter {
    type Event = serde_json::Value;

    const EVENT_TYPES: &'static [&'static str] = &[];

    fn query() -> Option<Query> {
        Some(Query::of(&[], &["vip"]).or(&["Audit"], &[]))
    }

    fn apply(
        _event: serde_json::Value,
        envelope: &Event,
        read_model: &mut ReadModel<'_>,
    ) -> Result<(), String> {
        let mut count = read_model
            .get::<StreamCount>(COLLECTION, &envelope.stream_id)?
            .unwrap_or(StreamCount {
                events: 0,
                last_position: 0,
            });
        count.events += 1;
        count.last_position = envelope.global_position;
        read_model.put(COLLECTION, &envelope.stream_id, &count)
    }
}

refold_guest::export_projection!(TaggedCounter);
