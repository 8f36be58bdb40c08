//! A deploy tries the module once before it goes live: a decider whose
//! `initial-state` traps is refused with the guest's message, and the version
//! deployed before keeps serving.

use super::command;
use crate::support::guests::{self, BROKEN_INIT, CART};
use crate::support::server::{Db, add_item, agent, get, open_cart, put};

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
