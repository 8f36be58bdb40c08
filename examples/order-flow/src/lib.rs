//! The order flow: a workflow taking a confirmed cart to a paid order, or back.
//!
//! When a cart is confirmed (`CartConfirmed`, the cart id is the order id), it
//! reserves the cart's units (the `stock` decider); once they are reserved it asks for
//! payment (the `payment` decider) and sets the order's deadline: an `Expire` of the
//! payment sent when the time is up. When the payment succeeds it commits the stock;
//! when it fails or expires it releases the stock (the compensation). An order asking
//! for more units than the stock holds ends out of stock. Each order ends in exactly
//! one of `paid`, `payment-failed`, `timed-out` and `out-of-stock`.
//!
//! The deadline is [`DEFAULT_TIMEOUT_MS`], or the `paymentTimeoutMs` the confirming
//! client put in the command's metadata (which every event of the command carries).

mod flow;

pub use flow::*;

refold_guest::export_workflow!(OrderFlow);
