//! A restarted engine resumes every projection, and every rebuild, from its
//! checkpoint: nothing applied before is applied again.

use super::{PATIENCE, Setup};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{CART_SUMMARY, FAULTY_PROJECTION};
use crate::support::wait::wait_until;
use refold::projections::{FailurePolicy, ProjectionState};
use refold_workload as workload;

both_backends! {
fn redeploying_after_a_restart_resumes_from_the_checkpoint(backend: Backend) {
    let setup = Setup::new(backend);
    for i in 0..120 {
        setup.append(&format!("counter-{}", i % 3), "Tick", "{}");
    }
    let counter = setup.module("counter", FAULTY_PROJECTION);
    block_on(setup.engine.deploy(counter, FailurePolicy::Stop)).unwrap();
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
    block_on(setup.engine.deploy(counter, FailurePolicy::Stop)).unwrap();
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
}

both_backends! {
fn a_rebuild_interrupted_by_a_restart_resumes_from_its_own_checkpoint(backend: Backend) {
    let setup = Setup::new(backend);
    block_on(workload::append_carts(&*setup.store, 2_000, 16)).unwrap();
    let v1 = setup.module("summary", CART_SUMMARY);
    block_on(setup.engine.deploy(v1, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("summary");
    let v2 = setup.module("summary", FAULTY_PROJECTION);
    block_on(setup.engine.deploy(v2, FailurePolicy::Stop)).unwrap();
    // Stop the process once the rebuild has committed its first batch.
    wait_until(
        PATIENCE,
        "the rebuild to commit its first batch",
        || setup.engine.status_of("summary").unwrap().rebuild,
        |rebuild| rebuild.as_ref().is_none_or(|r| r.checkpoint > 0),
    )
    .expect("the rebuild took over before the restart");

    let Setup { engine, store, .. } = setup;
    drop(engine);
    let store = store.reopen();
    let rebuilt_to = block_on(store.storage().projections.definition("summary"))
        .unwrap()
        .expect("the projection is stored")
        .building
        .expect("the rebuild is stored")
        .checkpoint;
    assert!(
        rebuilt_to > 0 && rebuilt_to < store.head(),
        "the restart did not interrupt the rebuild (it stopped at {rebuilt_to})"
    );
    let setup = Setup::over(store);
    // Only the new version is deployed in this process: the old model stays readable
    // (stopped) while the rebuild goes on from where it was.
    let v2 = setup.module("summary", FAULTY_PROJECTION);
    block_on(setup.engine.deploy(v2, FailurePolicy::Stop)).unwrap();
    wait_until(
        PATIENCE,
        "the rebuild to take over",
        || setup.engine.status_of("summary").unwrap(),
        |status| status.rebuild.is_none(),
    );
    let status = setup.engine.status_of("summary").unwrap();
    assert_eq!(status.active.generation, 2);
    assert_eq!(status.active.checkpoint, setup.store.head());
    assert_eq!(
        status.active.events_applied,
        setup.store.head() - rebuilt_to,
        "the rebuild resumed at {rebuilt_to}"
    );
    assert_eq!(
        setup.document("summary", "cart_summary", "cart-7").unwrap()["events"],
        10
    );
}
}
