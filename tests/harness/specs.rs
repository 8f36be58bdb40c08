//! The example specs pass against the example modules; a wrong spec fails by field.

use super::{load, load_spec, runtime};
use crate::support::guests::{CART, CART_SUMMARY, COURSES, USERNAMES};
use refold::harness::{CaseReport, DeciderSpec, Error, ExpectedEvent, GivenEvent, Verdict};
use serde_json::json;

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
fn the_query_decider_specs_pass_against_the_courses_and_usernames_components() {
    let runtime = runtime();
    for (package, spec, cases) in [
        (COURSES, "examples/courses/specs/courses.yaml", 14),
        (USERNAMES, "examples/usernames/specs/usernames.yaml", 8),
    ] {
        let module = load(&runtime, package);
        let reports = load_spec(spec).unwrap().run(&module).unwrap();
        assert_eq!(failures(&reports), [], "{spec}");
        assert_eq!(reports.len(), cases, "{spec}");
    }
}

#[test]
fn a_query_decider_case_reads_only_what_the_query_matches_and_compares_streams_and_tags() {
    let runtime = runtime();
    let courses = load(&runtime, COURSES);
    let defined = |course: &str, tags: &[&str]| {
        GivenEvent::new(
            "CourseDefined",
            json!({"courseId": course, "name": "Rust", "capacity": 1}),
        )
        .in_stream(&format!("course-{course}"))
        .with_tags(tags.iter().copied())
    };
    let subscribe = json!({"type": "Subscribe", "data": {"courseId": "c1", "studentId": "s1"}});
    let subscribed = ExpectedEvent::new(
        "StudentSubscribed",
        json!({"courseId": "c1", "studentId": "s1"}),
    );
    let verdict = DeciderSpec::new(&courses)
        .given([defined("c1", &["course:c1"]), defined("c2", &["course:c2"])])
        .when(subscribe.clone())
        .then_events([subscribed
            .clone()
            .in_stream("course-c2")
            .with_tags(["course:c1", "student:s2"])])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            r#"events[0].stream: expected "course-c2", got "course-c1""#,
            r#"events[0].tags[1]: expected "student:s2", got "student:s1""#,
        ]
    );
    let verdict = DeciderSpec::new(&courses)
        .given([defined("c1", &["course:c2"])])
        .when(subscribe.clone())
        .then_events([subscribed.clone()])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [r#"events: expected 1 event, got a rejection: "there is no course c1""#],
        "the definition is tagged for another course: the query does not find it"
    );
    let verdict = DeciderSpec::new(&courses)
        .given([defined("c1", &["course:c1"])])
        .when(subscribe)
        .then_events([subscribed])
        .unwrap();
    assert_eq!(
        verdict.differences(),
        [
            r#"events[0].stream: expected no such field, got "course-c1""#,
            r#"events[0].tags: expected no such field, got ["course:c1","student:s1"]"#,
        ],
        "an exact case names the stream and the tags of each event"
    );
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
