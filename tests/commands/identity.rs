//! Commands sent with an id: a resend gets the first outcome (events or rejection)
//! and decides and appends nothing, another command under the id is refused, and two
//! handlers sending one id at once append one set of events; the same for a query
//! decider's command.

use super::{add_item, engine, open_cart};
use crate::support::{block_on, both_backends};
use refold::Error;
use refold::commands::{CommandConfig, CommandHandler, CommandOutcome, CommandRequest};
use refold::store::{DEFAULT_PARTITION, Direction, EventStore};
use std::sync::{Arc, Barrier};

fn send(
    handler: &CommandHandler,
    stream: &str,
    id: &str,
    command: &str,
) -> refold::Result<CommandOutcome> {
    block_on(handler.handle_request("cart", CommandRequest::new(stream, command).with_id(id)))
}

fn stream_events(store: &dyn EventStore, stream: &str) -> Vec<refold::store::RecordedEvent> {
    block_on(store.read_stream(DEFAULT_PARTITION, stream, 1, Direction::Forward, 100)).unwrap()
}

both_backends! {
fn a_resend_gets_the_first_outcome_and_another_command_under_its_id_is_refused(backend: Backend) {
    let e = engine(backend, CommandConfig::default());
    let first = send(&e.handler, "cart-1", "open-1", &open_cart("cart-1")).unwrap();
    assert!(!first.replayed);
    assert_eq!(first.command_id, "open-1");
    let event = &first.events[0];
    assert_eq!(event.id.get_version_num(), 8, "its ids are derived from the command id");
    let metadata: serde_json::Value = serde_json::from_str(&event.metadata).unwrap();
    assert_eq!(metadata["refold"]["commandId"], "open-1");

    // Formatted otherwise, it is the same command.
    let spaced = open_cart("cart-1").replace(',', ", ");
    let again = send(&e.handler, "cart-1", "open-1", &spaced).unwrap();
    assert!(again.replayed);
    assert_eq!(
        CommandOutcome {
            replayed: false,
            ..again
        },
        first,
        "the first outcome, its events as stored"
    );
    assert_eq!(e.store.head(), 1, "nothing was appended again");

    for (stream, command) in [
        ("cart-1", add_item("cart-1", "SKU-1", 1, 100)),
        ("cart-2", open_cart("cart-1")),
    ] {
        match send(&e.handler, stream, "open-1", &command) {
            Err(Error::IdempotencyKeyReused {
                command_id,
                stream,
                decider,
                ..
            }) => assert_eq!(
                (command_id.as_str(), stream.as_str(), decider.as_str()),
                ("open-1", "cart-1", "cart")
            ),
            other => panic!("expected the reused id to be refused, got {other:?}"),
        }
    }

    // A rejection is an outcome too: a resend gets it even once the command would go
    // through.
    let add = add_item("cart-9", "SKU-1", 1, 100);
    let rejected = |outcome| match outcome {
        Err(Error::Rejected { module, message }) => (module, message),
        other => panic!("expected a rejection, got {other:?}"),
    };
    let first_rejection = rejected(send(&e.handler, "cart-9", "add-9", &add));
    block_on(e.handler.handle("cart", DEFAULT_PARTITION, "cart-9", &open_cart("cart-9"))).unwrap();
    assert_eq!(rejected(send(&e.handler, "cart-9", "add-9", &add)), first_rejection);
    assert_eq!(stream_events(&*e.store, "cart-9").len(), 1);
    assert_eq!(e.handler.metrics().replayed, 2);
}
}

both_backends! {
fn two_handlers_sending_one_command_id_at_once_append_one_set_of_events(backend: Backend) {
    // Two handlers over one store's data (two processes, two nodes) send the same
    // AddItem at once, round after round: adding an item twice is allowed, so only
    // the command id keeps it from being added twice.
    const ROUNDS: u64 = 8;
    let e = engine(backend, CommandConfig::default());
    let other_store = e.store.open_again();
    let other = CommandHandler::new(other_store.events.clone(), e.runtime.clone(), CommandConfig::default());
    block_on(e.handler.handle("cart", DEFAULT_PARTITION, "cart-1", &open_cart("cart-1"))).unwrap();
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(2));
        let id = format!("add-{round}");
        let command = add_item("cart-1", &format!("SKU-{round}"), 1, 100);
        let outcomes: Vec<CommandOutcome> = std::thread::scope(|scope| {
            let racers: Vec<_> = [&e.handler, &other]
                .into_iter()
                .map(|handler| {
                    let (barrier, id, command) = (barrier.clone(), &id, &command);
                    scope.spawn(move || {
                        barrier.wait();
                        send(handler, "cart-1", id, command).unwrap()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(outcomes[0].events, outcomes[1].events, "round {round}");
        assert_eq!(outcomes[0].events.len(), 1, "round {round}");
    }
    let events = stream_events(&*e.store, "cart-1");
    assert_eq!(events.len() as u64, 1 + ROUNDS, "one ItemAdded per command id");
    let replayed = e.handler.metrics().replayed + other.metrics().replayed;
    assert_eq!(replayed, ROUNDS, "one send of each id was answered from the other's record");
}
}

both_backends! {
fn a_query_deciders_command_with_an_id_is_answered_once(backend: Backend) {
    use crate::commands::query::{courses, define, subscribe, subscribers};
    let (store, handler) = courses(backend, 10);
    let send = |id: &str, command: &str| {
        block_on(handler.handle_query_request("courses", CommandRequest::query(command).with_id(id)))
    };
    block_on(handler.handle_query("courses", DEFAULT_PARTITION, &define("c1", 5))).unwrap();
    let first = send("sub-1", &subscribe("c1", "ann")).unwrap();
    let again = send("sub-1", &subscribe("c1", "ann")).unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.events, first.events);
    assert_eq!(subscribers(&store, "c1"), 1, "subscribed once");
    let metadata: serde_json::Value = serde_json::from_str(&first.events[0].metadata).unwrap();
    assert_eq!(metadata["refold"]["commandId"], "sub-1");
    match send("sub-1", &subscribe("c1", "bob")) {
        Err(Error::IdempotencyKeyReused { command_id, stream, .. }) => {
            assert_eq!((command_id.as_str(), stream.as_str()), ("sub-1", ""))
        }
        other => panic!("expected the reused id to be refused, got {other:?}"),
    }
    assert_eq!(subscribers(&store, "c1"), 1);
}
}
