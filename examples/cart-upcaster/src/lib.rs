//! The cart's upcaster: version 1 `ItemAdded` and `ItemRemoved` (a `unitPrice` in
//! cents) into version 2 (`price: {amount, currency}`), so the version 2 decider
//! (`examples/cart-v2`) and every reader see stores written by version 1 in the
//! version 2 shape.
//!
//! An upcaster sees one event at a time, so it cannot look up the cart's
//! `CartOpened` for its currency: version 1 prices were all in the shop's one
//! currency, [`V1_CURRENCY`], which is what the upcast events carry.

/// Version 1's types: what is read.
#[path = "../../cart/src/domain.rs"]
pub mod v1;

/// Version 2's types: what is made.
#[path = "../../cart-v2/src/domain.rs"]
pub mod v2;

use refold_guest::{Event, Upcaster};
use serde::Deserialize;

/// The currency of every version 1 price.
pub const V1_CURRENCY: &str = "EUR";

/// The events this upcaster reads. The current shapes keep their type names, so it
/// reads the events version 2 wrote too, and passes them through.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Stored {
    /// `ItemAdded`, either version.
    ItemAdded(Either<v1::ItemAdded, v2::ItemAdded>),
    /// `ItemRemoved`, either version.
    ItemRemoved(Either<v1::ItemRemoved, v2::ItemRemoved>),
}

/// An event's data in its old or its current shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Either<Old, Current> {
    /// Version 1.
    Old(Old),
    /// Version 2: already current.
    Current(Current),
}

/// Version 1 to version 2 of the cart's events.
pub struct CartUpcaster;

fn price(cents: u64) -> v2::Money {
    v2::Money {
        amount: cents,
        currency: V1_CURRENCY.to_owned(),
    }
}

impl Upcaster for CartUpcaster {
    type Stored = Stored;
    type Current = v2::CartEvent;

    const EVENT_TYPES: &'static [&'static str] = &["ItemAdded", "ItemRemoved"];

    fn upcast(stored: Stored, _envelope: &Event) -> Result<Vec<v2::CartEvent>, String> {
        Ok(vec![match stored {
            Stored::ItemAdded(Either::Current(added)) => v2::CartEvent::ItemAdded(added),
            Stored::ItemRemoved(Either::Current(removed)) => v2::CartEvent::ItemRemoved(removed),
            Stored::ItemAdded(Either::Old(added)) => v2::CartEvent::ItemAdded(v2::ItemAdded {
                cart_id: added.cart_id,
                sku: added.sku,
                name: added.name,
                quantity: added.quantity,
                price: price(added.unit_price),
                added_at: added.added_at,
            }),
            Stored::ItemRemoved(Either::Old(removed)) => {
                v2::CartEvent::ItemRemoved(v2::ItemRemoved {
                    cart_id: removed.cart_id,
                    sku: removed.sku,
                    quantity: removed.quantity,
                    price: price(removed.unit_price),
                })
            }
        }])
    }
}

refold_guest::export_upcaster!(CartUpcaster);
