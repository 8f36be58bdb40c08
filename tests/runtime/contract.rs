//! Modules built against the released 0.1.0 contract keep working beside 0.2.0 ones.
//!
//! `tests/fixtures/cart-0.1.0.wasm` and `cart-summary-0.1.0.wasm` are the example cart
//! and cart-summary as built by Refold 0.1.0 (`refold:domain@0.1.0`), the bytes a user's
//! database holds from before the contract moved: the host must load and call them.

use super::event;
use crate::support::MemoryDocuments;
use crate::support::guests::{self, CART, CART_SUMMARY};
use refold::runtime::{Contract, DeciderContext, Documents, Module, Runtime, RuntimeConfig, World};

const CART_0_1: &[u8] = include_bytes!("../fixtures/cart-0.1.0.wasm");
const CART_SUMMARY_0_1: &[u8] = include_bytes!("../fixtures/cart-summary-0.1.0.wasm");

const OPEN: &str = r#"{"type":"OpenCart","data":{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}"#;
const ADD: &str = r#"{"type":"AddItem","data":{"cartId":"cart-0","sku":"SKU-00001","name":"Product 1","quantity":2,"unitPrice":117,"addedAt":"2024-01-01T00:00:01.000Z"}}"#;
const CONFIRM: &str = r#"{"type":"ConfirmCart","data":{"cartId":"cart-0"}}"#;

/// Decide `commands` in turn on `cart`, folding each decision into the state: every
/// decision (event types and data, or the refusal) and the final state.
fn run(cart: &Module, commands: &[&str]) -> (Vec<String>, Vec<u8>) {
    let mut state = cart.initial_state().unwrap();
    let mut version = 0;
    let mut decisions = Vec::new();
    for command in commands {
        let context = DeciderContext {
            stream_id: Some("cart-0".to_owned()),
            partition: "default".to_owned(),
            version,
            metadata: "{}".to_owned(),
        };
        match cart.decide_in(&context, &state, command).unwrap() {
            Ok(events) => {
                let folded: Vec<_> = events
                    .iter()
                    .map(|e| {
                        version += 1;
                        event("cart-0", version, &e.event_type, &e.data)
                    })
                    .collect();
                state = cart.evolve(&state, &folded).unwrap();
                decisions.extend(
                    events
                        .iter()
                        .map(|e| format!("{} {}", e.event_type, e.data)),
                );
            }
            Err(refusal) => decisions.push(format!("{refusal:?}")),
        }
    }
    (decisions, state)
}

#[test]
fn a_decider_built_against_0_1_0_decides_and_folds_as_the_current_one_does() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let old = runtime.load("cart", CART_0_1).unwrap();
    let current = runtime.load("cart", &guests::wasm(CART)).unwrap();
    assert_eq!(
        (old.info().world, old.info().contract),
        (World::Decider, Contract::V0_1)
    );
    assert_eq!(current.info().contract, Contract::V0_2);

    let commands = [OPEN, ADD, CONFIRM, ADD, r#"{"type":"Fly","data":{}}"#];
    let (old_decisions, old_state) = run(&old, &commands);
    let (decisions, state) = run(&current, &commands);
    assert_eq!(old_decisions, decisions);
    assert_eq!(
        old_state, state,
        "both encode the cart's state the same way"
    );
    assert_eq!(decisions.len(), 5, "{decisions:#?}");
    assert!(
        decisions[3].starts_with("DecideError::Rejected("),
        "{decisions:#?}"
    );
    assert!(
        decisions[4].starts_with("DecideError::InvalidCommand("),
        "{decisions:#?}"
    );
}

#[test]
fn a_projection_built_against_0_1_0_applies_as_the_current_one_does() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let old = runtime.load("cart-summary", CART_SUMMARY_0_1).unwrap();
    let current = runtime
        .load("cart-summary", &guests::wasm(CART_SUMMARY))
        .unwrap();
    assert_eq!(
        (old.info().world, old.info().contract),
        (World::Projection, Contract::V0_1)
    );
    assert_eq!(old.event_types().unwrap(), current.event_types().unwrap());

    let cart = runtime.load("cart", &guests::wasm(CART)).unwrap();
    let (decided, _) = run(&cart, &[OPEN, ADD, ADD, CONFIRM]);
    let events: Vec<_> = decided
        .iter()
        .enumerate()
        .map(|(index, decision)| {
            let (event_type, data) = decision.split_once(' ').unwrap();
            event("cart-0", index as u64 + 1, event_type, data)
        })
        .collect();
    let apply = |module: &Module| {
        let mut documents: Box<dyn Documents> = Box::new(MemoryDocuments::default());
        module.apply(&events, &mut documents).unwrap();
        let mut documents = documents;
        let summary = documents.get("cart_summary", "cart-0");
        assert!(summary.is_some(), "{} wrote no summary", module.info().name);
        summary
    };
    assert_eq!(apply(&old), apply(&current));
}

#[test]
fn modules_that_declare_no_schemas_load_as_before_and_check_nothing() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime starts");
    let modules = [
        runtime
            .load("cart", CART_0_1)
            .expect("a 0.1.0 decider loads"),
        runtime
            .load("cart-summary", CART_SUMMARY_0_1)
            .expect("a 0.1.0 projection loads"),
        runtime
            .load("cart", &guests::wasm(CART))
            .expect("a 0.2.0 decider without schemas loads"),
    ];
    for module in &modules {
        assert!(module.schemas().is_empty(), "{:?}", module.info());
        module
            .check_command(r#"{"type":"Anything","data":{"at":"all"}}"#)
            .expect("a module without a schema takes every command to decide");
    }
    let described = runtime
        .load("described", &guests::wasm(guests::DESCRIBED))
        .expect("a decider exporting schemas loads");
    assert!(described.schemas().commands.is_some() && described.schemas().events.is_some());
    let refused = described
        .check_command(r#"{"type":"Add","data":{"amount":-1}}"#)
        .expect_err("the schema refuses a negative amount");
    assert!(
        matches!(&refused, refold::Error::CommandSchemaMismatch { field, .. } if field == "/data/amount"),
        "{refused}"
    );
}
