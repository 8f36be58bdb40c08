//! Every decider case checks that `evolve` and `decide` give the same bytes on a fresh
//! instance and on a warm one; every projection case checks the same of `apply`.

use super::{confirm, load, open_cart_with_one_item, runtime};
use crate::support::guests::{CART, FAULTY, HOSTILE_PROJECTION, STATEFUL};
use refold::harness::{
    DeciderSpec, ExpectedDocuments, ExpectedEvent, GivenEvent, ProjectionSpec, Rules,
};
use serde_json::json;

#[test]
fn a_module_keeping_global_state_in_decide_fails_the_determinism_check() {
    let runtime = runtime();
    let stateful = load(&runtime, STATEFUL);
    let verdict = DeciderSpec::new(&stateful)
        .when(json!({"type": "Count"}))
        .then_events([ExpectedEvent::new("Counted", json!({"decisions": 1}))])
        .unwrap();
    // The answer is the expected one the first time; deciding again on the warm
    // instance counts on.
    assert_eq!(
        verdict.differences(),
        [
            "decide is not deterministic: the same command on the same state gave other events on a warm instance than the first time — does the module keep global state?"
        ]
    );
}

#[test]
fn seeded_random_is_the_same_for_the_same_call_so_a_decide_making_uuids_passes() {
    let runtime = runtime();
    let faulty = load(&runtime, FAULTY);
    for _ in 0..2 {
        DeciderSpec::new(&faulty)
            .when(json!({"type": "Uuids"}))
            .matching(Rules::partial())
            .then_events([ExpectedEvent::of_type("Uuids")])
            .unwrap()
            .assert_passed();
    }
}

#[test]
fn a_projection_keeping_global_state_in_apply_fails_the_determinism_check() {
    let runtime = runtime();
    let hostile = load(&runtime, HOSTILE_PROJECTION);
    let verdict = ProjectionSpec::new(&hostile)
        .given([GivenEvent::new("Tally", json!({})).in_stream("t-1")])
        .then_documents(&ExpectedDocuments::new().document("docs", "t-1", json!({"applied": 1})))
        .unwrap();
    // The documents are the expected ones the first time; applying again on the warm
    // instance counts on.
    assert_eq!(
        verdict.differences(),
        [
            "apply is not deterministic: the events of partition 'default' wrote other documents on a warm instance than the first time — does the module keep global state?"
        ]
    );
}

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
