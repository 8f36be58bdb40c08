//! Host-side bindings generated from the WIT packages, one module per world.
//!
//! The current contract (`wit/`, `refold:domain@0.2.0`) has a module per world; all
//! share its `types` interface, so an [`Event`] is one type everywhere. [`v1`] holds the
//! bindings of the released 0.1.0 contract (`host/wit-0.1.0/`), for modules built
//! against it before 0.2.0: the host converts between the two at the call.
//! The generated items are documented by the WIT they come from.
#![allow(missing_docs)]

/// Bindings of the `decider-module` world.
pub mod decider {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/decider-module",
        additional_derives: [PartialEq, Eq],
    });
}

/// Bindings of the `query-decider-module` world.
pub mod query_decider {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/query-decider-module",
        with: { "refold:domain/types": super::decider::refold::domain::types },
    });
}

/// Bindings of the `projection-module` world.
pub mod projection {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/projection-module",
        with: { "refold:domain/types": super::decider::refold::domain::types },
    });
}

/// Bindings of the `upcaster-module` world.
pub mod upcaster {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/upcaster-module",
        with: { "refold:domain/types": super::decider::refold::domain::types },
    });
}

/// Bindings of the `workflow-module` world.
pub mod workflow {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/workflow-module",
        with: { "refold:domain/types": super::decider::refold::domain::types },
    });
}

/// Bindings of the `schemas-module` world: what the host reads of a module that
/// exports `schemas` beside its world's interface.
pub mod schemas {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/schemas-module",
    });
}

/// Bindings of the 0.1.0 contract's worlds.
pub mod v1 {
    /// The 0.1.0 `decider-module` world.
    pub mod decider {
        wasmtime::component::bindgen!({
            path: "wit-0.1.0",
            world: "refold:domain/decider-module@0.1.0",
        });
    }

    /// The 0.1.0 `projection-module` world.
    pub mod projection {
        wasmtime::component::bindgen!({
            path: "wit-0.1.0",
            world: "refold:domain/projection-module@0.1.0",
            with: { "refold:domain/types@0.1.0": super::decider::refold::domain::types },
        });
    }

    pub use decider::refold::domain::types::{DecideError, Event, NewEvent};
}

pub use decider::refold::domain::types::{
    DecideError, DeciderContext, Event, NewEvent, Query, QueryItem, UpcastEvent,
};
pub use workflow::exports::refold::domain::workflow::{
    CommandOutcome, CommandResult, WorkflowCommand, WorkflowInput, WorkflowStep,
};

impl From<&Event> for v1::Event {
    fn from(event: &Event) -> Self {
        v1::Event {
            event_type: event.event_type.clone(),
            data: event.data.clone(),
            metadata: event.metadata.clone(),
            stream_id: event.stream_id.clone(),
            stream_position: event.stream_position,
            global_position: event.global_position,
            event_id: event.event_id.clone(),
            recorded_at: event.recorded_at.clone(),
            partition: event.partition.clone(),
        }
    }
}

impl From<v1::NewEvent> for NewEvent {
    fn from(event: v1::NewEvent) -> Self {
        NewEvent {
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            stream_id: None,
            tags: Vec::new(),
        }
    }
}

/// A query decider's query as the store reads it; no items means every event.
impl From<Query> for crate::store::Query {
    fn from(query: Query) -> Self {
        if query.items.is_empty() {
            return crate::store::Query::all();
        }
        crate::store::Query {
            items: query
                .items
                .into_iter()
                .map(|item| crate::store::QueryItem {
                    types: item.types,
                    tags: item.tags,
                })
                .collect(),
        }
    }
}

impl From<v1::DecideError> for DecideError {
    fn from(error: v1::DecideError) -> Self {
        match error {
            v1::DecideError::Rejected(reason) => DecideError::Rejected(reason),
            v1::DecideError::InvalidCommand(reason) => DecideError::InvalidCommand(reason),
        }
    }
}
