//! Command handling with real deciders over a real store of each backend.

mod cache;
mod handling;
mod hot_swap;
mod identity;
mod metadata;
mod query;
mod snapshots;

use crate::support::guests::{self, CART};
use crate::support::{Backend, TestStore};
use refold::commands::{CommandConfig, CommandHandler};
use refold::runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;

/// A fresh store of `backend`, a runtime with the cart deployed as `cart`, and a handler over both.
struct Engine {
    store: TestStore,
    runtime: Arc<Runtime>,
    handler: CommandHandler,
}

fn engine(backend: Backend, config: CommandConfig) -> Engine {
    let store = TestStore::new(backend);
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    runtime.deploy(runtime.load("cart", &guests::wasm(CART)).unwrap());
    let handler = CommandHandler::new(store.shared(), runtime.clone(), config);
    Engine {
        store,
        runtime,
        handler,
    }
}

fn open_cart(cart: &str) -> String {
    format!(
        r#"{{"type":"OpenCart","data":{{"cartId":"{cart}","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}}}"#
    )
}

fn add_item(cart: &str, sku: &str, quantity: u64, unit_price: u64) -> String {
    format!(
        r#"{{"type":"AddItem","data":{{"cartId":"{cart}","sku":"{sku}","name":"Product","quantity":{quantity},"unitPrice":{unit_price},"addedAt":"2024-01-01T00:00:01.000Z"}}}}"#
    )
}

fn remove_item(cart: &str, sku: &str) -> String {
    format!(r#"{{"type":"RemoveItem","data":{{"cartId":"{cart}","sku":"{sku}"}}}}"#)
}

fn confirm(cart: &str) -> String {
    format!(r#"{{"type":"ConfirmCart","data":{{"cartId":"{cart}"}}}}"#)
}
