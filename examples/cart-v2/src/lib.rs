//! The shopping-cart decider, version 2: prices carry their currency.
//!
//! Version 1 (`examples/cart`) records `ItemAdded` and `ItemRemoved` with a
//! `unitPrice` in cents; version 2 records `price: {amount, currency}` (amount in
//! cents). Everything else is version 1's. Stores written by version 1 are read by
//! version 2 through the upcaster `examples/cart-upcaster`, which turns the old shapes
//! into these.

/// Version 1's types, for what did not change.
#[path = "../../cart/src/domain.rs"]
pub mod v1;

pub mod domain;

pub use domain::*;

refold_guest::export_decider!(CartV2);
