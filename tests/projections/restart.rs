//! A restarted engine resumes every projection from its checkpoint: nothing applied
//! before is applied again.

use super::Setup;
use crate::support::guests::FAULTY_PROJECTION;
use refold::projections::{FailurePolicy, ProjectionState};

#[test]
fn redeploying_after_a_restart_resumes_from_the_checkpoint() {
    let setup = Setup::new();
    for i in 0..120 {
        setup.append(&format!("counter-{}", i % 3), "Tick", "{}");
    }
    let counter = setup.module("counter", FAULTY_PROJECTION);
    setup.engine.deploy(counter, FailurePolicy::Stop).unwrap();
    setup.wait_for_head("counter");
    assert_eq!(
        setup
            .engine
            .status_of("counter")
            .unwrap()
            .active
            .events_applied,
        120
    );

    let Setup { engine, store, .. } = setup;
    drop(engine);
    let store = store.reopen();
    let setup = Setup::over(store);
    for i in 0..30 {
        setup.append(&format!("counter-{}", i % 3), "Tick", "{}");
    }
    let status = setup.engine.status();
    assert!(status.is_empty(), "nothing runs before it is deployed");

    let counter = setup.module("counter", FAULTY_PROJECTION);
    setup.engine.deploy(counter, FailurePolicy::Stop).unwrap();
    setup.wait_for_head("counter");
    let status = setup.engine.status_of("counter").unwrap();
    assert_eq!(
        status.active.events_applied, 30,
        "only the new events are applied"
    );
    assert_eq!(status.active.generation, 1, "resumed, not rebuilt");
    assert_eq!(status.active.checkpoint, 150);
    assert_eq!(status.active.state, ProjectionState::Live);
    for stream in 0..3 {
        assert_eq!(
            setup
                .document("counter", "cart_summary", &format!("counter-{stream}"))
                .unwrap()["events"],
            50
        );
    }
}
