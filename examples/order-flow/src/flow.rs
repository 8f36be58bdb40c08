//! The order flow's types and rules, with no export: `lib.rs` exports them as a
//! component, and the test fixture of a second version builds on the same source.

use refold_guest::{Event, Outcome, SendCommand, Step, Workflow};
use serde::{Deserialize, Serialize};

/// How long an order waits for its payment unless told otherwise: 30 seconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Nothing happened yet.
    #[default]
    New,
    /// Its units are being reserved.
    Reserving,
    /// Reserved; waiting for the payment.
    AwaitingPayment,
    /// Paid, stock committed.
    Paid,
    /// The payment failed; stock released.
    PaymentFailed,
    /// The payment did not come in time; stock released.
    TimedOut,
    /// Not enough stock.
    OutOfStock,
}

/// An order's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Where it stands.
    pub status: Status,
    /// Units ordered.
    pub units: u64,
    /// Amount to pay, in cents.
    pub amount: u64,
    /// How long the payment may take, in milliseconds.
    pub timeout_ms: u64,
}

/// Data of the cart's `CartConfirmed` the flow reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    /// The cart, and so the order.
    pub cart_id: String,
    /// Units in the cart.
    pub item_count: u64,
    /// Its total, in cents.
    pub total: u64,
}

/// Data of the payment events the flow reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOf {
    /// The order.
    pub order_id: String,
}

/// The events the flow reacts to.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Input {
    /// A cart was confirmed: an order begins.
    CartConfirmed(Confirmed),
    /// The order was paid.
    PaymentSucceeded(PaymentOf),
    /// The provider refused the payment.
    PaymentFailed(PaymentOf),
    /// The payment did not come in time.
    PaymentExpired(PaymentOf),
}

impl Input {
    fn order_id(&self) -> &str {
        match self {
            Input::CartConfirmed(confirmed) => &confirmed.cart_id,
            Input::PaymentSucceeded(p) | Input::PaymentFailed(p) | Input::PaymentExpired(p) => {
                &p.order_id
            }
        }
    }
}

/// The order flow.
pub struct OrderFlow;

fn stock(order: &str, command: &str, data: serde_json::Value) -> SendCommand {
    let command = serde_json::json!({ "type": command, "data": data });
    SendCommand::new("stock", format!("stock-{order}"), &command)
}

fn payment(order: &str, command: &str, data: serde_json::Value) -> SendCommand {
    let command = serde_json::json!({ "type": command, "data": data });
    SendCommand::new("payment", format!("payment-{order}"), &command)
}

impl Workflow for OrderFlow {
    type State = Order;
    type Input = Input;
    const EVENT_TYPES: &'static [&'static str] = &[
        "CartConfirmed",
        "PaymentSucceeded",
        "PaymentFailed",
        "PaymentExpired",
    ];

    fn initial_state() -> Order {
        Order::default()
    }

    fn instance_of(input: &Input, _: &Event) -> Option<String> {
        Some(input.order_id().to_owned())
    }

    fn on_event(
        order: &str,
        mut state: Order,
        input: Input,
        envelope: &Event,
    ) -> Result<Step<Order>, String> {
        let id = serde_json::json!({ "orderId": order });
        Ok(match (state.status, input) {
            (Status::New, Input::CartConfirmed(confirmed)) => {
                state.status = Status::Reserving;
                state.units = confirmed.item_count;
                state.amount = confirmed.total;
                state.timeout_ms = serde_json::from_str::<serde_json::Value>(&envelope.metadata)
                    .ok()
                    .and_then(|m| m.get("paymentTimeoutMs").and_then(|t| t.as_u64()))
                    .unwrap_or(DEFAULT_TIMEOUT_MS);
                let reserve = serde_json::json!({ "orderId": order, "units": state.units });
                Step::new(state).send(stock(order, "Reserve", reserve))
            }
            (Status::AwaitingPayment, Input::PaymentSucceeded(_)) => {
                state.status = Status::Paid;
                Step::new(state).send(stock(order, "Commit", id)).finish()
            }
            (Status::AwaitingPayment, Input::PaymentFailed(_)) => {
                state.status = Status::PaymentFailed;
                Step::new(state).send(stock(order, "Release", id)).finish()
            }
            (Status::AwaitingPayment, Input::PaymentExpired(_)) => {
                state.status = Status::TimedOut;
                Step::new(state).send(stock(order, "Release", id)).finish()
            }
            // A cart confirmed twice, or a payment event out of turn: nothing to do.
            _ => Step::new(state),
        })
    }

    fn on_outcome(order: &str, mut state: Order, outcome: Outcome) -> Result<Step<Order>, String> {
        Ok(
            match (state.status, outcome.command.command_type().as_str()) {
                (Status::Reserving, "Reserve") if outcome.accepted() => {
                    state.status = Status::AwaitingPayment;
                    let request = serde_json::json!({ "orderId": order, "amount": state.amount });
                    let expire = serde_json::json!({ "orderId": order });
                    let timeout = state.timeout_ms;
                    Step::new(state)
                        .send(payment(order, "Request", request))
                        .send(payment(order, "Expire", expire).after_ms(timeout))
                }
                (Status::Reserving, "Reserve") => {
                    state.status = Status::OutOfStock;
                    Step::new(state).finish()
                }
                // The payment's request and its expiry answer through the payment's
                // events, which the flow reacts to.
                _ => Step::new(state),
            },
        )
    }
}
