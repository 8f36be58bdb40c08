//! One engine, one store, two guest languages: the Python cart decides the commands
//! through the command handler and the JavaScript cart-summary builds the read model
//! through the projection engine.

use super::{Language, load};
use crate::support::{TempStore, block_on, guests};
use refold::commands::{CommandConfig, CommandHandler};
use refold::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine};
use refold::runtime::Runtime;
use refold::store::EventStore;
use refold_workload as workload;
use std::sync::Arc;
use std::time::Duration;

const CARTS: u64 = 20;

#[test]
fn python_decides_and_javascript_projects_over_one_store() {
    let decider = Language::Python.decider_wasm();
    let projection = Language::JavaScript.projection_wasm();
    // Through the shared loader first, so this test's runtime finds both precompiled.
    load("cart", &decider);
    load("cart-summary", &projection);

    let store = TempStore::new();
    let runtime = Arc::new(Runtime::new(guests::cached_config()).unwrap());
    runtime.deploy(runtime.load("cart", &decider).unwrap());
    let summary = runtime.deploy(runtime.load("cart-summary", &projection).unwrap());
    let engine = block_on(async {
        ProjectionEngine::new(
            &store.storage(),
            runtime.clone(),
            ProjectionConfig::default(),
        )
    });
    block_on(engine.deploy(summary, FailurePolicy::Stop)).unwrap();
    let handler = CommandHandler::new(store.shared(), runtime.clone(), CommandConfig::default());

    // The standard carts' commands, round by round as in W4.
    for round in 0..workload::ITEMS + 2 {
        for cart in 0..CARTS {
            let events = workload::cart_events(cart, workload::ITEMS);
            let (event_type, data) = &events[round as usize];
            let command = match *event_type {
                "CartOpened" => format!(r#"{{"type":"OpenCart","data":{data}}}"#),
                "ItemAdded" => format!(r#"{{"type":"AddItem","data":{data}}}"#),
                _ => format!(r#"{{"type":"ConfirmCart","data":{{"cartId":"cart-{cart}"}}}}"#),
            };
            let outcome =
                block_on(handler.handle("cart", "default", &format!("cart-{cart}"), &command))
                    .unwrap();
            assert_eq!(outcome.events[0].event_type, *event_type);
            assert_eq!(outcome.events[0].data, *data, "cart-{cart}, round {round}");
        }
    }
    let refused = block_on(handler.handle(
        "cart",
        "default",
        "cart-0",
        r#"{"type":"ConfirmCart","data":{"cartId":"cart-0"}}"#,
    ))
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "module 'cart' rejected the command: cannot confirm cart cart-0: it is already confirmed"
    );

    block_on(engine.wait_for("cart-summary", store.head(), Duration::from_secs(60))).unwrap();
    for cart in 0..CARTS {
        let events = workload::cart_events(cart, workload::ITEMS);
        let confirmed: serde_json::Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
        let expected = format!(
            r#"{{"cartId":"cart-{cart}","itemCount":{},"total":{},"status":"confirmed"}}"#,
            confirmed["itemCount"], confirmed["total"]
        );
        let document = block_on(engine.get(
            "cart-summary",
            "default",
            "cart_summary",
            &format!("cart-{cart}"),
        ))
        .unwrap();
        assert_eq!(document, Some(expected), "cart-{cart}");
    }
    assert_eq!(
        block_on(engine.count("cart-summary", "default", "cart_summary")).unwrap(),
        CARTS
    );
    engine.shutdown();
}
