//! The order flow in one engine, on both backends: every order ends as meant, each
//! command applied once, and the workflow's status says so.

use super::orders::{Fate, cart_commands};
use crate::support::guests::{self, CART};
use crate::support::wait::{PATIENCE, wait_until};
use crate::support::{TestStore, block_on, both_backends};
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::store::{DEFAULT_PARTITION, Direction};
use refold::workflows::{STEPPED, WorkflowStatus, stream_of};
use std::collections::HashMap;

/// An engine on `store` with the cart, stock and payment deciders and the order flow.
pub fn order_engine(store: &TestStore) -> Engine {
    let mut config = EngineConfig::new("unused.db");
    config.runtime = guests::cached_config();
    let engine = block_on(Engine::with_storage(store.storage(), config)).unwrap();
    for (name, package) in [
        ("cart", CART),
        ("stock", "stock"),
        ("payment", "payment"),
        ("order-flow", "order-flow"),
    ] {
        block_on(engine.deploy(name, &guests::wasm(package), FailurePolicy::Stop)).unwrap();
    }
    engine
}

/// The types of the events of `stream`.
pub fn stream_types(engine: &Engine, stream: &str) -> Vec<String> {
    block_on(
        engine
            .store()
            .read_stream(DEFAULT_PARTITION, stream, 1, Direction::Forward, 1000),
    )
    .unwrap()
    .into_iter()
    .map(|e| e.event_type)
    .collect()
}

/// The order flow's status.
pub fn flow_status(engine: &Engine) -> WorkflowStatus {
    block_on(engine.workflow_status())
        .unwrap()
        .into_iter()
        .find(|s| s.name == "order-flow")
        .expect("the order flow is deployed")
}

/// The status the order's workflow instance last recorded, and how many of its steps
/// finished it.
pub fn instance_end(engine: &Engine, order: &str) -> (String, usize) {
    let events = block_on(engine.store().read_stream(
        DEFAULT_PARTITION,
        &stream_of("order-flow", order),
        1,
        Direction::Forward,
        1000,
    ))
    .unwrap();
    let steps: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.event_type == STEPPED)
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let status = steps
        .last()
        .map(|s| s["state"]["status"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let finishing = steps.iter().filter(|s| s["finished"] == true).count();
    (status, finishing)
}

both_backends! {
fn every_order_ends_as_meant_with_each_command_applied_once(backend: Backend) {
    let store = TestStore::new(backend);
    let engine = order_engine(&store);
    let orders: Vec<(String, Fate)> = (0..8).map(|n| (format!("o{n}"), Fate::of(n))).collect();
    for (order, fate) in &orders {
        for command in cart_commands(order, *fate, fate.timeout_ms(300)) {
            block_on(engine.commands().handle("cart", DEFAULT_PARTITION, &format!("cart-{order}"), &command)).unwrap();
        }
    }
    // The provider answers once the payment is asked for.
    let mut settled = HashMap::new();
    wait_until(PATIENCE, "every payment asked for to be settled", || {
        for (order, fate) in &orders {
            let Some(settle) = fate.settle(order) else { continue };
            if settled.contains_key(order) || !stream_types(&engine, &format!("payment-{order}")).contains(&"PaymentRequested".to_owned()) {
                continue;
            }
            block_on(engine.commands().handle("payment", DEFAULT_PARTITION, &format!("payment-{order}"), &settle)).unwrap();
            settled.insert(order.clone(), ());
        }
        settled.len()
    }, |n| *n == orders.iter().filter(|(o, f)| f.settle(o).is_some()).count());
    let status = wait_until(PATIENCE, "every order to finish", || flow_status(&engine), |s| s.instances_finished == 8);
    assert_eq!((status.instances_open, status.timers_pending, status.lag > 0 && status.state.to_string() == "faulted"), (0, 0, false), "{status:?}");
    for (order, fate) in &orders {
        assert_eq!(stream_types(&engine, &format!("stock-{order}")), fate.stock(), "stock of {order} ({fate:?})");
        assert_eq!(stream_types(&engine, &format!("payment-{order}")), fate.payment(), "payment of {order} ({fate:?})");
        assert_eq!(instance_end(&engine, order), (fate.status().to_owned(), 1), "the instance of {order}");
    }
    assert!(status.last_error.is_none(), "{status:?}");
}
}
