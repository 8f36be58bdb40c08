//! Snapshots: long streams rehydrate from the newest snapshot of the same decider
//! version plus the events after it.

use super::engine;
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{self, CART_V2};
use refold::commands::{CommandConfig, CommandHandler, DeciderLogic, NativeDecider};
use refold::store::{AppendRequest, DEFAULT_PARTITION, EventData, EventStore, ExpectedVersion};

const STREAM: &str = "cart-long";

fn opened() -> EventData {
    EventData::new(
        "CartOpened",
        r#"{"cartId":"cart-long","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#,
    )
}

fn added(k: u64) -> EventData {
    EventData::new(
        "ItemAdded",
        format!(
            r#"{{"cartId":"cart-long","sku":"SKU-{k:05}","name":"Product {k}","quantity":1,"unitPrice":{},"addedAt":"2024-01-01T00:00:00.000Z"}}"#,
            100 + k % 50
        ),
    )
}

/// Append `count` more cart events to the long stream, 100 per append.
fn append_items(store: &dyn EventStore, from_k: u64, count: u64) {
    let mut k = from_k;
    while k < from_k + count {
        let end = (k + 100).min(from_k + count);
        let mut events: Vec<EventData> = (k..end).map(added).collect();
        if k == 0 {
            events[0] = opened();
        }
        block_on(store.append(AppendRequest::new(STREAM, ExpectedVersion::Any, events))).unwrap();
        k = end;
    }
}

both_backends! {
fn a_long_stream_rehydrates_from_its_snapshot_reading_only_the_newer_events(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    append_items(&*e.store, 0, 10_000);
    let cart = e.runtime.module("cart").unwrap();

    let (state, version) =
        block_on(e.handler.load(cart.clone(), DEFAULT_PARTITION, STREAM)).unwrap();
    assert_eq!(version, 10_000);
    assert_eq!(
        e.handler.metrics().snapshots_saved,
        1,
        "crossing version 10,000 saves a snapshot"
    );

    append_items(&*e.store, 10_000, 5);
    let fresh = CommandHandler::new(
        e.store.shared(),
        e.runtime.clone(),
        CommandConfig::default(),
    );
    let read_before = e.store.metrics().events_read;
    let (state_after, version_after) =
        block_on(fresh.load(cart.clone(), DEFAULT_PARTITION, STREAM)).unwrap();
    assert_eq!(version_after, 10_005);
    assert_eq!(
        e.store.metrics().events_read - read_before,
        5,
        "only the events after the snapshot are read"
    );
    assert_eq!(fresh.metrics().events_folded, 5);

    let native = NativeDecider::<cart::Cart>::new("cart");
    let all = block_on(e.store.read_stream(
        DEFAULT_PARTITION,
        STREAM,
        1,
        refold::store::Direction::Forward,
        20_000,
    ))
    .unwrap();
    let replayed = native
        .evolve(&native.initial_state().unwrap(), &all)
        .unwrap();
    assert_eq!(
        state_after, replayed,
        "snapshot + tail equals a full replay"
    );
    assert_ne!(state, state_after);
}
}

both_backends! {
fn a_new_decider_version_never_uses_an_old_versions_snapshot(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    append_items(&*e.store, 0, 2_000);
    let v1 = e.runtime.module("cart").unwrap();
    block_on(e.handler.snapshot(v1.clone(), DEFAULT_PARTITION, STREAM)).unwrap();

    let v2 = e
        .runtime
        .deploy(e.runtime.load("cart", &guests::wasm(CART_V2)).unwrap());
    let fresh = CommandHandler::new(
        e.store.shared(),
        e.runtime.clone(),
        CommandConfig::default(),
    );
    let read_before = e.store.metrics().events_read;
    let (_, version) = block_on(fresh.load(v2.clone(), DEFAULT_PARTITION, STREAM)).unwrap();
    assert_eq!(version, 2_000);
    assert_eq!(
        e.store.metrics().events_read - read_before,
        2_000,
        "v2 folded from the first event"
    );
}
}
