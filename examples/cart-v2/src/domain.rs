//! The version 2 shapes and rules, with no export: `lib.rs` exports them as a
//! component, and the upcaster builds on the same source (it names its output types).

use crate::v1::{CartConfirmed, CartOpened, ConfirmCart, RemoveItem, Status};
use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The payment method and confirmation time every confirmed cart records.
const PAYMENT_METHOD: &str = "card";
const CONFIRMED_AT: &str = "2024-01-01T00:10:00.000Z";

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// In the currency's minor unit (cents).
    pub amount: u64,
    /// ISO 4217 currency code.
    pub currency: String,
}

/// Data of `ItemAdded` (and of the `AddItem` command), version 2.
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
    /// Price of one unit.
    pub price: Money,
    /// When the item was added.
    pub added_at: String,
}

/// Data of `ItemRemoved`, version 2: a whole line leaves the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRemoved {
    /// The cart's id.
    pub cart_id: String,
    /// The SKU removed.
    pub sku: String,
    /// Units removed.
    pub quantity: u64,
    /// Price of one unit.
    pub price: Money,
}

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// Units of this SKU in the cart.
    pub quantity: u64,
    /// Price of one unit.
    pub price: Money,
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

/// The events of a cart's stream, version 2.
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

/// The cart decider, version 2.
pub struct CartV2;

impl Decider for CartV2 {
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
                state.total += added.quantity * added.price.amount;
                let line = state.lines.entry(added.sku).or_insert(Line {
                    quantity: 0,
                    price: added.price.clone(),
                });
                line.quantity += added.quantity;
                line.price = added.price;
            }
            CartEvent::ItemRemoved(removed) => {
                state.item_count -= removed.quantity;
                state.total -= removed.quantity * removed.price.amount;
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
                    price: line.price.clone(),
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
        _ => Err(Rejection::new(format!(
            "cannot {action} cart {cart_id}: it is not open"
        ))),
    }
}
