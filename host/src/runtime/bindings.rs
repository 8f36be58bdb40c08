//! Host-side bindings generated from the repository's WIT package, one module per world.
//! Both worlds share the `types` interface, so an [`Event`] is one type everywhere.
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

/// Bindings of the `projection-module` world.
pub mod projection {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refold:domain/projection-module",
        with: { "refold:domain/types": super::decider::refold::domain::types },
    });
}

pub use decider::refold::domain::types::{DecideError, Event, NewEvent};
