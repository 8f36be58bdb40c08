//! The upcaster set in the engine, on each backend: what is keyed by it, a faulty
//! upcaster failing only the reads that need it (and, under a projection, only the
//! events it fails on, by the projection's policy), overlapping upcasters refused, and
//! a hot swap while commands flow.

use crate::support::guests::{self, CART, CART_UPCASTER, CART_V2_PRICES, FAULTY_PROJECTION};
use crate::support::{Backend, TestStore, block_on, both_backends};
use refold::commands::CommandConfig;
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::store::{
    AppendRequest, DEFAULT_PARTITION, Direction, EventData, ExpectedVersion, LogFilter,
};
use refold::{Error, GuestFault};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An engine over a fresh store of `backend`, with the v1 cart deployed as `cart`,
/// guest calls stopped after `deadline`.
fn engine(backend: Backend, deadline: Duration) -> (TestStore, Engine, tempfile::TempDir) {
    let store = TestStore::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path().join("unused.db"));
    config.runtime = guests::cached_config();
    config.runtime.call_timeout = deadline;
    config.commands = CommandConfig {
        snapshot_every: Some(4),
        ..CommandConfig::default()
    };
    let engine = block_on(Engine::with_storage(store.storage(), config)).unwrap();
    deploy(&engine, "cart", &guests::wasm(CART));
    (store, engine, dir)
}

fn deploy(engine: &Engine, name: &str, bytes: &[u8]) {
    block_on(engine.deploy(name, bytes, FailurePolicy::Stop)).unwrap();
}

/// Handle `command` for `cart` with `decider`; the stream's version after it.
fn command(engine: &Engine, decider: &str, cart: &str, command: &str) -> u64 {
    block_on(
        engine
            .commands()
            .handle(decider, DEFAULT_PARTITION, cart, command),
    )
    .unwrap_or_else(|error| panic!("{command} on {cart} failed: {error}"))
    .stream_version
}

/// A v1 cart of two lines.
fn v1_cart(engine: &Engine, cart: &str) {
    let open = format!(
        r#"{{"type":"OpenCart","data":{{"cartId":"{cart}","customerId":"c","currency":"EUR","channel":"web","openedAt":"t"}}}}"#
    );
    command(engine, "cart", cart, &open);
    for sku in ["sku-a", "sku-b"] {
        let add = format!(
            r#"{{"type":"AddItem","data":{{"cartId":"{cart}","sku":"{sku}","name":"P","quantity":1,"unitPrice":700,"addedAt":"t"}}}}"#
        );
        command(engine, "cart", cart, &add);
    }
}

/// A v2 `AddItem` of `sku`.
fn add_v2(cart: &str, sku: &str) -> String {
    format!(
        r#"{{"type":"AddItem","data":{{"cartId":"{cart}","sku":"{sku}","name":"P","quantity":1,"price":{{"amount":300,"currency":"EUR"}},"addedAt":"t"}}}}"#
    )
}

both_backends! {
fn states_and_snapshots_made_under_one_upcaster_set_are_not_reused_under_another(backend: Backend) {
    let (store, engine, _dir) = engine(backend, Duration::from_secs(1));
    v1_cart(&engine, "cart-1");
    deploy(&engine, "cart-upcaster", &guests::wasm(CART_UPCASTER));
    deploy(&engine, "cart-v2", &guests::wasm(CART_V2_PRICES));
    let set = engine.runtime().upcasters().current();
    assert_eq!(set.modules(), [("cart-upcaster".to_owned(), 1)]);
    assert_eq!(set.identity().len(), 64);

    // Under the set: read from the store once, saving a snapshot at version 4.
    let read = || store.shared().metrics().events_read;
    let before = read();
    assert_eq!(command(&engine, "cart-v2", "cart-1", &add_v2("cart-1", "sku-c")), 4);
    assert_eq!(read() - before, 3, "the v2 decider read the v1 events");
    let metrics = engine.commands().metrics();
    assert_eq!(metrics.snapshots_saved, 1);
    let before = read();
    assert_eq!(command(&engine, "cart-v2", "cart-1", &add_v2("cart-1", "sku-d")), 5);
    assert_eq!(read(), before, "the cached state served the next command");
    assert_eq!(engine.commands().metrics().cache_hits, metrics.cache_hits + 1);

    // Another set: neither the cached state nor the snapshot is reused.
    deploy(&engine, "faulty-upcaster", &guests::wasm("faulty-upcaster"));
    assert_ne!(engine.runtime().upcasters().current().identity(), set.identity());
    let (hits, before) = (engine.commands().metrics().cache_hits, read());
    assert_eq!(command(&engine, "cart-v2", "cart-1", &add_v2("cart-1", "sku-e")), 6);
    assert_eq!(read() - before, 5, "the whole stream was read again");
    assert_eq!(engine.commands().metrics().cache_hits, hits);
}
}

both_backends! {
fn a_faulty_upcaster_fails_the_reads_that_need_it_and_nothing_else(backend: Backend) {
    let (_store, engine, _dir) = engine(backend, Duration::from_millis(300));
    v1_cart(&engine, "cart-1");
    deploy(&engine, "faulty-upcaster", &guests::wasm("faulty-upcaster"));
    for (stream, event_type) in [("bad-1", "Trap"), ("bad-2", "Spin"), ("fine-1", "Ping")] {
        let event = EventData::new(event_type, r#"{"n":1}"#);
        block_on(engine.store().append(AppendRequest::new(stream, ExpectedVersion::Any, vec![event]))).unwrap();
    }
    let read = |stream: &str, raw: bool| {
        block_on(engine.read_stream(DEFAULT_PARTITION, stream, 1, Direction::Forward, 10, raw))
    };
    for stream in ["bad-1", "bad-2"] {
        match read(stream, false) {
            Err(Error::Guest { module, function: "upcast", fault }) => {
                assert_eq!(module, "faulty-upcaster");
                if stream == "bad-2" {
                    assert!(matches!(fault, GuestFault::Deadline(_)), "{fault:?}");
                }
            }
            other => panic!("reading {stream} gave {other:?}"),
        }
        assert_eq!(read(stream, true).unwrap().len(), 1, "a raw read needs no upcaster");
    }
    let log = block_on(engine.read_log(0, &LogFilter::default(), 100, false));
    assert!(matches!(log, Err(Error::Guest { .. })), "{log:?}");
    assert_eq!(read("fine-1", false).unwrap()[0].event_type, "Pong");
    let carts = LogFilter { category: Some("cart".to_owned()), ..LogFilter::default() };
    assert_eq!(block_on(engine.read_log(0, &carts, 100, false)).unwrap().len(), 3);
    let confirm = r#"{"type":"ConfirmCart","data":{"cartId":"cart-1"}}"#;
    assert_eq!(command(&engine, "cart", "cart-1", confirm), 4, "the engine keeps serving");

    // One stored type, one upcaster: a second one reading a type of the first is refused.
    let refused = block_on(engine.deploy("other", &guests::wasm("faulty-upcaster"), FailurePolicy::Stop));
    match refused {
        Err(Error::UpcasterOverlap { module, other, event_type }) => {
            assert_eq!((module.as_str(), other.as_str()), ("other", "faulty-upcaster"));
            assert_eq!(event_type, "Trap");
        }
        other => panic!("an overlapping upcaster was not refused: {other:?}"),
    }
    assert!(engine.runtime().module("other").is_err());
    deploy(&engine, "faulty-upcaster", &guests::wasm("faulty-upcaster"));
}
}

both_backends! {
fn an_upcaster_failing_on_an_event_meets_each_projections_failure_policy(backend: Backend) {
    let (_store, engine, _dir) = engine(backend, Duration::from_millis(300));
    deploy(&engine, "faulty-upcaster", &guests::wasm("faulty-upcaster"));
    let mut positions = Vec::new();
    for event_type in ["Ping", "Ping", "Trap", "Ping"] {
        let event = EventData::new(event_type, r#"{"n":1}"#);
        let appended = block_on(engine.store().append(AppendRequest::new("counter-1", ExpectedVersion::Any, vec![event]))).unwrap();
        positions.push(appended.last_position);
    }
    let (trap, last) = (positions[2], positions[3]);
    let faulty = guests::wasm(FAULTY_PROJECTION);
    block_on(engine.deploy("skipping", &faulty, FailurePolicy::Skip)).unwrap();
    block_on(engine.deploy("stopping", &faulty, FailurePolicy::Stop)).unwrap();
    let patience = Duration::from_secs(30);

    block_on(engine.projections().wait_for("skipping", last, patience)).unwrap();
    let skipping = engine.projections().status_of("skipping").unwrap().active;
    assert_eq!(
        (skipping.skipped, skipping.events_applied, skipping.checkpoint),
        (1, 3, last),
        "the event the upcaster fails on is skipped, the three others applied: {skipping:?}"
    );

    match block_on(engine.projections().wait_for("stopping", last, patience)) {
        Err(Error::ProjectionFaulted { position, error, .. }) => {
            assert_eq!(position, trap);
            assert!(error.contains(&format!("the upcaster traps on event {trap}")), "{error}");
        }
        other => panic!("the projection did not stop at the event its upcaster fails on: {other:?}"),
    }
    let stopping = engine.projections().status_of("stopping").unwrap().active;
    assert_eq!((stopping.checkpoint, stopping.events_applied), (trap - 1, 2), "{stopping:?}");
}
}

both_backends! {
fn hot_swapping_the_upcaster_while_three_clients_send_commands_fails_none(backend: Backend) {
    let (_store, engine, _dir) = engine(backend, Duration::from_secs(1));
    for client in 0..3 {
        v1_cart(&engine, &format!("cart-{client}"));
    }
    let rust = guests::wasm(CART_UPCASTER);
    let javascript = guests::polyglot("cart-upcaster-js");
    deploy(&engine, "cart-upcaster", &rust);
    deploy(&engine, "cart-v2", &guests::wasm(CART_V2_PRICES));
    let engine = Arc::new(engine);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|client| {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::spawn(move || {
                let cart = format!("cart-{client}");
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) || sent < 10 {
                    // Remove a v1 line (its price read through the upcaster), add it back.
                    let remove = format!(r#"{{"type":"RemoveItem","data":{{"cartId":"{cart}","sku":"sku-a"}}}}"#);
                    command(&engine, "cart-v2", &cart, &remove);
                    command(&engine, "cart-v2", &cart, &add_v2(&cart, "sku-a"));
                    sent += 2;
                }
                sent
            })
        })
        .collect();
    for swap in 0..6 {
        let bytes = if swap % 2 == 0 { &javascript } else { &rust };
        deploy(&engine, "cart-upcaster", bytes);
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let sent: u64 = clients.into_iter().map(|c| c.join().expect("no command failed")).sum();
    assert!(sent >= 30, "{sent}");
    assert_eq!(engine.runtime().module("cart-upcaster").unwrap().info().version, 7);
    let events = block_on(engine.read_stream(DEFAULT_PARTITION, "cart-0", 1, Direction::Forward, 1000, false)).unwrap();
    assert!(events.iter().all(|e| !e.data.contains("unitPrice")), "{events:?}");
}
}

both_backends! {
fn chained_upcasters_apply_in_turn_and_a_cycle_fails_the_read_naming_them(backend: Backend) {
    let (_store, engine, _dir) = engine(backend, Duration::from_secs(1));
    deploy(&engine, "faulty-upcaster", &guests::wasm("faulty-upcaster"));
    deploy(&engine, "pong-upcaster", &guests::wasm("pong-upcaster"));
    for (stream, data) in [("chain-1", r#"{"back":false}"#), ("cycle-1", r#"{"back":true}"#)] {
        let event = EventData::new("Ping", data);
        block_on(engine.store().append(AppendRequest::new(stream, ExpectedVersion::Any, vec![event]))).unwrap();
    }
    let read = |stream: &str| {
        block_on(engine.read_stream(DEFAULT_PARTITION, stream, 1, Direction::Forward, 10, false))
    };
    let chained = read("chain-1").unwrap();
    assert_eq!(chained.len(), 1);
    assert_eq!((chained[0].event_type.as_str(), chained[0].stream_position), ("Done", 1));
    let metadata: serde_json::Value = serde_json::from_str(&chained[0].metadata).unwrap();
    assert_eq!(
        metadata["refold"]["upcastFrom"],
        serde_json::json!({"type": "Ping", "upcasters": ["faulty-upcaster", "pong-upcaster"]})
    );
    // A type filter applies to the upcast type: `Done` finds the stored `Ping`.
    let done = LogFilter { event_types: vec!["Done".to_owned()],
        category: Some("chain".to_owned()),
        ..LogFilter::default() };
    let found = block_on(engine.read_log(0, &done, 10, false)).unwrap();
    assert_eq!(found.iter().map(|e| e.stream.as_str()).collect::<Vec<_>>(), ["chain-1"]);
    match read("cycle-1") {
        Err(Error::UpcastCycle { modules, event_type }) => {
            assert_eq!(modules, ["faulty-upcaster", "pong-upcaster"]);
            assert_eq!(event_type, "Ping");
        }
        other => panic!("a cycle was not refused: {other:?}"),
    }
}
}
