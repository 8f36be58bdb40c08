//! The order flow's fixtures: the commands a client sends, the four ways an order
//! ends, and what each leaves in the stock and payment streams.

use crate::support::guests::{self, CART};
use crate::support::server::{Db, Server};
use serde_json::{Value, json};

/// How an order of the tests is meant to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The provider says the payment succeeded.
    Paid,
    /// The provider says it failed.
    PaymentFailed,
    /// The provider never answers: the deadline passes.
    TimedOut,
    /// The cart holds more units than the stock gives one order.
    OutOfStock,
}

impl Fate {
    /// The fate of order number `n` of a run: all four, in turn.
    pub fn of(n: usize) -> Fate {
        [
            Fate::Paid,
            Fate::PaymentFailed,
            Fate::TimedOut,
            Fate::OutOfStock,
        ][n % 4]
    }

    /// The workflow state's status when the order has ended.
    pub fn status(self) -> &'static str {
        match self {
            Fate::Paid => "paid",
            Fate::PaymentFailed => "payment-failed",
            Fate::TimedOut => "timed-out",
            Fate::OutOfStock => "out-of-stock",
        }
    }

    /// The event types the order's stock stream ends with.
    pub fn stock(self) -> &'static [&'static str] {
        match self {
            Fate::Paid => &["StockReserved", "StockCommitted"],
            Fate::PaymentFailed | Fate::TimedOut => &["StockReserved", "StockReleased"],
            Fate::OutOfStock => &[],
        }
    }

    /// The event types the order's payment stream ends with.
    pub fn payment(self) -> &'static [&'static str] {
        match self {
            Fate::Paid => &["PaymentRequested", "PaymentSucceeded"],
            Fate::PaymentFailed => &["PaymentRequested", "PaymentFailed"],
            Fate::TimedOut => &["PaymentRequested", "PaymentExpired"],
            Fate::OutOfStock => &[],
        }
    }

    /// The units its cart holds.
    pub fn units(self) -> u64 {
        if self == Fate::OutOfStock { 500 } else { 2 }
    }

    /// The provider's answer, if it gives one.
    pub fn settle(self, order: &str) -> Option<String> {
        let succeeded = match self {
            Fate::Paid => true,
            Fate::PaymentFailed => false,
            Fate::TimedOut | Fate::OutOfStock => return None,
        };
        Some(
            json!({"type": "Settle", "data": {"orderId": order, "succeeded": succeeded, "reason": "card declined"}})
                .to_string(),
        )
    }

    /// The payment deadline its confirming client asks for: `short` for an order
    /// meant to time out, a long one for the others (they are settled first).
    pub fn timeout_ms(self, short: u64) -> u64 {
        if self == Fate::TimedOut {
            short
        } else {
            600_000
        }
    }
}

/// The three cart commands that confirm cart `order` holding `fate`'s units, its
/// confirmation carrying the payment deadline in its metadata.
pub fn cart_commands(order: &str, fate: Fate, timeout_ms: u64) -> [String; 3] {
    [
        json!({"type": "OpenCart", "data": {"cartId": order, "customerId": "c", "currency": "EUR", "channel": "web", "openedAt": "t"}}),
        json!({"type": "AddItem", "data": {"cartId": order, "sku": "SKU-1", "name": "Thing", "quantity": fate.units(), "unitPrice": 250, "addedAt": "t"}}),
        json!({"type": "ConfirmCart", "data": {"cartId": order}, "metadata": {"paymentTimeoutMs": timeout_ms}}),
    ]
    .map(|command| command.to_string())
}

/// The types of `events` (stream reads as JSON).
pub fn types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["type"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A child `refold serve` on `db` with the cart, stock and payment deciders and the
/// order flow, leases of one second (a killed server's are taken over soon), and the
/// failpoint `failpoint` set, if any.
pub fn serve_flow(db: &Db, failpoint: Option<&str>) -> Server {
    try_serve_flow(db, failpoint).unwrap_or_else(|problem| panic!("{problem}"))
}

/// [`serve_flow`], or the server's log when it exited before it listened (at its
/// failpoint, while it caught up at start).
pub fn try_serve_flow(db: &Db, failpoint: Option<&str>) -> Result<Server, String> {
    let deploys: Vec<String> = [
        ("cart", CART),
        ("stock", "stock"),
        ("payment", "payment"),
        ("order-flow", "order-flow"),
    ]
    .iter()
    .map(|(name, package)| format!("{name}={}", guests::wasm_path(package).display()))
    .collect();
    let mut args = vec!["--lease-ttl", "1s"];
    for deploy in &deploys {
        args.extend(["--deploy", deploy]);
    }
    let env: Vec<(&str, &str)> = failpoint
        .map(|f| ("REFOLD_FAILPOINT", f))
        .into_iter()
        .collect();
    db.try_serve_with_env(&args, &env)
}
