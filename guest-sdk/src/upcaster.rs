//! The event-evolution trait a guest author implements.

use crate::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Turns stored events of old shapes into their current shape, whenever the engine
/// reads them for logic or users (deciders, projections, API reads). Stored events are
/// never rewritten.
///
/// `Stored` is a serde enum of the old shapes it reads, `Current` one of the shapes it
/// makes, both adjacently tagged like a [`Decider`](crate::Decider)'s events
/// (`#[serde(tag = "type", content = "data")]`). A current shape may keep its old type
/// name: the variant name is the type.
pub trait Upcaster {
    /// The stored shapes it reads.
    type Stored: DeserializeOwned;
    /// The shapes it makes.
    type Current: Serialize;

    /// The stored event types it reads (the variants of `Stored`); the engine never
    /// passes it others. Must not be empty.
    const EVENT_TYPES: &'static [&'static str];

    /// The current shape of one stored event: usually one event, possibly none (the
    /// event is left out of reads) or several (each keeps the stored event's id and
    /// positions). `envelope` is the stored event with its stream, positions and
    /// metadata. An error fails the read that needed the event.
    fn upcast(stored: Self::Stored, envelope: &Event) -> Result<Vec<Self::Current>, String>;
}
