//! Every decider case checks that `evolve` gives the same state on a fresh instance
//! and on a warm one.

use super::{confirm, load, open_cart_with_one_item, runtime};
use crate::support::guests::{CART, STATEFUL};
use refold::harness::{DeciderSpec, ExpectedEvent, GivenEvent};
use serde_json::json;

#[test]
fn a_module_keeping_global_state_in_evolve_fails_the_determinism_check() {
    let runtime = runtime();
    let stateful = load(&runtime, STATEFUL);
    let verdict = DeciderSpec::new(&stateful)
        .given([GivenEvent::new("Happened", json!({}))])
        .when(json!({"type": "Note"}))
        .then_events([ExpectedEvent::new("Noted", json!({}))])
        .unwrap();
    // The events are as expected: the only difference is the hidden state. The fresh
    // instance folds once (`"folds":1`); the warm one has folded for the case before.
    assert_eq!(
        verdict.differences(),
        [
            "evolve is not deterministic: folding the given events on a fresh instance and on a warm one gave different states (22 vs 22 bytes) — does the module keep global state?"
        ]
    );
}

#[test]
fn the_cart_passes_the_determinism_check() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    for _ in 0..2 {
        DeciderSpec::new(&cart)
            .given(open_cart_with_one_item())
            .when(confirm())
            .then_events([ExpectedEvent::new(
                "CartConfirmed",
                json!({"cartId": "cart-0", "itemCount": 2, "total": 234, "paymentMethod": "card", "confirmedAt": "2024-01-01T00:10:00.000Z"}),
            )])
            .unwrap()
            .assert_passed();
    }
}
