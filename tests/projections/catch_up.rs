//! Catching up over existing events, following live appends, and querying the result.

use super::{Setup, append_in, confirmed_summary};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::CART_SUMMARY;
use refold::Error;
use refold::projections::{FailurePolicy, ListQuery, ProjectionState};
use refold_workload as workload;
use serde_json::json;

const OPENED: &str = r#"{"cartId":"cart-500","customerId":"customer-0500","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#;
const ADDED: &str = r#"{"cartId":"cart-500","sku":"SKU-00001","name":"Product 1","quantity":3,"unitPrice":250,"addedAt":"2024-01-01T00:00:01.000Z"}"#;

both_backends! {
fn catches_up_over_existing_events_then_follows_live_appends(backend: Backend) {
    let setup = Setup::new(backend);
    block_on(workload::append_carts(&*setup.store, 30, 4)).unwrap();
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("cart-summary");

    for i in [0, 7, 29] {
        assert_eq!(
            setup.document("cart-summary", "cart_summary", &format!("cart-{i}")),
            Some(confirmed_summary(i))
        );
    }
    let status = setup.engine.status_of("cart-summary").unwrap();
    assert_eq!(status.active.checkpoint, 300);
    assert_eq!(status.active.lag, 0);
    assert_eq!(status.active.events_applied, 300);
    assert_eq!(status.active.module, "cart-summary");
    assert_eq!(status.active.version, 1);

    setup.append("cart-500", "CartOpened", OPENED);
    let position = setup.append("cart-500", "ItemAdded", ADDED);
    block_on(
        setup
            .engine
            .wait_for("cart-summary", position, crate::projections::PATIENCE),
    )
    .unwrap();
    assert_eq!(
        setup.document("cart-summary", "cart_summary", "cart-500"),
        Some(json!({"cartId": "cart-500", "itemCount": 3, "total": 750, "status": "open"}))
    );
    let status = setup.engine.status_of("cart-summary").unwrap();
    assert_eq!(status.active.state, ProjectionState::Live);
    assert_eq!(status.active.events_applied, 302);
}
}

both_backends! {
fn the_checkpoint_passes_events_the_projection_does_not_want(backend: Backend) {
    let setup = Setup::new(backend);
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    setup.append("cart-500", "CartOpened", OPENED);
    let unwanted = setup.append("audit-1", "SomeoneLookedAtIt", "{}");
    let reached = block_on(
        setup
            .engine
            .wait_for("cart-summary", unwanted, crate::projections::PATIENCE),
    )
    .unwrap();
    assert!(reached >= unwanted);
    let status = setup.engine.status_of("cart-summary").unwrap();
    assert_eq!(status.active.events_applied, 1);
}
}

both_backends! {
fn lists_pages_in_id_order_and_filters_on_a_field(backend: Backend) {
    let setup = Setup::new(backend);
    block_on(workload::append_carts(&*setup.store, 25, 4)).unwrap();
    for i in 100..105 {
        setup.append(
            &format!("cart-{i}"),
            "CartOpened",
            &OPENED.replace("cart-500", &format!("cart-{i}")),
        );
    }
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    setup.wait_for_head("cart-summary");
    let engine = &setup.engine;
    assert_eq!(
        block_on(engine.count("cart-summary", "default", "cart_summary")).unwrap(),
        30
    );

    let mut ids = Vec::new();
    let mut query = ListQuery::first(7);
    loop {
        let page =
            block_on(engine.list("cart-summary", "default", "cart_summary", &query)).unwrap();
        assert!(page.documents.len() <= 7);
        ids.extend(page.documents.into_iter().map(|d| d.id));
        match page.next {
            Some(next) => query = query.after(next),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..25)
        .chain(100..105)
        .map(|i| format!("cart-{i}"))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);

    let open = block_on(engine.list(
        "cart-summary",
        "default",
        "cart_summary",
        &ListQuery::first(100).with_filter("status", json!("open")),
    ))
    .unwrap();
    let open_ids: Vec<&str> = open.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        open_ids,
        ["cart-100", "cart-101", "cart-102", "cart-103", "cart-104"]
    );
    assert_eq!(open.next, None);

    let cart_3 = confirmed_summary(3);
    let same_total = block_on(engine.list(
        "cart-summary",
        "default",
        "cart_summary",
        &ListQuery::first(100).with_filter("total", cart_3["total"].clone()),
    ))
    .unwrap();
    assert!(same_total.documents.iter().any(|d| d.id == "cart-3"));
    for document in &same_total.documents {
        let value: serde_json::Value = serde_json::from_str(&document.document).unwrap();
        assert_eq!(value["total"], cart_3["total"]);
    }

    let bad_field = block_on(engine.list(
        "cart-summary",
        "default",
        "cart_summary",
        &ListQuery::first(10).with_filter("status') OR 1=1 --", json!("open")),
    ));
    assert!(
        matches!(bad_field, Err(Error::InvalidQuery(_))),
        "{bad_field:?}"
    );
    let unknown = block_on(engine.get("no-such-projection", "default", "cart_summary", "cart-1"));
    assert!(
        matches!(unknown, Err(Error::UnknownProjection(_))),
        "{unknown:?}"
    );
}
}

both_backends! {
fn documents_are_scoped_to_their_partition(backend: Backend) {
    let setup = Setup::new(backend);
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    let store = &*setup.store;
    append_in(store, "tenant-a", "cart-500", "CartOpened", OPENED);
    append_in(store, "tenant-b", "cart-500", "CartOpened", OPENED);
    append_in(store, "tenant-b", "cart-500", "ItemAdded", ADDED);
    // Interleave the partitions so one batch holds runs of each.
    append_in(store, "tenant-a", "cart-500", "ItemAdded", ADDED);
    append_in(store, "tenant-a", "cart-500", "ItemAdded", ADDED);
    setup.wait_for_head("cart-summary");

    let document = |partition: &str| -> Option<serde_json::Value> {
        block_on(
            setup
                .engine
                .get("cart-summary", partition, "cart_summary", "cart-500"),
        )
        .unwrap()
        .map(|text| serde_json::from_str(&text).unwrap())
    };
    assert_eq!(document("tenant-a").unwrap()["itemCount"], 6);
    assert_eq!(document("tenant-b").unwrap()["itemCount"], 3);
    assert_eq!(document("default"), None);
    assert_eq!(
        block_on(
            setup
                .engine
                .count("cart-summary", "tenant-a", "cart_summary")
        )
        .unwrap(),
        1
    );
}
}
