//! Hot swap: a new version takes new calls while calls in flight finish on the old.

use crate::support::guests::{self, CART, FAULTY};
use crate::support::wait::{PATIENCE, wait_until};
use refold::runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn deploying_a_new_version_swaps_new_calls_while_a_call_in_flight_finishes_on_the_old() {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            call_timeout: Duration::from_secs(30),
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let v1 = runtime.deploy(runtime.load("shop", &guests::wasm(FAULTY)).unwrap());
    assert_eq!(v1.info().version, 1);
    // Warm an instance so the in-flight call starts at once.
    v1.decide(&[], r#"{"type":"Fine"}"#).unwrap().unwrap();
    let v2 = runtime.load("shop", &guests::wasm(CART)).unwrap();

    let (started_tx, started_rx) = mpsc::channel();
    let in_flight = {
        let runtime = runtime.clone();
        std::thread::spawn(move || {
            let module = runtime.module("shop").unwrap();
            started_tx.send(module.info().version).unwrap();
            let events = module
                .decide(&[], r#"{"type":"Spin","data":{"iterations":400000000}}"#)
                .unwrap()
                .unwrap();
            (module.info().version, events[0].event_type.clone())
        })
    };
    assert_eq!(started_rx.recv().unwrap(), 1);
    // Deploy once the guest is inside the spin, which lasts hundreds of milliseconds
    // (a deploy takes microseconds).
    wait_until(
        PATIENCE,
        "the spinning call to be in flight on v1",
        || v1.calls_in_flight(),
        |&calls| calls == 1,
    );

    let v2 = runtime.deploy(v2);
    assert_eq!(v2.info().version, 2);
    assert!(
        !in_flight.is_finished(),
        "the v1 call must still be running when v2 is deployed"
    );

    let current = runtime.module("shop").unwrap();
    assert_eq!(current.info().version, 2);
    let opened = current
        .decide(
            &current.initial_state().unwrap(),
            r#"{"type":"OpenCart","data":{"cartId":"cart-1","customerId":"c","currency":"EUR","channel":"web","openedAt":"t"}}"#,
        )
        .unwrap()
        .unwrap();
    assert_eq!(opened[0].event_type, "CartOpened");

    assert_eq!(in_flight.join().unwrap(), (1, "Spun".to_owned()));
    assert_eq!(runtime.modules().len(), 1);
    assert_eq!(runtime.modules()[0].version, 2);
}
