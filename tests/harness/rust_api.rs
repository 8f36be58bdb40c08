//! The Rust API: what a case reports when the module answers something else.

use super::{added, confirm, load, open_cart_with_one_item, opened, runtime};
use crate::support::guests::{CART, CART_SUMMARY};
use refold::Error;
use refold::harness::{
    self, DeciderSpec, ExpectedDocuments, ExpectedEvent, GivenEvent, ProjectionSpec, Rules,
};
use serde_json::json;

#[test]
fn a_rejection_is_checked_by_the_text_it_contains() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let confirm_empty = || {
        DeciderSpec::new(&cart)
            .given([GivenEvent::new("CartOpened", opened())])
            .when(confirm())
    };
    confirm_empty().then_rejection().unwrap().assert_passed();
    confirm_empty()
        .then_rejection_containing("is empty")
        .unwrap()
        .assert_passed();
    assert_eq!(
        confirm_empty()
            .then_rejection_containing("is closed")
            .unwrap()
            .differences(),
        [r#"rejection: expected a rejection containing "is closed", got "cart cart-0 is empty""#]
    );
}

#[test]
fn events_and_rejections_in_the_wrong_place_are_named() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let confirm_full = || {
        DeciderSpec::new(&cart)
            .given(open_cart_with_one_item())
            .when(confirm())
    };
    assert_eq!(
        confirm_full()
            .then_rejection_containing("empty")
            .unwrap()
            .differences(),
        [r#"rejection: expected a rejection containing "empty", got events [CartConfirmed]"#]
    );
    assert_eq!(
        confirm_full()
            .matching(Rules::partial())
            .then_events([
                ExpectedEvent::of_type("CartConfirmed"),
                ExpectedEvent::of_type("ReceiptSent"),
            ])
            .unwrap()
            .differences(),
        [
            "events: expected 2 events [CartConfirmed, ReceiptSent], got 1 [CartConfirmed]",
            "events[1]: expected ReceiptSent, got no event",
        ]
    );
    assert_eq!(
        DeciderSpec::new(&cart)
            .when(confirm())
            .then_events([])
            .unwrap()
            .differences(),
        [
            r#"events: expected 0 events, got a rejection: "cannot confirm cart cart-0: it is not open""#
        ]
    );
    let verdict = DeciderSpec::new(&cart)
        .when(json!({"type": "Fly", "data": {}}))
        .then_rejection()
        .unwrap();
    let [difference] = verdict.differences() else {
        panic!("expected one difference: {verdict:?}");
    };
    assert!(
        difference.starts_with(
            r#"rejection: expected a rejection, got an invalid command: "the command is not a known command"#
        ) && difference.contains("unknown variant `Fly`"),
        "{difference}"
    );
}

#[test]
fn when_the_counts_differ_the_events_there_are_still_compared_field_by_field() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let confirmed = |total: u64| {
        ExpectedEvent::new(
            "CartConfirmed",
            json!({"cartId": "cart-0", "itemCount": 2, "total": total, "paymentMethod": "card", "confirmedAt": "2024-01-01T00:10:00.000Z"}),
        )
    };
    // One event missing, and a wrong field in the one that is there.
    let verdict = DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .then_events([
            confirmed(235),
            ExpectedEvent::new("ReceiptSent", json!({"cartId": "cart-0"})),
        ])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            "events: expected 2 events [CartConfirmed, ReceiptSent], got 1 [CartConfirmed]",
            "events[0].data.total: expected 235, got 234",
            r#"events[1]: expected ReceiptSent {"cartId":"cart-0"}, got no event"#,
        ]
    );
    // An event more than expected.
    let verdict = DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .then_events([])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            "events: expected 0 events [], got 1 [CartConfirmed]",
            r#"events[0]: expected no event, got CartConfirmed {"cartId":"cart-0","confirmedAt":"2024-01-01T00:10:00.000Z","itemCount":2,"paymentMethod":"card","total":234}"#,
        ]
    );
    // The right events still pass.
    DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .then_events([confirmed(234)])
        .unwrap()
        .assert_passed();
}

#[test]
fn an_invalid_command_is_expected_apart_from_a_rejection() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let fly = || DeciderSpec::new(&cart).when(json!({"type": "Fly", "data": {}}));
    fly().then_invalid().unwrap().assert_passed();
    fly()
        .then_invalid_containing("unknown variant `Fly`")
        .unwrap()
        .assert_passed();
    let verdict = fly().then_invalid_containing("Walk").unwrap();
    let [difference] = verdict.differences() else {
        panic!("one difference");
    };
    assert!(
        difference.starts_with(
            r#"invalid: expected an invalid command containing "Walk", got an invalid command: "the command is not a known command"#
        ) && difference.ends_with(" at when.type"),
        "{difference}"
    );
    // A rejection is not an invalid command, nor the reverse.
    assert_eq!(
        DeciderSpec::new(&cart)
            .when(confirm())
            .then_invalid()
            .unwrap()
            .differences(),
        [
            r#"invalid: expected an invalid command, got a rejection: "cannot confirm cart cart-0: it is not open""#
        ]
    );
    assert_eq!(
        DeciderSpec::new(&cart)
            .when(json!({"type": "OpenCart", "data": {"cartId": "cart-0", "customerId": "c", "currency": "EUR", "channel": "web", "openedAt": "2024-01-01T00:00:00.000Z"}}))
            .then_invalid()
            .unwrap()
            .differences(),
        ["invalid: expected an invalid command, got events [CartOpened]"]
    );
}

#[test]
fn a_guest_fault_is_a_difference_not_an_error() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let verdict = DeciderSpec::new(&cart)
        .given([GivenEvent::new("ItemAdded", json!({"cartId": "cart-0"}))])
        .when(confirm())
        .then_rejection()
        .unwrap();
    let differences = verdict.differences();
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].starts_with("given: module 'cart' failed in evolve: reported an error: event 1 (ItemAdded at 1 of spec-stream) cannot be read"),
        "{}",
        differences[0]
    );
}

#[test]
fn a_module_of_the_other_world_is_an_error() {
    let runtime = runtime();
    let summary = load(&runtime, CART_SUMMARY);
    let error = DeciderSpec::new(&summary)
        .when(confirm())
        .then_rejection()
        .unwrap_err();
    assert!(
        matches!(
            error,
            harness::Error::Engine(Error::NotA {
                wanted: "decider",
                ..
            })
        ),
        "{error:?}"
    );
}

#[test]
fn each_partition_has_its_own_documents() {
    let runtime = runtime();
    let summary = load(&runtime, CART_SUMMARY);
    ProjectionSpec::new(&summary)
        .given([
            GivenEvent::new("CartOpened", opened()).in_stream("cart-0"),
            GivenEvent::new("CartOpened", opened())
                .in_stream("cart-0")
                .in_partition("tenant-b"),
            GivenEvent::new("ItemAdded", added())
                .in_stream("cart-0")
                .in_partition("tenant-b"),
        ])
        .then_documents(
            &ExpectedDocuments::new()
                .document(
                    "cart_summary",
                    "cart-0",
                    json!({"cartId": "cart-0", "itemCount": 0, "total": 0, "status": "open"}),
                )
                .in_partition(
                    "tenant-b",
                    "cart_summary",
                    "cart-0",
                    Some(
                        json!({"cartId": "cart-0", "itemCount": 2, "total": 234, "status": "open"}),
                    ),
                ),
        )
        .unwrap()
        .assert_passed();
}

#[test]
#[should_panic(expected = "the case failed:\n  events[0].data.total: expected 1, got 234")]
fn assert_passed_panics_with_the_differences() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(refold::harness::Rules::partial())
        .then_events([ExpectedEvent::new("CartConfirmed", json!({"total": 1}))])
        .unwrap()
        .assert_passed();
}
