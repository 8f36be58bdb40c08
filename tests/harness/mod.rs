//! The given/when/then harness: spec files and the Rust API, against real components.

mod determinism;
mod malformed;
mod rules;
mod rust_api;
mod specs;

use crate::support::guests::{self, workspace_root};
use refold::harness::{GivenEvent, ModuleUnderTest, SpecFile};
use refold::runtime::{Runtime, RuntimeConfig};
use serde_json::{Value, json};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).expect("runtime starts")
}

/// The component built from `package`, loaded under its package name.
fn load<'r>(runtime: &'r Runtime, package: &str) -> ModuleUnderTest<'r> {
    ModuleUnderTest::load(runtime, package, guests::wasm(package)).expect("the component loads")
}

/// The spec file at `path`, relative to the repository's root.
fn load_spec(path: &str) -> refold::harness::Result<SpecFile> {
    SpecFile::load(&workspace_root().join(path))
}

/// `CartOpened` of cart 0 of the standard workload, as data.
fn opened() -> Value {
    json!({"cartId": "cart-0", "customerId": "customer-0000", "currency": "EUR", "channel": "web", "openedAt": "2024-01-01T00:00:00.000Z"})
}

/// The first `ItemAdded` of cart 0 of the standard workload, as data.
fn added() -> Value {
    json!({"cartId": "cart-0", "sku": "SKU-00001", "name": "Product 1", "quantity": 2, "unitPrice": 117, "addedAt": "2024-01-01T00:00:01.000Z"})
}

/// Cart 0, opened with one line of 2 × 117 cents.
fn open_cart_with_one_item() -> [GivenEvent; 2] {
    [
        GivenEvent::new("CartOpened", opened()).in_stream("cart-0"),
        GivenEvent::new("ItemAdded", added()).in_stream("cart-0"),
    ]
}

fn confirm() -> Value {
    json!({"type": "ConfirmCart", "data": {"cartId": "cart-0"}})
}
