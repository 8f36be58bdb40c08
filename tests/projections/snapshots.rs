//! Snapshot projections: each stream's state as the decider's own `evolve` folds it.

use super::{PATIENCE, Setup};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{CART, FAULTY};
use refold::commands::{CommandConfig, CommandHandler};
use refold::projections::{FailurePolicy, ListQuery, ProjectionState};
use refold_workload as workload;

both_backends! {
fn each_carts_document_is_its_folded_state(backend: Backend) {
    let setup = Setup::new(backend);
    let cart = setup.module("cart", CART);
    block_on(workload::append_carts(&*setup.store, 40, 4)).unwrap();
    // Carts still open, and a stream of another category the projection never reads.
    for i in 100..103 {
        let events = workload::cart_events(i, 3);
        for (event_type, data) in &events[..3] {
            setup.append(&format!("cart-{i}"), event_type, data);
        }
    }
    setup.append("order-1", "OrderPlaced", "{}");

    let name = block_on(
        setup
            .engine
            .deploy_snapshot("cart", "cart", FailurePolicy::Stop),
    )
    .unwrap();
    assert_eq!(name, "cart:cart");
    setup.wait_for_head(&name);

    let handler = CommandHandler::new(
        setup.store.shared(),
        setup.runtime.clone(),
        CommandConfig::default(),
    );
    let page = block_on(
        setup
            .engine
            .list(&name, "default", "cart", &ListQuery::first(1000)),
    )
    .unwrap();
    assert_eq!(page.documents.len(), 43);
    for document in &page.documents {
        let (state, _) = block_on(handler.load(cart.clone(), "default", &document.id)).unwrap();
        let folded: serde_json::Value = serde_json::from_slice(&state).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&document.document).unwrap();
        assert_eq!(stored, folded, "{}", document.id);
    }
    let open: serde_json::Value = serde_json::from_str(
        &block_on(setup.engine.get(&name, "default", "cart", "cart-101"))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(open["status"], "open");
    assert_eq!(open["lines"].as_object().unwrap().len(), 2);

    // New events fold into the stored state.
    let events = workload::cart_events(101, 3);
    let position = setup.append("cart-101", events[3].0, &events[3].1);
    block_on(setup.engine.wait_for(&name, position, PATIENCE)).unwrap();
    let (state, version) = block_on(handler.load(cart.clone(), "default", "cart-101")).unwrap();
    assert_eq!(version, 4);
    let stored = block_on(setup.engine.get(&name, "default", "cart", "cart-101"))
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&state).unwrap()
    );
}
}

both_backends! {
fn a_state_that_is_not_json_stops_the_projection_with_a_clear_error(backend: Backend) {
    let setup = Setup::new(backend);
    setup.module("faulty", FAULTY);
    let position = setup.append("cart-1", "Anything", "{}");
    let name = block_on(
        setup
            .engine
            .deploy_snapshot("faulty", "cart", FailurePolicy::Stop),
    )
    .unwrap();
    let waited = block_on(setup.engine.wait_for(&name, position, PATIENCE));
    assert!(
        matches!(&waited, Err(refold::Error::ProjectionFaulted { position: at, error, .. })
            if *at == position && error.contains("other than UTF-8 JSON")),
        "{waited:?}"
    );
    let status = setup.engine.status_of(&name).unwrap();
    assert_eq!(status.active.state, ProjectionState::Faulted);
}
}
