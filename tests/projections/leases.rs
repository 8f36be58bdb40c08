//! Two engines on one database file (as two `refold serve` would be): each projection
//! generation runs in exactly one of them, under its lease; the other stands by and
//! takes over from the stored checkpoint when the first stops. Work committed under a
//! lease that passed to another owner is refused.

use super::{PATIENCE, confirmed_summary};
use crate::support::wait::wait_until;
use crate::support::{self, TestStore, block_on, both_backends, guests};
use refold::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine, ProjectionState};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{
    AppendRequest, BuiltBy, Committed, DocumentBatch, DocumentKey, EventData, EventStore,
    ExpectedVersion, Storage,
};
use refold_workload as workload;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Short leases, so a take-over happens within the test's patience.
const TTL: Duration = Duration::from_millis(600);

fn engine(storage: &Storage, runtime: &Arc<Runtime>) -> ProjectionEngine {
    let _runtime = support::runtime().enter();
    ProjectionEngine::new(
        storage,
        runtime.clone(),
        ProjectionConfig {
            lease_ttl: TTL,
            ..ProjectionConfig::default()
        },
    )
}

/// Append the standard cart `i` (all its events) through `store`.
fn append_cart(store: &dyn EventStore, i: u64) {
    let events = workload::cart_events(i, workload::ITEMS)
        .into_iter()
        .map(|(event_type, data)| EventData::new(event_type, data))
        .collect();
    block_on(store.append(AppendRequest::new(
        format!("cart-{i}"),
        ExpectedVersion::NoStream,
        events,
    )))
    .unwrap();
}

both_backends! {
fn a_second_engine_stands_by_and_takes_over_from_the_checkpoint(backend: Backend) {
    let first_store = TestStore::new(backend);
    let (first_storage, second_storage) = (first_store.storage(), first_store.open_again());
    let second_store = second_storage.events.clone();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let module = runtime.deploy(
        runtime
            .load("cart-summary", &guests::wasm(guests::CART_SUMMARY))
            .unwrap(),
    );
    block_on(workload::append_carts(&*first_store, 40, 4)).unwrap();

    let first = engine(&first_storage, &runtime);
    block_on(first.deploy(module.clone(), FailurePolicy::Stop)).unwrap();
    block_on(first.wait_for("cart-summary", first_store.head(), PATIENCE)).unwrap();
    let second = engine(&second_storage, &runtime);
    block_on(second.deploy(module, FailurePolicy::Stop)).unwrap();
    wait_until(
        PATIENCE,
        "the second engine to stand by while the first holds the lease",
        || second.status_of("cart-summary").unwrap().active.state,
        |state| *state == ProjectionState::Standby,
    );

    // Events appended through the second engine's store are applied by the first.
    append_cart(&*second_store, 40);
    block_on(first.wait_for("cart-summary", second_store.head(), PATIENCE)).unwrap();
    let leases = block_on(second_storage.leases.leases()).unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(
        second.status_of("cart-summary").unwrap().active.state,
        ProjectionState::Standby,
        "only one engine runs the projection"
    );

    // The first stops (and gives its lease up): the second goes on from the checkpoint.
    drop(first);
    append_cart(&*second_store, 41);
    let reached = block_on(second.wait_for("cart-summary", second_store.head(), PATIENCE)).unwrap();
    assert_eq!(reached, second_store.head());
    for i in 0..42 {
        let text = block_on(second.get(
            "cart-summary",
            "default",
            cart_summary::COLLECTION,
            &format!("cart-{i}"),
        ))
        .unwrap()
        .unwrap_or_else(|| panic!("no summary of cart-{i}"));
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            document,
            confirmed_summary(i),
            "cart-{i}, applied exactly once"
        );
    }
    let count = block_on(second.count("cart-summary", "default", cart_summary::COLLECTION));
    assert_eq!(count.unwrap(), 42);
    let lease = &block_on(second_storage.leases.leases()).unwrap()[0];
    assert_eq!(lease.token, 2, "the lease passed once: {lease:?}");
}
}

both_backends! {
fn a_batch_under_a_lease_that_passed_on_commits_nothing(backend: Backend) {
    let store = TestStore::new(backend);
    let storage = store.storage();
    let built_by = BuiltBy {
        module: "m".into(),
        version: 1,
        identity: "m-1".into(),
        upcasters: String::new(),
    };
    block_on(
        storage
            .projections
            .create("p", &built_by, FailurePolicy::Stop),
    )
    .unwrap();
    let stale = block_on(
        storage
            .leases
            .acquire("projection:p:1", "a", Duration::from_millis(1)),
    )
    .unwrap()
    .expect("a free lease is granted");
    let current = wait_until(
        PATIENCE,
        "the first owner's lease to expire and pass to the second",
        || {
            block_on(
                storage
                    .leases
                    .acquire("projection:p:1", "b", Duration::from_secs(60)),
            )
            .unwrap()
        },
        Option::is_some,
    )
    .unwrap();
    assert_eq!(current.token, stale.token + 1);
    let batch = |fence| DocumentBatch {
        projection: "p".into(),
        generation: 1,
        changes: HashMap::from([(
            DocumentKey {
                partition: "default".into(),
                collection: "c".into(),
                id: "d".into(),
            },
            Some(r#"{"n":1}"#.to_owned()),
        )]),
        checkpoint: 7,
        skipped: None,
        caught_up: false,
        fence: Some(fence),
    };
    let refused = block_on(storage.projections.commit(batch(stale.fence()))).unwrap();
    assert_eq!(refused, Committed::Fenced);
    let definition = block_on(storage.projections.definition("p"))
        .unwrap()
        .unwrap();
    assert_eq!(
        definition.active.checkpoint, 0,
        "nothing of the fenced batch"
    );
    let document = block_on(storage.projections.get("p", "default", "c", "d")).unwrap();
    assert_eq!(document, None);

    let stored = block_on(storage.projections.commit(batch(current.fence()))).unwrap();
    assert_eq!(stored, Committed::Stored);
    let definition = block_on(storage.projections.definition("p"))
        .unwrap()
        .unwrap();
    assert_eq!(definition.active.checkpoint, 7);
}
}

/// Append event `k` of cart 0 (opened, then items) through `store`.
fn append_cart_0_event(store: &dyn EventStore, k: usize) {
    let (event_type, data) = workload::cart_events(0, 3).swap_remove(k);
    block_on(store.append(AppendRequest::new(
        "cart-0",
        ExpectedVersion::Any,
        vec![EventData::new(event_type, data)],
    )))
    .unwrap();
}

/// The item count of cart 0's summary as `engine` reads it.
fn cart_0_items(engine: &ProjectionEngine) -> serde_json::Value {
    let text = block_on(engine.get(
        "cart-summary",
        "default",
        cart_summary::COLLECTION,
        "cart-0",
    ))
    .unwrap()
    .expect("a summary of cart-0");
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["itemCount"].clone()
}

both_backends! {
fn a_runner_that_takes_its_projection_back_reads_what_the_other_engine_wrote(backend: Backend) {
    let first_store = TestStore::new(backend);
    let (first_storage, second_storage) = (first_store.storage(), first_store.open_again());
    let second_store = second_storage.events.clone();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let module = runtime.deploy(
        runtime
            .load("cart-summary", &guests::wasm(guests::CART_SUMMARY))
            .unwrap(),
    );
    // Quantities of cart 0's first three items: 2, 3 and 1.
    let quantities = [2, 3, 1];

    // The first engine folds the cart's opening and first item, keeping the summary
    // it wrote in memory, and goes idle.
    let first = engine(&first_storage, &runtime);
    block_on(first.deploy(module.clone(), FailurePolicy::Stop)).unwrap();
    append_cart_0_event(&*first_store, 0);
    append_cart_0_event(&*first_store, 1);
    block_on(first.wait_for("cart-summary", first_store.head(), PATIENCE)).unwrap();
    assert_eq!(cart_0_items(&first), quantities[0]);

    // The first loses its lease (as if it had paused past it: released here, and
    // taken for the second engine, right after the first renewed it, so the first
    // cannot renew in between); the second takes the projection over and folds the
    // second item.
    let second = engine(&second_storage, &runtime);
    block_on(second.deploy(module, FailurePolicy::Stop)).unwrap();
    let leases = &second_storage.leases;
    let held = block_on(leases.leases()).unwrap()[0].clone();
    let renewed = wait_until(
        PATIENCE,
        "the first engine to renew its lease",
        || block_on(leases.leases()).unwrap()[0].clone(),
        |lease| lease.expires_at_ms != held.expires_at_ms,
    );
    block_on(leases.release(&renewed)).unwrap();
    block_on(leases.acquire(&renewed.name, second.owner(), TTL))
        .unwrap()
        .expect("a released lease is free");
    wait_until(
        PATIENCE,
        "the second engine to take the idle first engine's lease",
        || block_on(second_storage.leases.leases()).unwrap()[0].token,
        |token| *token == 2,
    );
    append_cart_0_event(&*second_store, 2);
    block_on(second.wait_for("cart-summary", second_store.head(), PATIENCE)).unwrap();
    assert_eq!(cart_0_items(&second), quantities[0] + quantities[1]);
    wait_until(
        PATIENCE,
        "the first engine to stand by",
        || first.status_of("cart-summary").unwrap().active.state,
        |state| *state == ProjectionState::Standby,
    );

    // The second stops; the first takes the projection back and folds the third item
    // onto the summary the second wrote, not onto the one it remembers.
    drop(second);
    append_cart_0_event(&*first_store, 3);
    block_on(first.wait_for("cart-summary", first_store.head(), PATIENCE)).unwrap();
    assert_eq!(
        cart_0_items(&first),
        quantities.iter().sum::<u64>(),
        "every item counted once"
    );
    let lease = &block_on(first_storage.leases.leases()).unwrap()[0];
    assert_eq!(lease.token, 3, "the lease passed twice: {lease:?}");
}
}
