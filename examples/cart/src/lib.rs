//! The shopping-cart decider: the write side of the example domain.
//!
//! Commands `OpenCart`, `AddItem`, `RemoveItem` and `ConfirmCart` become the events
//! `CartOpened`, `ItemAdded`, `ItemRemoved` and `CartConfirmed`, with the data shapes
//! of the standard cart workload. Built for `wasm32-wasip2` it is a Refold decider
//! component; built natively it is the same logic as a plain Rust library.

mod domain;

pub use domain::*;

refold_guest::export_decider!(Cart);
