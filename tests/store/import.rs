//! Imports: events written exactly as given, all or nothing per call, those stored
//! already skipped, anything that does not continue the log refused.

use super::{append, counted, whole_log};
use crate::support::{Backend, TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{
    AppendRequest, ExpectedVersion, ImportOutcome, LogFilter, Query, QueryItem, RecordedEvent,
};
use uuid::Uuid;

/// A store with six events: two streams of the default partition and one of another,
/// interleaved, one event with metadata and tags.
fn source(backend: Backend) -> TestStore {
    let store = TestStore::new(backend);
    append(&*store, "cart-1", ExpectedVersion::NoStream, 2);
    block_on(
        store.append(
            AppendRequest::new(
                "cart-1",
                ExpectedVersion::NoStream,
                vec![
                    counted(3)
                        .with_metadata(r#"{"tenant":"b"}"#)
                        .with_tags(["tenant:b", "cart:1"]),
                ],
            )
            .in_partition("tenant-b"),
        ),
    )
    .expect("append to the other partition");
    append(&*store, "order-1", ExpectedVersion::NoStream, 1);
    append(&*store, "cart-1", ExpectedVersion::Exact(2), 2);
    store
}

fn outcome(imported: u64, skipped: u64, head: u64) -> ImportOutcome {
    ImportOutcome {
        imported,
        skipped,
        head,
    }
}

/// What `import` was refused with; panics if it went through.
fn refused(store: &TestStore, events: Vec<RecordedEvent>) -> Error {
    match block_on(store.import(events)) {
        Ok(outcome) => panic!("the import went through: {outcome:?}"),
        Err(error) => error,
    }
}

both_backends! {
fn an_import_writes_every_field_as_given_and_the_copy_goes_on_like_the_original(backend: Backend) {
    let source = source(backend);
    let log = whole_log(&*source);
    let target = TestStore::new(backend);
    let mut heads = target.subscribe();
    let commits = target.metrics().commits;

    let done = block_on(target.import(log.clone())).unwrap();
    assert_eq!(done, outcome(6, 0, 6));
    assert_eq!(
        whole_log(&*target),
        log,
        "every field, recorded-at and tags included"
    );
    assert_eq!(log[2].tags, ["tenant:b", "cart:1"]);
    let tagged = LogFilter::query(Query::item(QueryItem::tags(["cart:1"])));
    let found = block_on(target.read_log(0, &tagged, 10)).unwrap();
    assert_eq!(found, log[2..3], "the tags are indexed for queries");
    assert_eq!(target.head(), 6);
    assert!(heads.has_changed().unwrap(), "the head watch learnt of it");
    assert_eq!(*heads.borrow_and_update(), 6);
    let metrics = target.metrics();
    assert_eq!(
        metrics.events_appended, 6,
        "imported events count as appended"
    );
    assert_eq!(metrics.commits, commits + 1, "one transaction");
    for (partition, stream) in [
        ("default", "cart-1"),
        ("tenant-b", "cart-1"),
        ("default", "order-1"),
    ] {
        assert_eq!(
            block_on(target.stream_version(partition, stream)).unwrap(),
            block_on(source.stream_version(partition, stream)).unwrap(),
            "{partition}/{stream}"
        );
    }

    // Appends go on from the imported versions and head.
    let next = append(&*target, "cart-1", ExpectedVersion::Exact(4), 1);
    assert_eq!((next.stream_version, next.last_position), (5, 7));
    // A resend of an original append of one event is still a retry.
    let original = log[3].clone();
    let resent = block_on(target.append(AppendRequest::new(
        "order-1",
        ExpectedVersion::NoStream,
        vec![counted(1).with_id(original.id)],
    )))
    .unwrap();
    assert_eq!(resent.events, [original]);
    assert_eq!(target.head(), 7);
}
}

both_backends! {
fn events_stored_already_at_their_position_are_skipped_so_an_import_resumes(backend: Backend) {
    let log = whole_log(&*source(backend));
    let target = TestStore::new(backend);
    assert_eq!(
        block_on(target.import(log[..2].to_vec())).unwrap(),
        outcome(2, 0, 2)
    );
    let appended = target.metrics().events_appended;
    assert_eq!(
        block_on(target.import(log.clone())).unwrap(),
        outcome(4, 2, 6)
    );
    assert_eq!(whole_log(&*target), log);
    assert_eq!(target.metrics().events_appended, appended + 4);

    let mut heads = target.subscribe();
    heads.borrow_and_update();
    assert_eq!(
        block_on(target.import(log.clone())).unwrap(),
        outcome(0, 6, 6)
    );
    assert_eq!(whole_log(&*target), log, "nothing written");
    assert_eq!(target.metrics().events_appended, appended + 4);
    assert!(!heads.has_changed().unwrap(), "the head did not move");
    assert_eq!(
        block_on(target.import(Vec::new())).unwrap(),
        outcome(0, 0, 6)
    );
}
}

both_backends! {
fn a_gap_or_another_event_at_a_position_is_refused_and_nothing_of_the_call_is_written(backend: Backend) {
    let log = whole_log(&*source(backend));
    let target = TestStore::new(backend);

    match refused(&target, log[2..].to_vec()) {
        Error::ImportOutOfOrder { position, head } => assert_eq!((position, head), (3, 0)),
        other => panic!("expected an import out of order, got {other:?}"),
    }
    // The first events of the call go through inside it, then the gap undoes them.
    let mut gap = log[..2].to_vec();
    gap.push(log[3].clone());
    let error = refused(&target, gap);
    assert!(
        matches!(
            error,
            Error::ImportOutOfOrder {
                position: 4,
                head: 2
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot import the event at global position 4: the store's log ends at 2, so the \
         next event imported must be at 3 (an event already stored at its position is \
         skipped only when it is the same event: same id, stream and stream position); \
         import into an empty store, or import the events that continue this store's log"
    );
    assert!(whole_log(&*target).is_empty(), "nothing of the call");
    assert_eq!(target.head(), 0);
    assert_eq!(target.metrics().events_appended, 0);

    // A store with a log of its own: position 1 holds another event.
    append(&*target, "cart-1", ExpectedVersion::NoStream, 1);
    let own = whole_log(&*target);
    match refused(&target, log.clone()) {
        Error::ImportOutOfOrder { position, head } => assert_eq!((position, head), (1, 1)),
        other => panic!("expected an import out of order, got {other:?}"),
    }
    // The same id at the same position, but in another stream, is another event.
    let mut moved = own[0].clone();
    moved.stream = "cart-2".to_owned();
    assert!(matches!(
        refused(&target, vec![moved]),
        Error::ImportOutOfOrder {
            position: 1,
            head: 1
        }
    ));
    let mut moved = own[0].clone();
    moved.stream_position = 2;
    assert!(matches!(
        refused(&target, vec![moved]),
        Error::ImportOutOfOrder { position: 1, .. }
    ));
    assert_eq!(whole_log(&*target), own);
    // The store goes on.
    assert_eq!(
        block_on(target.import(own.clone())).unwrap(),
        outcome(0, 1, 1)
    );
}
}

both_backends! {
fn a_stream_position_that_does_not_follow_the_stream_is_refused(backend: Backend) {
    let log = whole_log(&*source(backend));
    let target = TestStore::new(backend);
    block_on(target.import(log[..2].to_vec())).unwrap();

    // Position 3 continues the log, but is the stream's 4th event after its 2nd.
    let mut ahead = log[2].clone();
    ahead.partition = "default".to_owned();
    ahead.stream_position = 4;
    let error = refused(&target, vec![ahead]);
    match &error {
        Error::ImportStreamOutOfOrder {
            position,
            partition,
            stream,
            stream_position,
            version,
        } => assert_eq!(
            (
                *position,
                &**partition,
                &**stream,
                *stream_position,
                *version
            ),
            (3, "default", "cart-1", 4, 2)
        ),
        other => panic!("expected a stream out of order, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "cannot import the event at global position 3: it is at position 4 of stream \
         'cart-1' in partition 'default', but that stream is at 2, so its next event must \
         be at 3: import every event of the stream, in order from its first (export the \
         whole log again)"
    );
    // A new stream starts at 1, not later.
    let mut late = log[2].clone();
    late.stream = "cart-9".to_owned();
    late.stream_position = 2;
    assert!(matches!(
        refused(&target, vec![late]),
        Error::ImportStreamOutOfOrder { version: 0, .. }
    ));
    // Going back is refused too.
    let mut behind = log[2].clone();
    behind.partition = "default".to_owned();
    behind.stream_position = 2;
    assert!(matches!(
        refused(&target, vec![behind]),
        Error::ImportStreamOutOfOrder {
            stream_position: 2,
            version: 2,
            ..
        }
    ));
    assert_eq!(whole_log(&*target), log[..2]);
}
}

both_backends! {
fn an_id_stored_as_another_event_is_refused(backend: Backend) {
    let log = whole_log(&*source(backend));
    let target = TestStore::new(backend);
    block_on(target.import(log[..2].to_vec())).unwrap();
    let mut twin = log[2].clone();
    twin.id = log[0].id;
    match refused(&target, vec![twin]) {
        Error::ImportIdTaken {
            position,
            event_id,
            stored_at,
        } => assert_eq!((position, event_id, stored_at), (3, log[0].id, 1)),
        other => panic!("expected a taken id, got {other:?}"),
    }
    assert_eq!(whole_log(&*target), log[..2]);
}
}

both_backends! {
fn events_are_checked_like_appends_before_anything_is_written(backend: Backend) {
    let log = whole_log(&*source(backend));
    let target = TestStore::new(backend);
    let mut broken = log.clone();
    broken[4].data = "[1, 2]".to_owned();
    match refused(&target, broken) {
        Error::InvalidImport { position, reason } => {
            assert_eq!(position, 5);
            assert_eq!(
                reason,
                "its data is not a JSON object (it is JSON of another kind)"
            );
        }
        other => panic!("expected an invalid import, got {other:?}"),
    }
    let mut unordered = log.clone();
    unordered.swap(1, 2);
    assert!(matches!(
        refused(&target, unordered),
        Error::InvalidImport { position: 2, .. }
    ));
    let mut untyped = log.clone();
    untyped[0].event_type.clear();
    untyped[0].id = Uuid::now_v7();
    assert!(matches!(
        refused(&target, untyped),
        Error::InvalidImport { position: 1, .. }
    ));
    let mut lone = log.clone();
    lone[2].data = r#"{"text": "\ud800"}"#.to_owned();
    assert!(matches!(
        refused(&target, lone),
        Error::InvalidImport { position: 3, reason } if reason.contains("surrogate")
    ));
    let mut control = log.clone();
    control[3].stream = "cart\u{0}1".to_owned();
    assert!(matches!(
        refused(&target, control),
        Error::InvalidImport { position: 4, reason } if reason.starts_with("its stream id holds the control character U+0000")
    ));
    assert!(whole_log(&*target).is_empty());
    assert_eq!(
        target.metrics().writes_submitted,
        0,
        "refused before the writer"
    );
}
}
