//! The stock decider of the order flow: one stream per order (`stock-<order>`) holding
//! the units reserved for it, and their release (the compensation when payment fails
//! or never comes) or their commitment (once paid).
//!
//! Commands `Reserve`, `Release` and `Commit` become `StockReserved`, `StockReleased`
//! and `StockCommitted`. An order may reserve at most [`MAX_UNITS`] units: more is
//! refused as out of stock.

use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};

/// The most units one order may reserve.
pub const MAX_UNITS: u64 = 100;

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reservation {
    /// Nothing reserved yet.
    #[default]
    None,
    /// Units are held for the order.
    Reserved,
    /// The units went back to stock.
    Released,
    /// The units left with the paid order.
    Committed,
}

/// Data of `Reserve` and `StockReserved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reserve {
    /// The order.
    pub order_id: String,
    /// Units to hold.
    pub units: u64,
}

/// Data of `Release`, `Commit` and the events they make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRef {
    /// The order.
    pub order_id: String,
}

/// The commands of an order's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum StockCommand {
    /// Hold units for the order.
    Reserve(Reserve),
    /// Give the held units back.
    Release(OrderRef),
    /// The held units leave with the order.
    Commit(OrderRef),
}

/// The events of an order's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum StockEvent {
    /// Units are held for the order.
    StockReserved(Reserve),
    /// They went back to stock.
    StockReleased(OrderRef),
    /// They left with the order.
    StockCommitted(OrderRef),
}

/// The stock decider.
pub struct Stock;

impl Decider for Stock {
    type State = Reservation;
    type Command = StockCommand;
    type Event = StockEvent;

    fn initial_state() -> Reservation {
        Reservation::None
    }

    fn evolve(_: Reservation, event: StockEvent) -> Reservation {
        match event {
            StockEvent::StockReserved(_) => Reservation::Reserved,
            StockEvent::StockReleased(_) => Reservation::Released,
            StockEvent::StockCommitted(_) => Reservation::Committed,
        }
    }

    fn decide(
        command: StockCommand,
        state: &Reservation,
        _: &Context,
    ) -> Result<Vec<StockEvent>, Rejection> {
        match command {
            StockCommand::Reserve(reserve) => {
                if *state != Reservation::None {
                    return Err(Rejection::new(format!(
                        "stock for order {} is already {state:?}",
                        reserve.order_id
                    )));
                }
                if reserve.units > MAX_UNITS {
                    return Err(Rejection::new(format!(
                        "out of stock: order {} asks for {} units, at most {MAX_UNITS} are held per order",
                        reserve.order_id, reserve.units
                    )));
                }
                Ok(vec![StockEvent::StockReserved(reserve)])
            }
            StockCommand::Release(order) => {
                require_reserved(state, &order, "release")?;
                Ok(vec![StockEvent::StockReleased(order)])
            }
            StockCommand::Commit(order) => {
                require_reserved(state, &order, "commit")?;
                Ok(vec![StockEvent::StockCommitted(order)])
            }
        }
    }
}

fn require_reserved(state: &Reservation, order: &OrderRef, action: &str) -> Result<(), Rejection> {
    if *state == Reservation::Reserved {
        Ok(())
    } else {
        Err(Rejection::new(format!(
            "cannot {action} the stock of order {}: it is {state:?}",
            order.order_id
        )))
    }
}

refold_guest::export_decider!(Stock);
