//! A writer that waits for the projection to pass its command's position reads its
//! own write, every time.

use super::{PATIENCE, Setup};
use crate::support::guests::{CART, CART_SUMMARY};
use crate::support::{TestStore, block_on, both_backends};
use refold::commands::{CommandConfig, CommandHandler};
use refold::projections::FailurePolicy;
use refold::store::sqlite::Synchronous;
use refold_workload as workload;

both_backends! {
fn a_query_after_wait_for_sees_the_commands_effect_every_time(backend: Backend) {
    // Durability is not under test here: NORMAL keeps 2,000 commits off the disk's clock.
    let setup = Setup::over(TestStore::with_synchronous(backend, Synchronous::Normal));
    setup.module("cart", CART);
    let summary = setup.module("cart-summary", CART_SUMMARY);
    block_on(setup.engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    let handler = CommandHandler::new(
        setup.store.shared(),
        setup.runtime.clone(),
        CommandConfig::default(),
    );

    const CARTS: u64 = 100;
    let mut expected_items = vec![0u64; CARTS as usize];
    for step in 0..1000u64 {
        let (cart, round) = (step % CARTS, step / CARTS);
        let events = workload::cart_events(cart, workload::ITEMS);
        let (event_type, data) = &events[round as usize];
        let command = match *event_type {
            "CartOpened" => format!(r#"{{"type":"OpenCart","data":{data}}}"#),
            "ItemAdded" => format!(r#"{{"type":"AddItem","data":{data}}}"#),
            _ => format!(r#"{{"type":"ConfirmCart","data":{{"cartId":"cart-{cart}"}}}}"#),
        };
        if *event_type == "ItemAdded" {
            let added: serde_json::Value = serde_json::from_str(data).unwrap();
            expected_items[cart as usize] += added["quantity"].as_u64().unwrap();
        }
        let outcome =
            block_on(handler.handle("cart", "default", &format!("cart-{cart}"), &command)).unwrap();
        let position = outcome.position.expect("every command appends an event");
        block_on(setup.engine.wait_for("cart-summary", position, PATIENCE)).unwrap();
        let summary = setup
            .document("cart-summary", "cart_summary", &format!("cart-{cart}"))
            .unwrap_or_else(|| panic!("step {step}: cart-{cart} has no summary after wait_for"));
        assert_eq!(
            summary["itemCount"], expected_items[cart as usize],
            "step {step}: cart-{cart}"
        );
        let status = if round == workload::ITEMS + 1 {
            "confirmed"
        } else {
            "open"
        };
        assert_eq!(summary["status"], status, "step {step}: cart-{cart}");
    }
}
}
