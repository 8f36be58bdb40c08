//! The cart-summary projection: the read side of the example domain.
//!
//! It keeps one document per cart in the `cart_summary` collection with the cart's
//! item count, total and status. It reads only the fields it needs from each event.

use refold_guest::{Event, Projection, ReadModel};
use serde::{Deserialize, Serialize};

/// The collection this projection writes.
pub const COLLECTION: &str = "cart_summary";

/// One cart's summary document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartSummary {
    /// The cart's id.
    pub cart_id: String,
    /// Units in the cart.
    pub item_count: u64,
    /// Sum of quantity × unit price, in cents.
    pub total: u64,
    /// `open` or `confirmed`.
    pub status: String,
}

/// The fields of a cart event that name its cart.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartRef {
    /// The cart's id.
    pub cart_id: String,
}

/// The fields of an item event that change the summary.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemChange {
    /// The cart's id.
    pub cart_id: String,
    /// Units added or removed.
    pub quantity: u64,
    /// Price of one unit, in cents.
    pub unit_price: u64,
}

/// The cart events, as this projection reads them.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CartEvent {
    /// A cart was opened.
    CartOpened(CartRef),
    /// Units were added.
    ItemAdded(ItemChange),
    /// A line was removed.
    ItemRemoved(ItemChange),
    /// A cart was confirmed.
    CartConfirmed(CartRef),
}

/// The cart-summary projection.
pub struct CartSummaryProjection;

impl Projection for CartSummaryProjection {
    type Event = CartEvent;

    const EVENT_TYPES: &'static [&'static str] =
        &["CartOpened", "ItemAdded", "ItemRemoved", "CartConfirmed"];

    fn apply(
        event: CartEvent,
        _envelope: &Event,
        read_model: &mut ReadModel<'_>,
    ) -> Result<(), String> {
        match event {
            CartEvent::CartOpened(cart) => read_model.put(
                COLLECTION,
                &cart.cart_id.clone(),
                &CartSummary {
                    cart_id: cart.cart_id,
                    item_count: 0,
                    total: 0,
                    status: "open".to_owned(),
                },
            ),
            CartEvent::ItemAdded(change) => update(read_model, &change.cart_id, |summary| {
                summary.item_count += change.quantity;
                summary.total += change.quantity * change.unit_price;
            }),
            CartEvent::ItemRemoved(change) => update(read_model, &change.cart_id, |summary| {
                summary.item_count = summary.item_count.saturating_sub(change.quantity);
                summary.total = summary
                    .total
                    .saturating_sub(change.quantity * change.unit_price);
            }),
            CartEvent::CartConfirmed(cart) => update(read_model, &cart.cart_id, |summary| {
                summary.status = "confirmed".to_owned();
            }),
        }
    }
}

fn update(
    read_model: &mut ReadModel<'_>,
    cart_id: &str,
    change: impl FnOnce(&mut CartSummary),
) -> Result<(), String> {
    let Some(mut summary) = read_model.get::<CartSummary>(COLLECTION, cart_id)? else {
        return Err(format!(
            "no summary for cart {cart_id}: its CartOpened was not applied"
        ));
    };
    change(&mut summary);
    read_model.put(COLLECTION, cart_id, &summary)
}

refold_guest::export_projection!(CartSummaryProjection);
