//! The read-side trait a guest author implements.

use crate::{Event, Query, ReadModel};
use serde::de::DeserializeOwned;

/// Read-side domain logic: folds events into read-model documents.
///
/// `Event` is a serde enum in the adjacently tagged representation, like a
/// [`Decider`](crate::Decider)'s events; it only needs the variants listed in
/// [`EVENT_TYPES`](Projection::EVENT_TYPES).
pub trait Projection {
    /// The events this projection reads.
    type Event: DeserializeOwned;

    /// The event types it wants; the engine never passes it others. Empty means all
    /// (or, with a [`query`](Projection::query), those the query matches).
    const EVENT_TYPES: &'static [&'static str];

    /// The events it wants as a query over types and tags, instead of
    /// [`EVENT_TYPES`](Projection::EVENT_TYPES) (which must then be empty): e.g.
    /// `Query::of(&[], &["region:eu"])` for every event tagged `region:eu`. `None`, the
    /// default, leaves the choice to the event types.
    fn query() -> Option<Query> {
        None
    }

    /// Apply one event. `envelope` carries the event's stream, positions and metadata.
    /// An error stops (or, by the projection's policy, skips) this event.
    fn apply(
        event: Self::Event,
        envelope: &Event,
        read_model: &mut ReadModel<'_>,
    ) -> Result<(), String>;
}
