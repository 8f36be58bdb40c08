//! The handler loop: decide, append, reject, fault, no-op, and conflict storms.

use super::{add_item, confirm, engine, open_cart, remove_item};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{self, FAULTY};
use refold::commands::{CommandConfig, NativeDecider};
use refold::store::{DEFAULT_PARTITION, Direction, EventStore};
use refold::{Error, GuestFault};
use std::sync::Arc;

fn stream_version(store: &dyn EventStore, stream: &str) -> Option<u64> {
    block_on(store.stream_version(DEFAULT_PARTITION, stream)).unwrap()
}

both_backends! {
fn a_command_appends_what_the_decider_decides(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    let opened =
        block_on(
            e.handler
                .handle("cart", DEFAULT_PARTITION, "cart-1", &open_cart("cart-1")),
        )
        .unwrap();
    assert_eq!(opened.stream_version, 1);
    assert_eq!(opened.events.len(), 1);
    assert_eq!(opened.events[0].event_type, "CartOpened");
    assert_eq!((opened.module.as_str(), opened.module_version), ("cart", 1));

    block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-1",
        &add_item("cart-1", "SKU-1", 2, 150),
    ))
    .unwrap();
    let confirmed =
        block_on(
            e.handler
                .handle("cart", DEFAULT_PARTITION, "cart-1", &confirm("cart-1")),
        )
        .unwrap();
    assert_eq!(confirmed.stream_version, 3);
    assert_eq!(confirmed.position, Some(e.store.head()));
    let data: serde_json::Value = serde_json::from_str(&confirmed.events[0].data).unwrap();
    assert_eq!(
        (data["itemCount"].as_u64(), data["total"].as_u64()),
        (Some(2), Some(300))
    );

    let stored =
        block_on(
            e.store
                .read_stream(DEFAULT_PARTITION, "cart-1", 1, Direction::Forward, 10),
        )
        .unwrap();
    let types: Vec<&str> = stored.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["CartOpened", "ItemAdded", "CartConfirmed"]);
    assert_eq!(
        stored[2], confirmed.events[0],
        "the outcome reports the events as stored"
    );
}
}

both_backends! {
fn every_rejection_appends_nothing(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    let handle = |stream: &str, command: &str| {
        block_on(e.handler.handle("cart", DEFAULT_PARTITION, stream, command))
    };
    let rejected = |stream: &str, command: &str, expected: &str| {
        let before = stream_version(&*e.store, stream);
        match handle(stream, command) {
            Err(Error::Rejected { module, message }) => {
                assert_eq!(module, "cart");
                assert_eq!(message, expected);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(
            stream_version(&*e.store, stream),
            before,
            "a rejection appended events"
        );
    };

    rejected(
        "cart-1",
        &add_item("cart-1", "SKU-1", 1, 100),
        "cannot add an item to cart cart-1: it is not open",
    );
    rejected(
        "cart-1",
        &confirm("cart-1"),
        "cannot confirm cart cart-1: it is not open",
    );
    handle("cart-1", &open_cart("cart-1")).unwrap();
    rejected(
        "cart-1",
        &open_cart("cart-1"),
        "cart cart-1 is already open",
    );
    rejected("cart-1", &confirm("cart-1"), "cart cart-1 is empty");
    rejected(
        "cart-1",
        &remove_item("cart-1", "SKU-9"),
        "cart cart-1 has no item SKU-9",
    );
    rejected(
        "cart-1",
        &add_item("cart-1", "SKU-1", 0, 100),
        "cannot add 0 units of SKU-1",
    );
    handle("cart-1", &add_item("cart-1", "SKU-1", 1, 100)).unwrap();
    handle("cart-1", &confirm("cart-1")).unwrap();
    rejected(
        "cart-1",
        &add_item("cart-1", "SKU-2", 1, 100),
        "cannot add an item to cart cart-1: it is already confirmed",
    );
    rejected(
        "cart-1",
        &confirm("cart-1"),
        "cannot confirm cart cart-1: it is already confirmed",
    );

    let invalid = handle("cart-1", r#"{"type":"Teleport","data":{}}"#).unwrap_err();
    assert!(
        matches!(&invalid, Error::InvalidCommand { module, .. } if module == "cart"),
        "{invalid:?}"
    );
    assert_eq!(e.handler.metrics().rejected, 9);
}
}

both_backends! {
fn a_guest_fault_appends_nothing_and_the_next_command_succeeds(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    e.runtime
        .deploy(e.runtime.load("faulty", &guests::wasm(FAULTY)).unwrap());

    let fault =
        block_on(
            e.handler
                .handle("faulty", DEFAULT_PARTITION, "f-1", r#"{"type":"Panic"}"#),
        )
        .unwrap_err();
    assert!(
        matches!(&fault, Error::Guest { module, function: "decide", fault: GuestFault::Trap(_) } if module == "faulty"),
        "{fault:?}"
    );
    let malformed =
        block_on(
            e.handler
                .handle("faulty", DEFAULT_PARTITION, "f-1", r#"{"type":"NotJson"}"#),
        )
        .unwrap_err();
    assert!(
        matches!(
            &malformed,
            Error::Guest {
                fault: GuestFault::Malformed(_),
                ..
            }
        ),
        "{malformed:?}"
    );
    assert_eq!(stream_version(&*e.store, "f-1"), None);

    let next = block_on(
        e.handler
            .handle("faulty", DEFAULT_PARTITION, "f-1", r#"{"type":"Fine"}"#),
    )
    .unwrap();
    assert_eq!(next.stream_version, 1);
}
}

both_backends! {
fn a_command_that_decides_nothing_appends_nothing_and_says_so(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    e.runtime
        .deploy(e.runtime.load("faulty", &guests::wasm(FAULTY)).unwrap());
    block_on(
        e.handler
            .handle("faulty", DEFAULT_PARTITION, "f-1", r#"{"type":"Fine"}"#),
    )
    .unwrap();
    let head = e.store.head();
    let nothing =
        block_on(
            e.handler
                .handle("faulty", DEFAULT_PARTITION, "f-1", r#"{"type":"Nothing"}"#),
        )
        .unwrap();
    assert!(nothing.events.is_empty());
    assert_eq!((nothing.stream_version, nothing.position), (1, None));
    assert_eq!(e.store.head(), head);
}
}

both_backends! {
fn a_conflict_storm_ends_in_a_cart_that_matches_a_sequential_replay(backend: Backend) {
    let e = engine(backend, CommandConfig {
        max_attempts: 1000,
        ..CommandConfig::default()
    });
    let e = Arc::new(e);
    block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-storm",
        &open_cart("cart-storm"),
    ))
    .unwrap();

    const TASKS: u64 = 8;
    const ADDS_PER_TASK: u64 = 25;
    let workers: Vec<_> = (0..TASKS)
        .map(|task| {
            let e = e.clone();
            std::thread::spawn(move || {
                for n in 0..ADDS_PER_TASK {
                    let command = add_item(
                        "cart-storm",
                        &format!("SKU-{task}-{n}"),
                        1 + n % 3,
                        100 + task,
                    );
                    block_on(
                        e.handler
                            .handle("cart", DEFAULT_PARTITION, "cart-storm", &command),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let confirmed = block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-storm",
        &confirm("cart-storm"),
    ))
    .unwrap();
    assert_eq!(confirmed.stream_version, 2 + TASKS * ADDS_PER_TASK);
    assert!(
        e.handler.metrics().conflicts > 0,
        "eight writers on one stream must have conflicted"
    );

    let events =
        block_on(
            e.store
                .read_stream(DEFAULT_PARTITION, "cart-storm", 1, Direction::Forward, 1000),
        )
        .unwrap();
    let positions: Vec<u64> = events.iter().map(|e| e.stream_position).collect();
    assert_eq!(
        positions,
        (1..=confirmed.stream_version).collect::<Vec<_>>()
    );

    let native = NativeDecider::<cart::Cart>::new("cart");
    let replayed = refold::commands::DeciderLogic::evolve(
        &native,
        &refold_guest::wire::initial_state::<cart::Cart>(),
        &events[..events.len() - 1],
    )
    .unwrap();
    let replayed: cart::CartState = serde_json::from_slice(&replayed).unwrap();
    let expected_count: u64 = (0..TASKS)
        .map(|_| (0..ADDS_PER_TASK).map(|n| 1 + n % 3).sum::<u64>())
        .sum();
    assert_eq!(replayed.item_count, expected_count);
    assert_eq!(replayed.lines.len() as u64, TASKS * ADDS_PER_TASK);
    let data: serde_json::Value = serde_json::from_str(&confirmed.events[0].data).unwrap();
    assert_eq!(data["itemCount"].as_u64(), Some(replayed.item_count));
    assert_eq!(data["total"].as_u64(), Some(replayed.total));
}
}
