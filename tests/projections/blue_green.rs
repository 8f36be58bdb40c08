//! Blue/green rebuilds: a new version builds beside the old one while queries keep
//! reading the old model, whole, and takes over in one step once caught up.

use super::{PATIENCE, Setup, confirmed_summary};
use crate::support::Backend;
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{CART_SUMMARY, FAULTY_PROJECTION};
use crate::support::wait::wait_until;
use refold::projections::{FailurePolicy, ListQuery, ProjectionEngine};
use refold_workload as workload;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const CARTS: u64 = 2_000;

/// Which version's documents a query saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Summary,
    Count,
}

/// List the whole model in one query and check it is complete for one version.
fn read_model(engine: &ProjectionEngine) -> Shape {
    let page = block_on(engine.list(
        "summary",
        "default",
        "cart_summary",
        &ListQuery::first(10 * CARTS as usize),
    ))
    .unwrap();
    assert_eq!(
        page.documents.len(),
        CARTS as usize,
        "a partial model was read"
    );
    let shapes: Vec<Shape> = page
        .documents
        .iter()
        .map(|document| {
            let value: serde_json::Value = serde_json::from_str(&document.document).unwrap();
            if value.get("itemCount").is_some() {
                assert_eq!(value["status"], "confirmed", "{value}");
                Shape::Summary
            } else {
                assert_eq!(
                    value["events"], 10,
                    "an incomplete document was read: {value}"
                );
                Shape::Count
            }
        })
        .collect();
    assert!(
        shapes.iter().all(|s| *s == shapes[0]),
        "one query mixed two versions' documents"
    );
    shapes[0]
}

/// Sets its flag when dropped, on success and on a panic alike.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Wait until no rebuild of `name` is under way any more.
fn wait_for_switch(engine: &ProjectionEngine, name: &str) {
    wait_until(
        PATIENCE,
        "the rebuild to take over",
        || engine.status_of(name).unwrap(),
        |status| status.rebuild.is_none(),
    );
}

fn stored_generations(setup: &Setup) -> Vec<i64> {
    setup.store.integers(
        "SELECT DISTINCT generation FROM projection_documents WHERE projection = 'summary' ORDER BY 1",
    )
}

// SQLite-only: the rebuild is held back by the file's write lock, taken from another
// connection.
#[test]
fn queries_during_a_rebuild_see_the_old_model_whole_then_the_new_one() {
    let setup = Setup::new(Backend::Sqlite);
    block_on(workload::append_carts(&*setup.store, CARTS, 16)).unwrap();
    let v1 = setup.module("summary", CART_SUMMARY);
    block_on(setup.engine.deploy(v1, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("summary");
    assert_eq!(read_model(&setup.engine), Shape::Summary);

    let done = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let seen = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let shape = read_model(&setup.engine);
                reads.fetch_add(1, Ordering::SeqCst);
                if seen.last() != Some(&shape) {
                    seen.push(shape);
                }
            }
            seen
        });
        // Stops the reader however this ends: a failure below must not hang the scope.
        let _stop_reader = SetOnDrop(&done);
        let v2 = setup.module("summary", FAULTY_PROJECTION);
        block_on(setup.engine.deploy(v2, FailurePolicy::Stop)).unwrap();
        let reads_before = reads.load(Ordering::SeqCst);
        let during = setup.engine.status_of("summary").unwrap();
        assert_eq!(during.active.version, 1);
        assert_eq!(during.rebuild.as_ref().map(|r| r.version), Some(2));
        {
            // Hold the file's write lock, so the rebuild can neither commit nor take
            // over, until the reader has run its queries during the rebuild.
            let blocker = rusqlite::Connection::open(setup.store.sqlite_path()).unwrap();
            blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
            wait_until(
                PATIENCE,
                "5 queries while the rebuild is held",
                || reads.load(Ordering::SeqCst) - reads_before,
                |&reads| reads >= 5,
            );
            blocker.execute_batch("ROLLBACK").unwrap();
        }
        wait_for_switch(&setup.engine, "summary");
        let reads_during = reads.load(Ordering::SeqCst) - reads_before;
        assert!(
            reads_during >= 5,
            "only {reads_during} queries ran during the rebuild"
        );
        // Let the reader see the new model: the second query counted from here began
        // after the switch.
        let reads_at_switch = reads.load(Ordering::SeqCst);
        wait_until(
            PATIENCE,
            "2 queries after the switch",
            || reads.load(Ordering::SeqCst) - reads_at_switch,
            |&reads| reads >= 2,
        );
        done.store(true, Ordering::SeqCst);
        reader.join().unwrap()
    });
    assert_eq!(seen, [Shape::Summary, Shape::Count]);

    let status = setup.engine.status_of("summary").unwrap();
    assert_eq!(status.active.version, 2);
    assert_eq!(status.active.generation, 2);
    assert_eq!(status.active.checkpoint, setup.store.head());
    assert_eq!(
        stored_generations(&setup),
        [2],
        "the old documents are dropped"
    );
    // The new version follows live appends.
    let position = setup.append("cart-0", "Tick", "{}");
    block_on(setup.engine.wait_for("summary", position, PATIENCE)).unwrap();
    assert_eq!(
        setup.document("summary", "cart_summary", "cart-0").unwrap()["events"],
        11
    );
}

both_backends! {
fn an_explicit_rebuild_of_the_current_version_switches_to_an_equal_model(backend: Backend) {
    let setup = Setup::new(backend);
    block_on(workload::append_carts(&*setup.store, 200, 8)).unwrap();
    let summary = setup.module("summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("summary");
    let before = block_on(setup.engine.list(
        "summary",
        "default",
        "cart_summary",
        &ListQuery::first(1000),
    ))
    .unwrap();

    block_on(setup.engine.rebuild("summary")).unwrap();
    wait_for_switch(&setup.engine, "summary");
    let status = setup.engine.status_of("summary").unwrap();
    assert_eq!(status.active.generation, 2);
    assert_eq!(status.active.version, 1);
    let after = block_on(setup.engine.list(
        "summary",
        "default",
        "cart_summary",
        &ListQuery::first(1000),
    ))
    .unwrap();
    assert_eq!(before, after);
    assert_eq!(
        setup.document("summary", "cart_summary", "cart-42"),
        Some(confirmed_summary(42))
    );
    assert_eq!(stored_generations(&setup), [2]);
}
}
