//! The real cart component driven through the host: decide, evolve, reject.

use super::event;
use crate::support::MemoryDocuments;
use crate::support::guests::{self, CART, CART_SUMMARY};
use refold::runtime::{DecideError, Documents, Runtime, RuntimeConfig};

const OPENED: &str = r#"{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#;
const ADDED: &str = r#"{"cartId":"cart-0","sku":"SKU-00001","name":"Product 1","quantity":2,"unitPrice":117,"addedAt":"2024-01-01T00:00:01.000Z"}"#;

fn command(command_type: &str, data: &str) -> String {
    format!(r#"{{"type":"{command_type}","data":{data}}}"#)
}

#[test]
fn decides_and_evolves_the_cart_through_the_component() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let cart = runtime.load("cart", &guests::wasm(CART)).unwrap();

    let empty = cart.initial_state().unwrap();
    let opened = cart
        .decide(&empty, &command("OpenCart", OPENED))
        .unwrap()
        .unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].event_type, "CartOpened");
    assert_eq!(opened[0].data, OPENED);

    let state = cart
        .evolve(
            &empty,
            &[
                event("cart-0", 1, "CartOpened", OPENED),
                event("cart-0", 2, "ItemAdded", ADDED),
            ],
        )
        .unwrap();
    let confirmed = cart
        .decide(&state, &command("ConfirmCart", r#"{"cartId":"cart-0"}"#))
        .unwrap()
        .unwrap();
    assert_eq!(confirmed[0].event_type, "CartConfirmed");
    let data: serde_json::Value = serde_json::from_str(&confirmed[0].data).unwrap();
    assert_eq!(data["itemCount"], 2);
    assert_eq!(data["total"], 234);
}

#[test]
fn rejections_are_values_not_faults() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let cart = runtime.load("cart", &guests::wasm(CART)).unwrap();
    let empty = cart.initial_state().unwrap();

    let refused = cart
        .decide(&empty, &command("ConfirmCart", r#"{"cartId":"cart-0"}"#))
        .unwrap();
    assert_eq!(
        refused,
        Err(DecideError::Rejected(
            "cannot confirm cart cart-0: it is not open".to_owned()
        ))
    );

    let invalid = cart.decide(&empty, r#"{"type":"Fly","data":{}}"#).unwrap();
    assert!(matches!(invalid, Err(DecideError::InvalidCommand(m)) if m.contains("Fly")));
}

#[test]
fn evolve_reports_an_event_it_cannot_read() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let cart = runtime.load("cart", &guests::wasm(CART)).unwrap();
    let empty = cart.initial_state().unwrap();
    let error = cart
        .evolve(
            &empty,
            &[event("cart-0", 1, "ItemAdded", r#"{"cartId":"cart-0"}"#)],
        )
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("module 'cart' failed in evolve: reported an error: event 1 (ItemAdded at 1 of cart-0) cannot be read"), "{message}");
}

#[test]
fn the_component_matches_the_same_logic_called_natively() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let module = runtime.load("cart", &guests::wasm(CART)).unwrap();
    let events = [
        event("cart-0", 1, "CartOpened", OPENED),
        event("cart-0", 2, "ItemAdded", ADDED),
    ];
    let native_events: Vec<refold_guest::Event> = events
        .iter()
        .map(|e| refold_guest::Event {
            event_type: e.event_type.clone(),
            data: e.data.clone(),
            stream_id: e.stream_id.clone(),
            stream_position: e.stream_position,
            global_position: e.global_position,
            ..Default::default()
        })
        .collect();

    let wasm_state = module
        .evolve(&module.initial_state().unwrap(), &events)
        .unwrap();
    let native_state = refold_guest::wire::evolve::<cart::Cart>(
        &refold_guest::wire::initial_state::<cart::Cart>(),
        &native_events,
    )
    .unwrap();
    assert_eq!(wasm_state, native_state);
}

#[test]
fn the_projection_component_writes_documents_through_the_host() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let summary = runtime
        .load("cart-summary", &guests::wasm(CART_SUMMARY))
        .unwrap();
    assert_eq!(
        summary.event_types().unwrap(),
        ["CartOpened", "ItemAdded", "ItemRemoved", "CartConfirmed"]
    );

    let mut documents: Box<dyn Documents> = Box::new(MemoryDocuments::default());
    summary
        .apply(
            &[
                event("cart-0", 1, "CartOpened", OPENED),
                event("cart-0", 2, "ItemAdded", ADDED),
            ],
            &mut documents,
        )
        .unwrap();
    let document = documents
        .get("cart_summary", "cart-0")
        .expect("the summary was written");
    assert_eq!(
        document,
        r#"{"cartId":"cart-0","itemCount":2,"total":234,"status":"open"}"#
    );
}
