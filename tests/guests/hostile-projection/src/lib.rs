//! A projection that writes what the host must refuse or bound, so tests can prove the
//! read side holds.
//!
//! It wants every event and writes to the `docs` collection, keyed by the event's
//! stream, according to the event's type: `PutNotJson` puts text that is not JSON,
//! `PutArray` JSON that is not an object, `PutLarge` one object of `data.bytes` bytes,
//! `PutMany` `data.count` objects of `data.bytes` bytes each (ids
//! `<stream>-<stream position>-<n>`), and
//! `Tally` the number of events this instance has applied (hidden global state, which
//! the harness's determinism check must catch). Any other event puts `{"ok":true}`.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/projection-module",
});

use exports::refold::domain::projection::{Event, Guest, Query};
use refold::domain::documents;
use std::sync::atomic::{AtomicU64, Ordering};

/// The collection it writes.
const COLLECTION: &str = "docs";

/// Events applied by this instance: the hidden global state of `Tally`.
static APPLIED: AtomicU64 = AtomicU64::new(0);

/// A JSON object of exactly `bytes` bytes (at least the 10 of its frame).
fn object_of(bytes: u64) -> String {
    let padding = usize::try_from(bytes.saturating_sub(10)).unwrap_or(0);
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(padding))
}

struct HostileProjection;

impl Guest for HostileProjection {
    fn event_types() -> Vec<String> {
        Vec::new()
    }

    fn event_query() -> Option<Query> {
        None
    }

    fn apply(events: Vec<Event>) -> Result<(), String> {
        for event in events {
            let applied = APPLIED.fetch_add(1, Ordering::Relaxed) + 1;
            let data: serde_json::Value =
                serde_json::from_str(&event.data).map_err(|e| e.to_string())?;
            let number = |field: &str| data[field].as_u64().unwrap_or(0);
            let id = &event.stream_id;
            match event.event_type.as_str() {
                "PutNotJson" => documents::put(COLLECTION, id, "this is not json"),
                "PutArray" => documents::put(COLLECTION, id, "[1, 2, 3]"),
                "PutLarge" => documents::put(COLLECTION, id, &object_of(number("bytes"))),
                "PutMany" => {
                    let document = object_of(number("bytes"));
                    for n in 0..number("count") {
                        let position = event.stream_position;
                        documents::put(COLLECTION, &format!("{id}-{position}-{n}"), &document);
                    }
                }
                "Tally" => documents::put(COLLECTION, id, &format!(r#"{{"applied":{applied}}}"#)),
                _ => documents::put(COLLECTION, id, r#"{"ok":true}"#),
            }
        }
        Ok(())
    }
}

export!(HostileProjection);
