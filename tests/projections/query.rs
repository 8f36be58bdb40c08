//! A projection that declares a query instead of event types gets exactly the events
//! the query matches, in catch-up and live, and the harness runs it the same way; one
//! that declares both is refused.

use super::Setup;
use crate::support::guests::{self, BOTH_FILTERS, TAGGED_COUNTER};
use crate::support::{block_on, both_backends};
use refold::Error;
use refold::harness::{ExpectedDocuments, GivenEvent, ModuleUnderTest, ProjectionSpec};
use refold::projections::FailurePolicy;
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{AppendRequest, EventData, ExpectedVersion};
use serde_json::json;

/// Append one event of `event_type` carrying `tags` to `stream`.
fn append_tagged(setup: &Setup, stream: &str, event_type: &str, tags: &[&str]) -> u64 {
    let event = EventData::new(event_type, "{}").with_tags(tags.iter().copied());
    let request = AppendRequest::new(stream, ExpectedVersion::Any, vec![event]);
    block_on(setup.store.append(request)).unwrap().last_position
}

both_backends! {
fn a_projection_declaring_a_query_gets_only_the_events_it_matches(backend: Backend) {
    let setup = Setup::new(backend);
    append_tagged(&setup, "s-1", "Visited", &["vip", "region:eu"]);
    append_tagged(&setup, "s-1", "Visited", &["region:eu"]);
    append_tagged(&setup, "s-1", "Audit", &[]);
    append_tagged(&setup, "s-2", "Visited", &[]);
    let counter = setup.module("tagged", TAGGED_COUNTER);
    assert_eq!(
        counter.projection_query().map(|q| serde_json::to_value(q).unwrap()),
        Some(json!({"items": [{"tags": ["vip"]}, {"types": ["Audit"]}]}))
    );
    block_on(setup.engine.deploy(counter, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("tagged");
    assert_eq!(
        setup.document("tagged", "tagged", "s-1"),
        Some(json!({"events": 2, "lastPosition": 3})),
        "the event tagged vip and the Audit event, not the one tagged only region:eu"
    );
    assert_eq!(setup.document("tagged", "tagged", "s-2"), None);

    // Live: the query keeps choosing.
    append_tagged(&setup, "s-2", "Visited", &["region:us"]);
    let vip = append_tagged(&setup, "s-2", "Bought", &["vip"]);
    setup.wait_for_head("tagged");
    assert_eq!(
        setup.document("tagged", "tagged", "s-2"),
        Some(json!({"events": 1, "lastPosition": vip}))
    );
    let status = setup.engine.status_of("tagged").unwrap().active;
    assert_eq!((status.events_applied, status.checkpoint), (3, vip), "{status:?}");
}
}

#[test]
fn the_harness_folds_only_what_a_projections_query_matches() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let counter = ModuleUnderTest::load(&runtime, "tagged", guests::wasm(TAGGED_COUNTER)).unwrap();
    let given = |event_type: &str, tags: &[&str]| {
        GivenEvent::new(event_type, json!({}))
            .in_stream("s-1")
            .with_tags(tags.iter().copied())
    };
    ProjectionSpec::new(&counter)
        .given([
            given("Visited", &["region:eu"]),
            given("Visited", &["vip"]),
            given("Audit", &[]),
            given("Visited", &[]),
        ])
        .then_documents(&ExpectedDocuments::new().document(
            "tagged",
            "s-1",
            json!({"events": 2, "lastPosition": 3}),
        ))
        .unwrap()
        .assert_passed();
}

#[test]
fn a_projection_declaring_event_types_and_a_query_is_refused() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let both = guests::wasm(BOTH_FILTERS);
    match runtime.load("both", &both) {
        Err(
            error @ Error::ModuleRefused {
                function: "event-query",
                ..
            },
        ) => {
            let message = error.to_string();
            assert!(
                message.contains("declares both event types (Audit) and a query"),
                "{message}"
            );
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a projection with two filters was loaded"),
    }
}
