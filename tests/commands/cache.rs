//! The state cache: hot streams skip replay; stale states are caught up, never used.

use super::{Engine, add_item, confirm, engine, open_cart};
use crate::support::Backend;
use crate::support::block_on;
use crate::support::both_backends;
use refold::Error;
use refold::commands::{CommandConfig, CommandHandler};
use refold::store::DEFAULT_PARTITION;

both_backends! {
fn a_hot_stream_costs_a_decide_and_an_append_not_a_replay(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    block_on(
        e.handler
            .handle("cart", DEFAULT_PARTITION, "cart-1", &open_cart("cart-1")),
    )
    .unwrap();
    let read_before = e.store.metrics().events_read;
    for n in 0..20 {
        block_on(e.handler.handle(
            "cart",
            DEFAULT_PARTITION,
            "cart-1",
            &add_item("cart-1", &format!("SKU-{n}"), 1, 100),
        ))
        .unwrap();
    }
    assert_eq!(
        e.store.metrics().events_read,
        read_before,
        "a cached stream was read again"
    );
    let metrics = e.handler.metrics();
    assert_eq!(metrics.cache_hits, 20);
    assert_eq!(metrics.events_folded, 0);
}
}

/// An engine with `cart-1` opened (and so cached), and a second handler on the same
/// store and modules: another writer whose appends the first's cache does not see.
fn cart_opened_beside_another_writer(backend: Backend) -> (Engine, CommandHandler) {
    let e = engine(backend, CommandConfig::default());
    let other_writer = CommandHandler::new(
        e.store.shared(),
        e.runtime.clone(),
        CommandConfig::default(),
    );
    block_on(
        e.handler
            .handle("cart", DEFAULT_PARTITION, "cart-1", &open_cart("cart-1")),
    )
    .unwrap();
    (e, other_writer)
}

both_backends! {
fn a_cached_state_behind_the_store_is_caught_up_not_decided_on(backend: Backend) {
    let (e, other_writer) = cart_opened_beside_another_writer(backend);
    block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-1",
        &add_item("cart-1", "SKU-1", 1, 100),
    ))
    .unwrap();

    block_on(other_writer.handle("cart", DEFAULT_PARTITION, "cart-1", &confirm("cart-1"))).unwrap();

    let refused = block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-1",
        &add_item("cart-1", "SKU-2", 1, 100),
    ))
    .unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected { message, .. } if message.contains("already confirmed")),
        "the stale cached state (open cart) was decided on: {refused:?}"
    );
    assert_eq!(e.handler.metrics().conflicts, 1);
    assert_eq!(
        block_on(e.store.stream_version(DEFAULT_PARTITION, "cart-1")).unwrap(),
        Some(3)
    );
}
}

both_backends! {
fn a_rejection_decided_on_a_stale_cached_state_is_decided_again_on_the_current_one(backend: Backend) {
    // A rejection appends nothing, so no expected version catches a cached state that
    // fell behind: the handler must check the stream before answering it.
    let (e, other_writer) = cart_opened_beside_another_writer(backend);
    block_on(other_writer.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-1",
        &add_item("cart-1", "SKU-1", 1, 100),
    ))
    .unwrap();

    let confirmed = block_on(e.handler.handle("cart", DEFAULT_PARTITION, "cart-1", &confirm("cart-1")))
        .expect("the cart has an item in the store: confirming it is no rejection");
    assert_eq!(confirmed.events[0].event_type, "CartConfirmed");
    assert_eq!(confirmed.stream_version, 3);
    assert_eq!(e.handler.metrics().cache_hits, 1);

    let again = block_on(e.handler.handle("cart", DEFAULT_PARTITION, "cart-1", &confirm("cart-1")))
        .unwrap_err();
    assert!(
        matches!(&again, Error::Rejected { message, .. } if message.contains("already confirmed")),
        "{again:?}"
    );
}
}

both_backends! {
fn the_cache_stays_within_its_byte_budget(backend: Backend) {
    let e = engine(backend, CommandConfig {
        cache_bytes: 4096,
        ..CommandConfig::default()
    });
    for n in 0..100 {
        let cart = format!("cart-{n}");
        block_on(
            e.handler
                .handle("cart", DEFAULT_PARTITION, &cart, &open_cart(&cart)),
        )
        .unwrap();
        assert!(
            e.handler.cached_bytes() <= 4096,
            "cache holds {} bytes",
            e.handler.cached_bytes()
        );
    }
    assert!(e.handler.cached_bytes() > 0);
}
}
