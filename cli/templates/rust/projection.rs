//! {{name}}: a projection. The total of every counter, one document per stream in
//! the `totals` collection.

use refold_guest::{Event as Envelope, Projection, ReadModel};
use serde::{Deserialize, Serialize};

/// The collection the documents are kept in.
pub const COLLECTION: &str = "totals";

/// The events read, as JSON `{"type": "Added", "data": {"amount": 5}}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// `amount` was added to the counter of the event's stream.
    Added {
        /// How much was added.
        amount: i64,
    },
}

/// One counter's document.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Total {
    /// The sum of every amount added to it.
    pub total: i64,
}

/// The projection.
pub struct Totals;

impl Projection for Totals {
    type Event = Event;

    const EVENT_TYPES: &'static [&'static str] = &["Added"];

    fn apply(
        event: Event,
        envelope: &Envelope,
        read_model: &mut ReadModel<'_>,
    ) -> Result<(), String> {
        let Event::Added { amount } = event;
        let id = &envelope.stream_id;
        let mut document: Total = read_model.get(COLLECTION, id)?.unwrap_or_default();
        document.total += amount;
        read_model.put(COLLECTION, id, &document)
    }
}

refold_guest::export_projection!(Totals);
