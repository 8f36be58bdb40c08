//! The payment decider of the order flow: one stream per order (`payment-<order>`).
//! A payment is requested, then settled by the payment provider (succeeded or failed)
//! or expired when the order's time is up, whichever comes first; after that, the
//! others are refused.
//!
//! Commands `Request`, `Settle` and `Expire` become `PaymentRequested`,
//! `PaymentSucceeded` or `PaymentFailed`, and `PaymentExpired`.

use refold_guest::{Context, Decider, Rejection};
use serde::{Deserialize, Serialize};

/// Where an order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentState {
    /// Not requested.
    #[default]
    None,
    /// Requested, waiting for the provider.
    Requested,
    /// Paid.
    Succeeded,
    /// Refused by the provider.
    Failed,
    /// Not settled in time.
    Expired,
}

/// Data of `Request` and `PaymentRequested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The order.
    pub order_id: String,
    /// The amount, in cents.
    pub amount: u64,
}

/// Data of `Settle`: the provider's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settle {
    /// The order.
    pub order_id: String,
    /// Whether the money came.
    pub succeeded: bool,
    /// Why not, when it did not.
    #[serde(default)]
    pub reason: String,
}

/// Data of `Expire`, `PaymentSucceeded` and `PaymentExpired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRef {
    /// The order.
    pub order_id: String,
}

/// Data of `PaymentFailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    /// The order.
    pub order_id: String,
    /// The provider's reason.
    pub reason: String,
}

/// The commands of an order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PaymentCommand {
    /// Ask the customer to pay.
    Request(Request),
    /// The provider's answer.
    Settle(Settle),
    /// The order's time is up.
    Expire(OrderRef),
}

/// The events of an order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PaymentEvent {
    /// Payment was asked for.
    PaymentRequested(Request),
    /// It came.
    PaymentSucceeded(OrderRef),
    /// The provider refused it.
    PaymentFailed(Failed),
    /// It did not come in time.
    PaymentExpired(OrderRef),
}

/// The payment decider.
pub struct Payment;

impl Decider for Payment {
    type State = PaymentState;
    type Command = PaymentCommand;
    type Event = PaymentEvent;

    fn initial_state() -> PaymentState {
        PaymentState::None
    }

    fn evolve(_: PaymentState, event: PaymentEvent) -> PaymentState {
        match event {
            PaymentEvent::PaymentRequested(_) => PaymentState::Requested,
            PaymentEvent::PaymentSucceeded(_) => PaymentState::Succeeded,
            PaymentEvent::PaymentFailed(_) => PaymentState::Failed,
            PaymentEvent::PaymentExpired(_) => PaymentState::Expired,
        }
    }

    fn decide(
        command: PaymentCommand,
        state: &PaymentState,
        _: &Context,
    ) -> Result<Vec<PaymentEvent>, Rejection> {
        match command {
            PaymentCommand::Request(request) => {
                if *state != PaymentState::None {
                    return Err(Rejection::new(format!(
                        "the payment of order {} is already {state:?}",
                        request.order_id
                    )));
                }
                Ok(vec![PaymentEvent::PaymentRequested(request)])
            }
            PaymentCommand::Settle(settle) => {
                require_requested(state, &settle.order_id, "settle")?;
                Ok(vec![if settle.succeeded {
                    PaymentEvent::PaymentSucceeded(OrderRef {
                        order_id: settle.order_id,
                    })
                } else {
                    PaymentEvent::PaymentFailed(Failed {
                        order_id: settle.order_id,
                        reason: settle.reason,
                    })
                }])
            }
            PaymentCommand::Expire(order) => {
                require_requested(state, &order.order_id, "expire")?;
                Ok(vec![PaymentEvent::PaymentExpired(order)])
            }
        }
    }
}

fn require_requested(state: &PaymentState, order: &str, action: &str) -> Result<(), Rejection> {
    if *state == PaymentState::Requested {
        Ok(())
    } else {
        Err(Rejection::new(format!(
            "cannot {action} the payment of order {order}: it is {state:?}"
        )))
    }
}

refold_guest::export_decider!(Payment);
