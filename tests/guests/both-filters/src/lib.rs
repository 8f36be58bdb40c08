//! A projection that declares event types and a query at once, which the host refuses:
//! it could not tell which of the two chooses the events.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/projection-module",
});

use exports::refold::domain::projection::{Event, Guest, Query};
use refold::domain::types::QueryItem;

struct BothFilters;

impl Guest for BothFilters {
    fn event_types() -> Vec<String> {
        vec!["Audit".to_owned()]
    }

    fn event_query() -> Option<Query> {
        Some(Query {
            items: vec![QueryItem {
                types: Vec::new(),
                tags: vec!["vip".to_owned()],
            }],
        })
    }

    fn apply(_events: Vec<Event>) -> Result<(), String> {
        Ok(())
    }
}

export!(BothFilters);
