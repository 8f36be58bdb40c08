//! Match rules: exact by default, partial on request, and ignored paths; each test
//! fails without the rule it is about.

use super::{confirm, load, open_cart_with_one_item, opened, runtime};
use crate::support::guests::{CART, CART_SUMMARY};
use refold::harness::{
    DeciderSpec, ExpectedDocuments, ExpectedEvent, GivenEvent, IgnorePath, ProjectionSpec, Rules,
};
use serde_json::json;

/// `CartConfirmed` of the one-item cart without its `confirmedAt`.
fn confirmed_without_time() -> ExpectedEvent {
    ExpectedEvent::new(
        "CartConfirmed",
        json!({"cartId": "cart-0", "itemCount": 2, "total": 234, "paymentMethod": "card"}),
    )
}

#[test]
fn exact_matching_reports_a_field_the_spec_leaves_out() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let verdict = DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .then_events([confirmed_without_time()])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [r#"events[0].data.confirmedAt: expected no such field, got "2024-01-01T00:10:00.000Z""#]
    );
}

#[test]
fn partial_matching_accepts_omitted_fields_but_still_compares_the_rest() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(Rules::partial())
        .then_events([ExpectedEvent::new("CartConfirmed", json!({"total": 234}))])
        .unwrap()
        .assert_passed();

    let verdict = DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(Rules::partial())
        .then_events([ExpectedEvent::new(
            "CartConfirmed",
            json!({"total": 235, "discount": 0}),
        )])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            "events[0].data.discount: expected 0, got no such field",
            "events[0].data.total: expected 235, got 234",
        ]
    );
}

#[test]
fn ignored_paths_are_skipped_and_nothing_else_is() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let ignoring_time = Rules::exact().ignoring("data.confirmedAt").unwrap();
    DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(ignoring_time.clone())
        .then_events([confirmed_without_time()])
        .unwrap()
        .assert_passed();

    let verdict = DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(ignoring_time)
        .then_events([ExpectedEvent::new(
            "CartConfirmed",
            json!({"cartId": "cart-0", "itemCount": 2, "total": 234, "paymentMethod": "cash", "confirmedAt": "never"}),
        )])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [r#"events[0].data.paymentMethod: expected "cash", got "card""#]
    );

    // A wildcard step matches any field; `metadata` expected but not produced is skipped.
    DeciderSpec::new(&cart)
        .given(open_cart_with_one_item())
        .when(confirm())
        .matching(
            Rules::exact()
                .ignoring("*.confirmedAt")
                .unwrap()
                .ignoring("metadata")
                .unwrap(),
        )
        .then_events([confirmed_without_time().with_metadata(json!({"by": "spec"}))])
        .unwrap()
        .assert_passed();
}

#[test]
fn ignore_paths_have_a_small_checked_syntax() {
    for good in [
        "metadata",
        "data.confirmedAt",
        "data.lines[0].sku",
        "data.lines[*]",
        "*.total",
        "[2]",
    ] {
        assert_eq!(IgnorePath::parse(good).unwrap().as_str(), good);
    }
    for (bad, problem) in [
        ("", "the path is empty"),
        ("data..total", "a field name is empty"),
        ("data.", "a field name is empty"),
        (
            "lines[x]",
            "`[x]` is not an array index: use a number or `*`",
        ),
        ("lines[0", "an opening `[` has no closing `]`"),
        ("lines[0]sku", "expected `.` or `[` before `sku`"),
    ] {
        assert_eq!(
            IgnorePath::parse(bad).unwrap_err().to_string(),
            format!("ignore path '{bad}' is malformed: {problem}")
        );
    }
}

#[test]
fn documents_compare_field_by_field_and_exactly_by_default() {
    let runtime = runtime();
    let summary = load(&runtime, CART_SUMMARY);
    let given = || {
        [
            GivenEvent::new("CartOpened", opened()).in_stream("cart-0"),
            GivenEvent::new("CartOpened", json!({"cartId": "cart-1"})).in_stream("cart-1"),
        ]
    };
    let expected = ExpectedDocuments::new().document(
        "cart_summary",
        "cart-0",
        json!({"cartId": "cart-0", "itemCount": 2, "total": 0, "status": "open"}),
    );

    let verdict = ProjectionSpec::new(&summary)
        .given(given())
        .then_documents(&expected)
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            "documents.cart_summary.cart-0.itemCount: expected 2, got 0",
            r#"documents.cart_summary.cart-1: expected no document, got {"cartId":"cart-1","itemCount":0,"status":"open","total":0}"#,
        ]
    );

    // Partial: only the documents named are checked, and only the fields written out.
    let verdict = ProjectionSpec::new(&summary)
        .given(given())
        .matching(Rules::partial())
        .then_documents(
            &ExpectedDocuments::new()
                .document("cart_summary", "cart-0", json!({"status": "open"}))
                .absent("cart_summary", "cart-1")
                .document("cart_summary", "cart-2", json!({})),
        )
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            r#"documents.cart_summary.cart-1: expected no document, got {"cartId":"cart-1","itemCount":0,"status":"open","total":0}"#,
            "documents.cart_summary.cart-2: expected a document, got none",
        ]
    );
}
