//! Command records: written in the same transaction as their command's events, found
//! again by id (per partition, across a reopen), never written twice for one id (not
//! even by two stores racing), and left unwritten when the append is refused.

use super::{counted, whole_log};
use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{
    AppendRequest, CommandWrite, DEFAULT_PARTITION, Decision, EventStore, ExpectedVersion,
    NewCommand, RecordedOutcome,
};
use std::sync::{Arc, Barrier};

/// The command `id` with `decision`, as the handler would record it.
fn command(id: &str, stream: &str, decision: Decision) -> NewCommand {
    NewCommand {
        partition: DEFAULT_PARTITION.to_owned(),
        command_id: id.to_owned(),
        decider: "cart".to_owned(),
        stream: stream.to_owned(),
        fingerprint: format!("hash-of-{id}"),
        module_version: 3,
        attempts: 1,
        decision,
    }
}

/// An append of `count` `Counted` events (fresh ids) to `stream`.
fn events(stream: &str, expected: ExpectedVersion, count: u64) -> Decision {
    Decision::Append(
        AppendRequest::new(stream, expected, (1..=count).map(counted).collect()).into(),
    )
}

fn record(store: &dyn EventStore, command: NewCommand) -> CommandWrite {
    block_on(store.record_command(command)).expect("record the command")
}

both_backends! {
fn a_record_is_written_with_its_events_and_then_found_instead_of_written_again(backend: Backend) {
    let store = TestStore::new(backend);
    let CommandWrite::Written {
        record: first,
        appended,
    } = record(&*store, command("k-1", "s-1", events("s-1", ExpectedVersion::NoStream, 2)))
    else {
        panic!("the first record of an id is written with its events");
    };
    assert_eq!(
        first.outcome,
        RecordedOutcome::Decided {
            stream_version: 2,
            positions: Some((1, 2))
        }
    );
    assert_eq!(
        (first.decider.as_str(), first.stream.as_str(), first.module_version),
        ("cart", "s-1", 3)
    );
    assert_eq!(appended.len(), 1, "one stream's append");
    assert_eq!(appended[0].events, whole_log(&*store));
    let found = |partition: &str, id: &str| block_on(store.command(partition, id)).unwrap();
    assert_eq!(found(DEFAULT_PARTITION, "k-1"), Some(first.clone()));
    assert_eq!(found("other", "k-1"), None, "ids are kept per partition");

    // Another write under the id, even of another decision, writes nothing.
    let again = record(&*store, command("k-1", "s-1", events("s-1", ExpectedVersion::Any, 1)));
    assert_eq!(again, CommandWrite::Found(first.clone()));
    assert_eq!(whole_log(&*store).len(), 2);

    // A rejection and a decision of nothing are recorded without events.
    let rejected = RecordedOutcome::Rejected {
        message: "the cart is confirmed".to_owned(),
    };
    let nothing = RecordedOutcome::Decided {
        stream_version: 2,
        positions: None,
    };
    for (id, outcome) in [("k-2", rejected), ("k-3", nothing)] {
        let CommandWrite::Written {
            record: written,
            appended,
        } = record(&*store, command(id, "s-1", Decision::Outcome(outcome.clone())))
        else {
            panic!("an outcome without events is written alone");
        };
        assert!(appended.is_empty(), "{appended:?}");
        assert_eq!(written.outcome, outcome);
        assert_eq!(found(DEFAULT_PARTITION, id), Some(written));
    }
    assert_eq!(store.head(), 2);

    let store = store.reopen();
    assert_eq!(
        block_on(store.command(DEFAULT_PARTITION, "k-1")).unwrap(),
        Some(first),
        "records are kept"
    );
}
}

both_backends! {
fn a_refused_append_leaves_no_record_and_an_exact_resend_is_recorded_with_the_stored_events(backend: Backend) {
    let store = TestStore::new(backend);
    match block_on(store.record_command(command(
        "k-1",
        "s-1",
        events("s-1", ExpectedVersion::Exact(5), 1),
    ))) {
        Err(Error::Conflict { actual: 0, .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(block_on(store.command(DEFAULT_PARTITION, "k-1")).unwrap(), None);
    assert_eq!(store.head(), 0);

    // Events stored with these ids but no record (a log imported without its
    // records, say): recording the command names the events stored, writing none.
    let request = AppendRequest::new("s-1", ExpectedVersion::NoStream, vec![counted(1), counted(2)]);
    let original = block_on(store.append(request.clone())).unwrap();
    let CommandWrite::Written { record, appended } =
        record(&*store, command("k-1", "s-1", Decision::Append(request.into())))
    else {
        panic!("an exact resend is recorded");
    };
    assert_eq!(appended, [original]);
    assert_eq!(
        record.outcome,
        RecordedOutcome::Decided {
            stream_version: 2,
            positions: Some((1, 2))
        }
    );
    assert_eq!(whole_log(&*store).len(), 2);
}
}

both_backends! {
fn two_stores_racing_to_record_one_id_write_it_once(backend: Backend) {
    // Each round, two stores over the same data (two processes, two nodes) record
    // the same id at once, each with events of their own ids that no version check
    // would stop: one writes, the other finds its record.
    const ROUNDS: usize = 10;
    let store = TestStore::new(backend);
    let stores: [Arc<dyn EventStore>; 2] = [store.shared(), store.open_again().events];
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(2));
        let writes: Vec<CommandWrite> = std::thread::scope(|scope| {
            let racers: Vec<_> = stores
                .iter()
                .map(|racer| {
                    let barrier = barrier.clone();
                    let id = format!("k-{round}");
                    scope.spawn(move || {
                        barrier.wait();
                        record(&**racer, command(&id, "s-1", events("s-1", ExpectedVersion::Any, 1)))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let written: Vec<_> = writes
            .iter()
            .filter_map(|w| match w {
                CommandWrite::Written { record, .. } => Some(record),
                CommandWrite::Found(_) => None,
            })
            .collect();
        assert_eq!(written.len(), 1, "round {round}: {writes:?}");
        assert!(
            writes.contains(&CommandWrite::Found(written[0].clone())),
            "round {round}: the other finds the record written: {writes:?}"
        );
    }
    assert_eq!(whole_log(&*store).len(), ROUNDS, "one event per id");
}
}
