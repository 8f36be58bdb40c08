//! The cart's types and rules, with no export: `lib.rs` exports them as a component,
//! and other components (the cart-v2 test fixture) build on the same source.

use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The payment method and confirmation time every confirmed cart records.
const PAYMENT_METHOD: &str = "card";
const CONFIRMED_AT: &str = "2024-01-01T00:10:00.000Z";

/// Where a cart is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No `CartOpened` yet.
    #[default]
    Empty,
    /// Opened; items can be added and removed.
    Open,
    /// Confirmed; nothing changes any more.
    Confirmed,
}

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// Units of this SKU in the cart.
    pub quantity: u64,
    /// Price of one unit, in cents.
    pub unit_price: u64,
}

/// What the decider knows about one cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CartState {
    /// Where the cart is in its life.
    pub status: Status,
    /// Units in the cart, all SKUs together.
    pub item_count: u64,
    /// Sum of quantity × unit price, in cents.
    pub total: u64,
    /// The cart's lines by SKU.
    pub lines: BTreeMap<String, Line>,
}

/// Data of `CartOpened` (and of the `OpenCart` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartOpened {
    /// The cart's id, e.g. `cart-42`.
    pub cart_id: String,
    /// Who owns the cart.
    pub customer_id: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Sales channel.
    pub channel: String,
    /// When the cart was opened.
    pub opened_at: String,
}

/// Data of `ItemAdded` (and of the `AddItem` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemAdded {
    /// The cart's id.
    pub cart_id: String,
    /// Stock keeping unit of the product.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Units added (at least 1).
    pub quantity: u64,
    /// Price of one unit, in cents.
    pub unit_price: u64,
    /// When the item was added.
    pub added_at: String,
}

/// Data of `ItemRemoved`: a whole line leaves the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRemoved {
    /// The cart's id.
    pub cart_id: String,
    /// The SKU removed.
    pub sku: String,
    /// Units removed.
    pub quantity: u64,
    /// Price of one unit, in cents.
    pub unit_price: u64,
}

/// Data of `CartConfirmed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartConfirmed {
    /// The cart's id.
    pub cart_id: String,
    /// Units in the confirmed cart.
    pub item_count: u64,
    /// Total in cents.
    pub total: u64,
    /// How the customer pays.
    pub payment_method: String,
    /// When the cart was confirmed.
    pub confirmed_at: String,
}

/// Data of the `RemoveItem` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveItem {
    /// The cart's id.
    pub cart_id: String,
    /// The SKU to remove.
    pub sku: String,
}

/// Data of the `ConfirmCart` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmCart {
    /// The cart's id.
    pub cart_id: String,
}

/// The commands a cart understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CartCommand {
    /// Open a new cart.
    OpenCart(CartOpened),
    /// Add units of a product to an open cart.
    AddItem(ItemAdded),
    /// Remove a product line from an open cart.
    RemoveItem(RemoveItem),
    /// Confirm an open, non-empty cart.
    ConfirmCart(ConfirmCart),
}

/// The events of a cart's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CartEvent {
    /// The cart was opened.
    CartOpened(CartOpened),
    /// Units of a product were added.
    ItemAdded(ItemAdded),
    /// A product line was removed.
    ItemRemoved(ItemRemoved),
    /// The cart was confirmed.
    CartConfirmed(CartConfirmed),
}

/// The cart decider.
pub struct Cart;

impl Decider for Cart {
    type State = CartState;
    type Command = CartCommand;
    type Event = CartEvent;

    fn initial_state() -> CartState {
        CartState::default()
    }

    fn evolve(mut state: CartState, event: CartEvent) -> CartState {
        match event {
            CartEvent::CartOpened(_) => state.status = Status::Open,
            CartEvent::ItemAdded(added) => {
                state.item_count += added.quantity;
                state.total += added.quantity * added.unit_price;
                let line = state.lines.entry(added.sku).or_insert(Line {
                    quantity: 0,
                    unit_price: added.unit_price,
                });
                line.quantity += added.quantity;
                line.unit_price = added.unit_price;
            }
            CartEvent::ItemRemoved(removed) => {
                state.item_count -= removed.quantity;
                state.total -= removed.quantity * removed.unit_price;
                state.lines.remove(&removed.sku);
            }
            CartEvent::CartConfirmed(_) => state.status = Status::Confirmed,
        }
        state
    }

    fn decide(
        command: CartCommand,
        state: &CartState,
        _context: &Context,
    ) -> Result<Vec<CartEvent>, Rejection> {
        match command {
            CartCommand::OpenCart(opened) => {
                if state.status != Status::Empty {
                    return Err(Rejection::new(format!(
                        "cart {} is already open",
                        opened.cart_id
                    )));
                }
                Ok(vec![CartEvent::CartOpened(opened)])
            }
            CartCommand::AddItem(added) => {
                require_open(state, &added.cart_id, "add an item to")?;
                if added.quantity == 0 {
                    return Err(Rejection::new(format!(
                        "cannot add 0 units of {}",
                        added.sku
                    )));
                }
                Ok(vec![CartEvent::ItemAdded(added)])
            }
            CartCommand::RemoveItem(remove) => {
                require_open(state, &remove.cart_id, "remove an item from")?;
                let Some(line) = state.lines.get(&remove.sku) else {
                    return Err(Rejection::new(format!(
                        "cart {} has no item {}",
                        remove.cart_id, remove.sku
                    )));
                };
                Ok(vec![CartEvent::ItemRemoved(ItemRemoved {
                    cart_id: remove.cart_id,
                    sku: remove.sku,
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                })])
            }
            CartCommand::ConfirmCart(confirm) => {
                require_open(state, &confirm.cart_id, "confirm")?;
                if state.item_count == 0 {
                    return Err(Rejection::new(format!("cart {} is empty", confirm.cart_id)));
                }
                Ok(vec![CartEvent::CartConfirmed(CartConfirmed {
                    cart_id: confirm.cart_id,
                    item_count: state.item_count,
                    total: state.total,
                    payment_method: PAYMENT_METHOD.to_owned(),
                    confirmed_at: CONFIRMED_AT.to_owned(),
                })])
            }
        }
    }
}

fn require_open(state: &CartState, cart_id: &str, action: &str) -> Result<(), Rejection> {
    match state.status {
        Status::Open => Ok(()),
        Status::Empty => Err(Rejection::new(format!(
            "cannot {action} cart {cart_id}: it is not open"
        ))),
        Status::Confirmed => Err(Rejection::new(format!(
            "cannot {action} cart {cart_id}: it is already confirmed"
        ))),
    }
}
