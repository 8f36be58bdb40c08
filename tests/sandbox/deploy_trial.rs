//! A deploy tries the module once before it goes live: a decider whose
//! `initial-state` traps, or a projection whose `event-types` does, is refused with the
//! guest's message, and the version deployed before keeps serving.

use super::command;
use crate::support::guests::{self, BROKEN_EVENT_TYPES, BROKEN_INIT, CART};
use crate::support::server::{Db, add_item, agent, get, open_cart, put};
use serde_json::Value;

#[test]
fn a_decider_whose_initial_state_traps_is_refused_and_the_current_version_stays_live() {
    let db = Db::new();
    let cart = format!("cart={}", guests::wasm_path(CART).display());
    let server = db.serve(&["--deploy", &cart]);
    let agent = agent();
    command(&agent, &server, "cart", "cart-1", &open_cart("cart-1")).ok();
    let before = get(&agent, &server.url("/modules")).ok().clone();

    let answer = put(
        &agent,
        &server.url("/modules/cart"),
        &guests::wasm(BROKEN_INIT),
        None,
    );
    let error = answer.error(400, "module-refused");
    assert_eq!(error["module"], "cart", "{answer:?}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("initial-state") && message.contains("has no initial state, on purpose"),
        "{message}"
    );
    assert_eq!(
        get(&agent, &server.url("/modules")).ok(),
        &before,
        "the refused module went live"
    );

    let added = command(
        &agent,
        &server,
        "cart",
        "cart-1",
        &add_item("cart-1", "SKU-1", 1),
    );
    assert_eq!(
        (
            added.ok()["streamVersion"].as_u64(),
            added.ok()["moduleVersion"].as_u64()
        ),
        (Some(2), Some(1))
    );
    server.stop();
}

#[test]
fn a_projection_whose_event_types_traps_is_refused_and_the_current_version_stays_live() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let agent = agent();
    command(&agent, &server, "cart", "cart-1", &open_cart("cart-1")).ok();
    let before = get(&agent, &server.url("/modules")).ok().clone();

    let broken = guests::wasm(BROKEN_EVENT_TYPES);
    let answer = put(&agent, &server.url("/modules/cart-summary"), &broken, None);
    let error = answer.error(400, "module-refused");
    assert_eq!(error["module"], "cart-summary", "{answer:?}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("event-types") && message.contains("declares no event types, on purpose"),
        "{message}"
    );
    assert_eq!(
        get(&agent, &server.url("/modules")).ok(),
        &before,
        "the refused module went live"
    );

    let added = command(
        &agent,
        &server,
        "cart",
        "cart-1",
        &add_item("cart-1", "SKU-1", 1),
    );
    let position = added.ok()["position"].as_u64().unwrap();
    let summary = get(
        &agent,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary/cart-1?wait_for={position}"
        )),
    );
    assert_ne!(summary.ok(), &Value::Null, "{summary:?}");
    server.stop();
}
