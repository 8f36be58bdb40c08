//! The example specs pass against the example modules; a wrong spec fails by field.

use super::{load, load_spec, runtime};
use crate::support::guests::{CART, CART_SUMMARY};
use refold::harness::{CaseReport, Error, Verdict};

fn failures(reports: &[CaseReport]) -> Vec<(&str, &[String])> {
    reports
        .iter()
        .filter(|r| !r.verdict.passed())
        .map(|r| (r.name.as_str(), r.verdict.differences()))
        .collect()
}

#[test]
fn the_cart_spec_passes_against_the_cart_component() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let reports = load_spec("examples/cart/specs/cart.yaml")
        .unwrap()
        .run(&cart)
        .unwrap();
    assert_eq!(failures(&reports), []);
    assert_eq!(reports.len(), 14);
}

#[test]
fn the_cart_summary_spec_passes_against_the_projection_component() {
    let runtime = runtime();
    let summary = load(&runtime, CART_SUMMARY);
    let reports = load_spec("examples/cart-summary/specs/cart-summary.yaml")
        .unwrap()
        .run(&summary)
        .unwrap();
    assert_eq!(failures(&reports), []);
    assert_eq!(reports.len(), 7);
}

#[test]
fn a_wrong_spec_fails_naming_the_field_that_differs() {
    let runtime = runtime();
    let cart = load(&runtime, CART);
    let reports = load_spec("tests/fixtures/wrong-cart.yaml")
        .unwrap()
        .run(&cart)
        .unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].verdict, Verdict::default());
    assert_eq!(
        failures(&reports),
        [(
            "confirming with a wrong total",
            &["events[0].data.total: expected 235, got 234".to_owned()][..]
        )]
    );
}

#[test]
fn a_spec_for_the_other_world_is_an_error_naming_the_case() {
    let runtime = runtime();
    let summary = load(&runtime, CART_SUMMARY);
    let error = load_spec("examples/cart/specs/cart.yaml")
        .unwrap()
        .run(&summary)
        .unwrap_err();
    match &error {
        Error::Spec { case, problem, .. } => {
            assert_eq!(case.as_deref(), Some("opening a cart"));
            assert!(
                problem.starts_with(
                    "this is a decider case, but module 'cart-summary' is a projection module"
                ),
                "{problem}"
            );
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}
