//! A hot swap of the workflow module while instances are open: they go on under the
//! new version, none dropped.

use super::flow::{flow_status, order_engine, stream_types};
use super::orders::{Fate, cart_commands};
use crate::support::guests;
use crate::support::wait::{PATIENCE, wait_until};
use crate::support::{Backend, TestStore, block_on};
use refold::projections::FailurePolicy;
use refold::store::{DEFAULT_PARTITION, Direction};
use refold::workflows::{STEPPED, stream_of};

#[test]
fn open_instances_go_on_under_the_new_version() {
    let store = TestStore::new(Backend::Sqlite);
    let engine = order_engine(&store);
    let orders: Vec<(String, Fate)> = (0..8)
        .map(|n| (format!("s{n}"), [Fate::Paid, Fate::PaymentFailed][n % 2]))
        .collect();
    for (order, fate) in &orders {
        for command in cart_commands(order, *fate, fate.timeout_ms(0)) {
            let stream = format!("cart-{order}");
            block_on(
                engine
                    .commands()
                    .handle("cart", DEFAULT_PARTITION, &stream, &command),
            )
            .unwrap();
        }
    }
    wait_until(
        PATIENCE,
        "every order to await its payment",
        || {
            orders
                .iter()
                .filter(|(order, _)| {
                    stream_types(&engine, &format!("payment-{order}"))
                        .contains(&"PaymentRequested".to_owned())
                })
                .count()
        },
        |n| *n == orders.len(),
    );
    wait_until(
        PATIENCE,
        "8 open instances",
        || flow_status(&engine),
        |s| s.instances_open == 8,
    );
    let v2 = block_on(engine.deploy(
        "order-flow",
        &guests::wasm("order-flow-v2"),
        FailurePolicy::Stop,
    ))
    .unwrap();
    assert_eq!(v2.version, 2);
    for (order, fate) in &orders {
        let settle = fate.settle(order).unwrap();
        block_on(engine.commands().handle(
            "payment",
            DEFAULT_PARTITION,
            &format!("payment-{order}"),
            &settle,
        ))
        .unwrap();
    }
    let status = wait_until(
        PATIENCE,
        "every order to finish",
        || flow_status(&engine),
        |s| s.instances_finished == 8,
    );
    assert_eq!(
        (status.instances_open, status.version),
        (0, 2),
        "{status:?}"
    );
    for (order, fate) in &orders {
        assert_eq!(
            stream_types(&engine, &format!("stock-{order}")),
            fate.stock(),
            "stock of {order}"
        );
        let steps: Vec<serde_json::Value> = block_on(engine.store().read_stream(
            DEFAULT_PARTITION,
            &stream_of("order-flow", order),
            1,
            Direction::Forward,
            100,
        ))
        .unwrap()
        .iter()
        .filter(|e| e.event_type == STEPPED)
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
        let versions: Vec<u64> = steps
            .iter()
            .map(|s| s["version"].as_u64().unwrap())
            .collect();
        assert_eq!(
            versions,
            [1, 1, 1, 2],
            "the steps of {order}: v1 began it, v2 ended it"
        );
        assert_eq!(steps[3]["finished"], true, "{steps:?}");
    }
}
