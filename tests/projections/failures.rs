//! Failure policies: `stop` records the failing event and resumes there with a fixed
//! module; `skip` records it and applies the rest. Traps fail like reported errors,
//! and one failing projection holds up no other.

use super::{PATIENCE, Setup};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{self, CART_SUMMARY, FAULTY_PROJECTION};
use refold::Error;
use refold::projections::{FailurePolicy, ProjectionState};
use serde_json::json;

const OPENED: &str = r#"{"cartId":"cart-9","customerId":"customer-0009","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#;
const ADDED: &str = r#"{"cartId":"cart-9","sku":"SKU-00001","name":"Product 1","quantity":2,"unitPrice":100,"addedAt":"2024-01-01T00:00:01.000Z"}"#;

both_backends! {
fn stop_records_the_failing_event_and_a_fixed_module_resumes_there(backend: Backend) {
    let setup = Setup::new(backend);
    for _ in 0..3 {
        setup.append("counter-1", "Tick", "{}");
    }
    let poison = setup.append("counter-1", "Poison", "{}");
    setup.append("cart-9", "CartOpened", OPENED);
    let last = setup.append("cart-9", "ItemAdded", ADDED);

    let faulty = setup.module("counter", FAULTY_PROJECTION);
    block_on(setup.engine.deploy(faulty, FailurePolicy::Stop)).unwrap();
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();

    let waited = block_on(setup.engine.wait_for("counter", last, PATIENCE));
    match waited {
        Err(Error::ProjectionFaulted {
            projection,
            position,
            error,
        }) => {
            assert_eq!(projection, "counter");
            assert_eq!(position, poison);
            assert!(
                error.contains(&format!("event {poison} is poison")),
                "{error}"
            );
        }
        other => panic!("expected the projection to be faulted, got {other:?}"),
    }
    let status = setup.engine.status_of("counter").unwrap();
    assert_eq!(status.active.state, ProjectionState::Faulted);
    assert_eq!(status.active.faulted_at, Some(poison));
    assert_eq!(status.active.checkpoint, poison - 1);
    assert!(
        status
            .active
            .last_error
            .as_deref()
            .unwrap()
            .contains("is poison"),
        "{status:?}"
    );
    assert_eq!(
        setup
            .document("counter", "cart_summary", "counter-1")
            .unwrap()["events"],
        3
    );
    // The other projection is not held up.
    block_on(setup.engine.wait_for("cart-summary", last, PATIENCE)).unwrap();

    // The "fix": another module under the same name that does not fail on the event.
    let fixed = setup.runtime.deploy(
        setup
            .runtime
            .load("counter", &guests::wasm(CART_SUMMARY))
            .unwrap(),
    );
    block_on(setup.engine.deploy(fixed, FailurePolicy::Stop)).unwrap();
    block_on(setup.engine.wait_for("counter", last, PATIENCE)).unwrap();
    let status = setup.engine.status_of("counter").unwrap();
    assert_eq!(status.active.generation, 1, "resumed, not rebuilt");
    assert_eq!(status.active.version, 2);
    assert_eq!(status.active.faulted_at, None);
    assert_eq!(status.active.events_applied, 2, "{status:?}");
    // Resumed at the poison event: what was applied before it stays, the rest is new.
    assert_eq!(
        setup
            .document("counter", "cart_summary", "counter-1")
            .unwrap()["events"],
        3
    );
    assert_eq!(
        setup.document("counter", "cart_summary", "cart-9"),
        Some(json!({"cartId": "cart-9", "itemCount": 2, "total": 200, "status": "open"}))
    );
}
}

both_backends! {
fn skip_records_failing_events_and_applies_the_rest(backend: Backend) {
    let setup = Setup::new(backend);
    setup.append("counter-1", "Tick", "{}");
    setup.append("counter-1", "Poison", "{}");
    setup.append("counter-1", "Tick", "{}");
    setup.append("counter-1", "Trap", "{}");
    setup.append("counter-1", "Tick", "{}");
    let faulty = setup.module("counter", FAULTY_PROJECTION);
    block_on(setup.engine.deploy(faulty, FailurePolicy::Skip)).unwrap();
    setup.wait_for_head("counter");

    let status = setup.engine.status_of("counter").unwrap();
    assert_eq!(status.active.skipped, 2);
    assert_eq!(status.active.checkpoint, 5);
    assert_eq!(status.active.state, ProjectionState::Live);
    assert_eq!(status.active.events_applied, 3);
    assert_eq!(
        setup.document("counter", "cart_summary", "counter-1"),
        Some(json!({"stream": "counter-1", "events": 3, "lastPosition": 5}))
    );

    // Live events that fail are skipped too.
    setup.append("counter-1", "Poison", "{}");
    setup.append("counter-1", "Tick", "{}");
    setup.wait_for_head("counter");
    let status = setup.engine.status_of("counter").unwrap();
    assert_eq!(status.active.skipped, 3);
    assert_eq!(
        setup
            .document("counter", "cart_summary", "counter-1")
            .unwrap()["events"],
        4
    );
}
}
