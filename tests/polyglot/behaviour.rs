//! One table of commands and one list of events, through the Rust, Python and
//! JavaScript guests: the Rust answers are the reference the others must match byte
//! for byte (events, rejections, folded states, documents, error messages).

use super::Language;
use crate::support::event;
use refold::runtime::{DecideError, Event, Module, NewEvent};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const OPENED: &str = r#"{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#;
const ADDED: &str = r#"{"cartId":"cart-0","sku":"SKU-00001","name":"Product 1","quantity":2,"unitPrice":117,"addedAt":"2024-01-01T00:00:01.000Z"}"#;
const ADDED_AGAIN: &str = r#"{"cartId":"cart-0","sku":"SKU-00001","name":"Product 1","quantity":1,"unitPrice":120,"addedAt":"2024-01-01T00:00:02.000Z"}"#;
/// Keys out of order and one the cart does not know: the event's data is rewritten.
const ADDED_SHUFFLED: &str = r#"{"addedAt":"2024-01-01T00:00:03.000Z","unitPrice":250,"quantity":3,"note":"gift","name":"Product 2","sku":"SKU-00002","cartId":"cart-0"}"#;
/// Escapes and characters beyond ASCII, in the data and in the state's line keys.
const ADDED_EMOJI: &str = r#"{"cartId":"cart-0","sku":"SKU-😀","name":"Café \"Noir\"\n\u00e9\t☕","quantity":1,"unitPrice":1,"addedAt":"2024-01-01T00:00:04.000Z"}"#;
/// A key that sorts before `SKU-😀` by code point but after it in UTF-16.
const ADDED_WIDE: &str = r#"{"cartId":"cart-0","sku":"SKU-～","name":"Wave","quantity":2,"unitPrice":5,"addedAt":"2024-01-01T00:00:05.000Z"}"#;
const NO_UNITS: &str = r#"{"cartId":"cart-0","sku":"SKU-00003","name":"Product 3","quantity":0,"unitPrice":1,"addedAt":"2024-01-01T00:00:06.000Z"}"#;
const CART_0: &str = r#"{"cartId":"cart-0"}"#;

/// What the Rust reference must answer to a command.
enum Expect {
    Events(&'static [&'static str]),
    Rejected(&'static str),
}

fn command(command_type: &str, data: &str) -> String {
    format!(r#"{{"type":"{command_type}","data":{data}}}"#)
}

fn remove(sku: &str) -> String {
    command(
        "RemoveItem",
        &format!(r#"{{"cartId":"cart-0","sku":"{sku}"}}"#),
    )
}

/// Every rule of the cart, in an order that visits each status.
fn scenario() -> Vec<(String, Expect)> {
    use Expect::{Events, Rejected};
    vec![
        (
            command("AddItem", ADDED),
            Rejected("cannot add an item to cart cart-0: it is not open"),
        ),
        (
            remove("SKU-00001"),
            Rejected("cannot remove an item from cart cart-0: it is not open"),
        ),
        (
            command("ConfirmCart", CART_0),
            Rejected("cannot confirm cart cart-0: it is not open"),
        ),
        (command("OpenCart", OPENED), Events(&["CartOpened"])),
        (
            command("OpenCart", OPENED),
            Rejected("cart cart-0 is already open"),
        ),
        (
            command("ConfirmCart", CART_0),
            Rejected("cart cart-0 is empty"),
        ),
        (command("AddItem", ADDED), Events(&["ItemAdded"])),
        (command("AddItem", ADDED_AGAIN), Events(&["ItemAdded"])),
        (
            command("AddItem", NO_UNITS),
            Rejected("cannot add 0 units of SKU-00003"),
        ),
        (command("AddItem", ADDED_SHUFFLED), Events(&["ItemAdded"])),
        (command("AddItem", ADDED_EMOJI), Events(&["ItemAdded"])),
        (command("AddItem", ADDED_WIDE), Events(&["ItemAdded"])),
        (
            remove("SKU-99999"),
            Rejected("cart cart-0 has no item SKU-99999"),
        ),
        (remove("SKU-00001"), Events(&["ItemRemoved"])),
        (
            remove("SKU-00001"),
            Rejected("cart cart-0 has no item SKU-00001"),
        ),
        (command("ConfirmCart", CART_0), Events(&["CartConfirmed"])),
        (
            command("AddItem", ADDED),
            Rejected("cannot add an item to cart cart-0: it is already confirmed"),
        ),
        (
            remove("SKU-00002"),
            Rejected("cannot remove an item from cart cart-0: it is already confirmed"),
        ),
        (
            command("ConfirmCart", CART_0),
            Rejected("cannot confirm cart cart-0: it is already confirmed"),
        ),
        (
            command("OpenCart", OPENED),
            Rejected("cart cart-0 is already open"),
        ),
    ]
}

/// The state the scenario ends in, as the Rust cart encodes it.
const FINAL_STATE: &str = r#"{"status":"confirmed","itemCount":6,"total":755,"lines":{"SKU-00002":{"quantity":3,"unitPrice":250},"SKU-～":{"quantity":2,"unitPrice":5},"SKU-😀":{"quantity":1,"unitPrice":1}}}"#;

/// What a decider answered to one command, and its state after folding the events.
#[derive(Debug, PartialEq)]
struct Step {
    decided: Result<Vec<NewEvent>, DecideError>,
    state: String,
}

/// Run `commands` through `cart` as the command handler would: decide on the current
/// state, fold the decided events. Returns each step and every event stored.
fn run(cart: &Module, commands: &[(String, Expect)]) -> (Vec<Step>, Vec<Event>) {
    let mut state = cart.initial_state().unwrap();
    let mut stored = Vec::new();
    let mut steps = Vec::new();
    for (command, _) in commands {
        let decided = cart.decide(&state, command).unwrap();
        if let Ok(events) = &decided {
            let appended: Vec<Event> = events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let position = (stored.len() + i + 1) as u64;
                    event("cart-0", position, &e.event_type, &e.data)
                })
                .collect();
            state = cart.evolve(&state, &appended).unwrap();
            stored.extend(appended);
        }
        steps.push(Step {
            decided,
            state: String::from_utf8(state.clone()).unwrap(),
        });
    }
    (steps, stored)
}

#[test]
fn python_and_javascript_carts_decide_exactly_like_the_rust_cart() {
    let commands = scenario();
    let rust = Language::Rust.decider();
    let (reference, _) = run(&rust, &commands);
    for ((command, expect), step) in commands.iter().zip(&reference) {
        match expect {
            Expect::Events(types) => {
                let decided = step.decided.as_ref().expect(command);
                let decided: Vec<&str> = decided.iter().map(|e| e.event_type.as_str()).collect();
                assert_eq!(&decided, types, "{command}");
            }
            Expect::Rejected(message) => assert_eq!(
                step.decided,
                Err(DecideError::Rejected((*message).to_owned())),
                "{command}"
            ),
        }
    }
    assert_eq!(reference.last().unwrap().state, FINAL_STATE);
    let confirmed = reference
        .iter()
        .filter_map(|step| step.decided.as_ref().ok())
        .flatten()
        .find(|e| e.event_type == "CartConfirmed")
        .unwrap();
    assert_eq!(
        confirmed.data,
        r#"{"cartId":"cart-0","itemCount":6,"total":755,"paymentMethod":"card","confirmedAt":"2024-01-01T00:10:00.000Z"}"#
    );

    let initial = rust.initial_state().unwrap();
    for language in Language::OTHERS {
        let cart = language.decider();
        assert_eq!(cart.initial_state().unwrap(), initial, "{language:?}");
        let (steps, _) = run(&cart, &commands);
        for (i, (step, want)) in steps.iter().zip(&reference).enumerate() {
            assert_eq!(
                step, want,
                "{language:?} differs from Rust at step {i}: {}",
                commands[i].0
            );
        }
    }
}

#[test]
fn every_cart_folds_a_whole_history_in_one_call_to_the_same_state() {
    let (_, history) = run(&Language::Rust.decider(), &scenario());
    for language in [Language::Rust, Language::Python, Language::JavaScript] {
        let cart = language.decider();
        let state = cart
            .evolve(&cart.initial_state().unwrap(), &history)
            .unwrap();
        assert_eq!(
            String::from_utf8(state).unwrap(),
            FINAL_STATE,
            "{language:?}"
        );
    }
}

#[test]
fn every_cart_refuses_commands_it_cannot_read_with_the_same_words() {
    const PREFIX: &str =
        r#"the command is not a known command as JSON {"type": ..., "data": {...}}: "#;
    let unreadable = [
        (r#"{"type":"Fly","data":{}}"#.to_owned(), "Fly"),
        (command("ConfirmCart", "{}"), "cartId"),
        (
            command(
                "AddItem",
                &ADDED.replace(r#""quantity":2"#, r#""quantity":"two""#),
            ),
            "",
        ),
        (command("AddItem", &ADDED.replace(":2,", ":-2,")), ""),
        ("not json".to_owned(), ""),
    ];
    for language in [Language::Rust, Language::Python, Language::JavaScript] {
        let cart = language.decider();
        let empty = cart.initial_state().unwrap();
        for (command, named) in &unreadable {
            match cart.decide(&empty, command).unwrap() {
                Err(DecideError::InvalidCommand(message)) => assert!(
                    message.starts_with(PREFIX) && message.contains(named),
                    "{language:?} on {command}: {message}"
                ),
                other => panic!("{language:?} on {command}: {other:?}"),
            }
        }
    }
}

#[test]
fn every_cart_reports_an_event_it_cannot_read_with_the_same_words() {
    let unreadable = [
        event("cart-0", 1, "ItemAdded", CART_0),
        event("cart-0", 1, "CartExploded", CART_0),
        event("cart-0", 1, "CartOpened", "{"),
    ];
    let prefix = |e: &Event| {
        format!(
            "module 'cart' failed in evolve: reported an error: event 1 ({} at 1 of cart-0) cannot be read: ",
            e.event_type
        )
    };
    for language in [Language::Rust, Language::Python, Language::JavaScript] {
        let cart = language.decider();
        let empty = cart.initial_state().unwrap();
        for bad in &unreadable {
            let message = cart
                .evolve(&empty, std::slice::from_ref(bad))
                .unwrap_err()
                .to_string();
            assert!(message.starts_with(&prefix(bad)), "{language:?}: {message}");
        }
    }
}

/// Two carts' events in global order, with a removal of more than a cart holds.
fn summary_events() -> Vec<Event> {
    let opened_1 = OPENED.replace("cart-0", "cart-1");
    let added_1 = ADDED_EMOJI
        .replace("cart-0", "cart-1")
        .replace(r#""unitPrice":1,"#, r#""unitPrice":5,"#);
    let removed_0 =
        r#"{"cartId":"cart-0","sku":"SKU-00001","quantity":2,"unitPrice":117}"#.to_owned();
    let removed_1 = r#"{"cartId":"cart-1","sku":"SKU-😀","quantity":5,"unitPrice":100}"#;
    let events = [
        ("cart-0", "CartOpened", OPENED),
        ("cart-0", "ItemAdded", ADDED),
        ("cart-1", "CartOpened", opened_1.as_str()),
        ("cart-0", "ItemAdded", ADDED_SHUFFLED),
        ("cart-1", "ItemAdded", added_1.as_str()),
        ("cart-0", "ItemRemoved", removed_0.as_str()),
        ("cart-1", "ItemRemoved", removed_1),
        ("cart-0", "CartConfirmed", CART_0),
    ];
    events
        .iter()
        .enumerate()
        .map(|(i, (stream, event_type, data))| event(stream, i as u64 + 1, event_type, data))
        .collect()
}

type Documents = BTreeMap<(String, String), String>;

/// Documents the test keeps a handle on while the runtime holds them for a call.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Documents>>);

impl refold::runtime::Documents for Shared {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        refold_guest::Documents::get(&mut *self.0.lock().unwrap(), collection, id)
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        refold_guest::Documents::put(&mut *self.0.lock().unwrap(), collection, id, document);
    }

    fn delete(&mut self, collection: &str, id: &str) {
        refold_guest::Documents::delete(&mut *self.0.lock().unwrap(), collection, id);
    }
}

/// Apply `batches` of events to `documents` through `projection`: the documents after,
/// or the first error.
fn project(
    projection: &Module,
    documents: Documents,
    batches: &[&[Event]],
) -> Result<Documents, String> {
    let shared = Shared(Arc::new(Mutex::new(documents)));
    let mut held: Box<dyn refold::runtime::Documents> = Box::new(shared.clone());
    for batch in batches {
        projection
            .apply(batch, &mut held)
            .map_err(|e| e.to_string())?;
    }
    Ok(shared.0.lock().unwrap().clone())
}

#[test]
fn python_and_javascript_summaries_write_the_rust_documents() {
    let events = summary_events();
    let rust = Language::Rust.projection();
    let reference = project(&rust, Documents::new(), &[&events]).unwrap();
    let expected: Documents = [
        (
            "cart-0",
            r#"{"cartId":"cart-0","itemCount":3,"total":750,"status":"confirmed"}"#,
        ),
        (
            "cart-1",
            r#"{"cartId":"cart-1","itemCount":0,"total":0,"status":"open"}"#,
        ),
    ]
    .into_iter()
    .map(|(id, doc)| (("cart_summary".to_owned(), id.to_owned()), doc.to_owned()))
    .collect();
    assert_eq!(reference, expected);

    let one_by_one: Vec<&[Event]> = events.chunks(1).collect();
    for language in Language::OTHERS {
        let projection = language.projection();
        assert_eq!(
            projection.event_types().unwrap(),
            rust.event_types().unwrap(),
            "{language:?}"
        );
        assert_eq!(
            project(&projection, Documents::new(), &[&events]).unwrap(),
            reference,
            "{language:?}, one batch"
        );
        assert_eq!(
            project(&projection, Documents::new(), &one_by_one).unwrap(),
            reference,
            "{language:?}, one event per call"
        );
    }
}

#[test]
fn every_summary_reports_what_it_cannot_apply_with_the_same_words() {
    const FAILED: &str = "module 'cart-summary' failed in apply: reported an error: ";
    let added = event("cart-0", 2, "ItemAdded", ADDED);
    let misshapen: Documents = [(
        ("cart_summary".to_owned(), "cart-0".to_owned()),
        CART_0.to_owned(),
    )]
    .into();
    // The documents, the event, and the start of the error; the serde details after a
    // `: ` are the Rust library's own words, which other languages do not copy.
    let cases = [
        (
            Documents::new(),
            added.clone(),
            "no summary for cart cart-0: its CartOpened was not applied",
            false,
        ),
        (
            misshapen,
            added,
            "document cart_summary/cart-0 is not the expected shape: ",
            true,
        ),
        (
            Documents::new(),
            event("cart-0", 2, "ItemAdded", CART_0),
            "event 2 (ItemAdded at 2 of cart-0) cannot be read: ",
            true,
        ),
    ];
    for language in [Language::Rust, Language::Python, Language::JavaScript] {
        let projection = language.projection();
        for (documents, bad, start, detailed) in &cases {
            let message =
                project(&projection, documents.clone(), &[std::slice::from_ref(bad)]).unwrap_err();
            let wanted = format!("{FAILED}{start}");
            if *detailed {
                assert!(message.starts_with(&wanted), "{language:?}: {message}");
            } else {
                assert_eq!(message, wanted, "{language:?}");
            }
        }
    }
}
