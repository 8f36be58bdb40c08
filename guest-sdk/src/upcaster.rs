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
/// name: the variant name is the type. Such an upcaster is also passed the events
/// written in the current shape (they have the type it reads): make `Stored` read both
/// shapes (an `#[serde(untagged)]` enum of the old and the current data, as the
/// repository's `examples/cart-upcaster` does) and return the current ones unchanged;
/// the engine then reads them exactly as stored.
///
/// The engine hands an upcaster only the stored types it reads, and no other deployed
/// upcaster may read them too. What it makes goes on to the upcaster that reads the
/// made type, if another one does (a chain). Each event it makes keeps the stored
/// event's id, stream, positions, recorded-at and tags, and its metadata gains
/// `refold.upcastFrom`. An upcaster sees one event at a time: what it cannot derive
/// from the event and its metadata, it fills with a documented constant. The
/// repository's `docs/evolving-events.md` says when to upcast and when to write a new
/// event type.
///
/// ```ignore
/// use refold_guest::{Event, Upcaster};
///
/// struct CartUpcaster;
///
/// impl Upcaster for CartUpcaster {
///     type Stored = Stored; // a v1 ItemAdded, or a v2 one to pass through
///     type Current = CartEventV2;
///     const EVENT_TYPES: &'static [&'static str] = &["ItemAdded"];
///
///     fn upcast(stored: Stored, _envelope: &Event) -> Result<Vec<CartEventV2>, String> {
///         Ok(vec![stored.into_current()])
///     }
/// }
///
/// refold_guest::export_upcaster!(CartUpcaster);
/// ```
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
