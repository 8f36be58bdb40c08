//! Appends to several streams at once: all or nothing, each stream under its own
//! expected version, the failing stream named, resends idempotent.

use super::{append, counted, whole_log};
use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{AppendRequest, ExpectedVersion};

fn to(stream: &str, expected: ExpectedVersion, ns: &[u64]) -> AppendRequest {
    AppendRequest::new(stream, expected, ns.iter().map(|&n| counted(n)).collect())
}

both_backends! {
fn appends_to_several_streams_commit_together_in_request_order(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "b-1", ExpectedVersion::NoStream, 2);
    let commits = store.metrics().commits;
    let outcomes = block_on(store.append_all(vec![
        to("a-1", ExpectedVersion::NoStream, &[1, 2]),
        to("b-1", ExpectedVersion::Exact(2), &[3]),
        to("a-1", ExpectedVersion::Exact(2), &[4]),
    ].into()))
    .unwrap();
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| (o.stream_version, o.first_position, o.last_position))
        .collect();
    assert_eq!(summary, vec![(2, 3, 4), (3, 5, 5), (3, 6, 6)]);
    assert_eq!(store.metrics().commits, commits + 1, "one transaction");
    assert_eq!(store.metrics().appends, 4);
    let log: Vec<_> = whole_log(&*store)
        .into_iter()
        .map(|e| (e.stream, e.stream_position))
        .collect();
    assert_eq!(
        log[2..],
        [
            ("a-1".to_owned(), 1),
            ("a-1".to_owned(), 2),
            ("b-1".to_owned(), 3),
            ("a-1".to_owned(), 3)
        ]
    );
    assert_eq!(outcomes[1].events[0].stream, "b-1");
    assert_eq!(outcomes[1].events[0].global_position, 5);
}
}

both_backends! {
fn one_conflicting_stream_fails_them_all_and_is_named(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "b-1", ExpectedVersion::NoStream, 3);
    let refused = block_on(store.append_all(vec![
        to("a-1", ExpectedVersion::NoStream, &[1]),
        to("b-1", ExpectedVersion::Exact(1), &[2]),
        to("c-1", ExpectedVersion::NoStream, &[3]),
    ].into()));
    match refused {
        Err(Error::Conflict {
            stream,
            partition,
            expected,
            actual,
        }) => {
            assert_eq!((stream.as_str(), partition.as_str()), ("b-1", "default"));
            assert_eq!((expected, actual), (ExpectedVersion::Exact(1), 3));
        }
        other => panic!("expected a conflict on b-1, got {other:?}"),
    }
    assert_eq!(
        whole_log(&*store).len(),
        3,
        "nothing of the refused appends"
    );
    assert_eq!(
        block_on(store.stream_version("default", "a-1")).unwrap(),
        None
    );
    assert_eq!(store.head(), 3);
    // The store goes on: the same appends with the right version go through.
    let outcomes = block_on(store.append_all(vec![
        to("a-1", ExpectedVersion::NoStream, &[1]),
        to("b-1", ExpectedVersion::Exact(3), &[2]),
    ].into()))
    .unwrap();
    assert_eq!(outcomes[1].stream_version, 4);
}
}

both_backends! {
fn a_resend_of_the_whole_batch_returns_the_original_outcomes(backend: Backend) {
    let store = TestStore::new(backend);
    let batch = vec![
        to("a-1", ExpectedVersion::NoStream, &[1, 2]),
        to("b-1", ExpectedVersion::NoStream, &[3]),
    ];
    let first = block_on(store.append_all(batch.clone().into())).unwrap();
    let again = block_on(store.append_all(batch.into())).unwrap();
    assert_eq!(first, again);
    assert_eq!(store.head(), 3);
    assert_eq!(store.metrics().appends, 2);
}
}

both_backends! {
fn an_empty_batch_and_an_id_used_twice_across_streams_are_refused(backend: Backend) {
    let store = TestStore::new(backend);
    match block_on(store.append_all(Vec::new().into())) {
        Err(Error::InvalidAppend { reason, .. }) => {
            assert!(reason.contains("there are no appends"), "{reason}")
        }
        other => panic!("expected an invalid append, got {other:?}"),
    }
    let shared = counted(1);
    let twice = vec![
        AppendRequest::new("a-1", ExpectedVersion::Any, vec![shared.clone()]),
        AppendRequest::new("b-1", ExpectedVersion::Any, vec![shared]),
    ];
    match block_on(store.append_all(twice.into())) {
        Err(Error::InvalidAppend { stream, reason, .. }) => {
            assert_eq!(stream, "b-1");
            assert!(reason.contains("repeats the id"), "{reason}");
        }
        other => panic!("expected an invalid append, got {other:?}"),
    }
    assert_eq!(store.head(), 0);
}
}
