//! Appends: the expected-version guard, the outcome's positions, and idempotent resends.

use super::{append, counted, whole_log};
use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{AppendOutcome, AppendRequest, ExpectedVersion};

/// Assert `result` is a conflict on `s-1` that reports `expected` and `actual`.
fn assert_conflict(result: refold::Result<AppendOutcome>, expected: ExpectedVersion, actual: u64) {
    match result {
        Err(Error::Conflict {
            partition,
            stream,
            expected: e,
            actual: a,
        }) => {
            assert_eq!((partition.as_str(), stream.as_str()), ("default", "s-1"));
            assert_eq!((e, a), (expected, actual));
        }
        other => panic!("expected a conflict at version {actual}, got {other:?}"),
    }
}

/// A one-event append to `s-1` under `expected`.
fn try_append(store: &TestStore, expected: ExpectedVersion) -> refold::Result<AppendOutcome> {
    block_on(store.append(AppendRequest::new("s-1", expected, vec![counted(9)])))
}

both_backends! {
fn outcome_gives_the_stream_version_and_global_positions(backend: Backend) {
    let store = TestStore::new(backend);
    let first = append(&*store, "s-1", ExpectedVersion::NoStream, 3);
    assert_eq!(
        (
            first.stream_version,
            first.first_position,
            first.last_position
        ),
        (3, 1, 3)
    );
    let other = append(&*store, "s-2", ExpectedVersion::NoStream, 2);
    assert_eq!(
        (
            other.stream_version,
            other.first_position,
            other.last_position
        ),
        (2, 4, 5)
    );
    let second = append(&*store, "s-1", ExpectedVersion::Exact(3), 1);
    assert_eq!(
        (
            second.stream_version,
            second.first_position,
            second.last_position
        ),
        (4, 6, 6)
    );
    assert_eq!(
        store.head(),
        6,
        "the head is published before the append is acknowledged"
    );
    assert_eq!(
        block_on(store.stream_version("default", "s-1")).unwrap(),
        Some(4)
    );
    let log = whole_log(&*store);
    assert_eq!(
        log[0].recorded_at, first.recorded_at,
        "the outcome carries the recorded time"
    );
    assert_eq!(log[5].recorded_at, second.recorded_at);
    let positions: Vec<_> = log
        .iter()
        .map(|e| (e.stream.as_str(), e.stream_position))
        .collect();
    assert_eq!(
        positions,
        [
            ("s-1", 1),
            ("s-1", 2),
            ("s-1", 3),
            ("s-2", 1),
            ("s-2", 2),
            ("s-1", 4)
        ]
    );
    let m = store.metrics();
    assert_eq!((m.appends, m.events_appended, m.conflicts), (3, 6, 0));
}
}

both_backends! {
fn any_appends_whatever_the_version(backend: Backend) {
    let store = TestStore::new(backend);
    assert_eq!(
        try_append(&store, ExpectedVersion::Any)
            .unwrap()
            .stream_version,
        1
    );
    assert_eq!(
        try_append(&store, ExpectedVersion::Any)
            .unwrap()
            .stream_version,
        2
    );
}
}

both_backends! {
fn no_stream_succeeds_only_on_a_new_stream(backend: Backend) {
    let store = TestStore::new(backend);
    assert_eq!(
        try_append(&store, ExpectedVersion::NoStream)
            .unwrap()
            .stream_version,
        1
    );
    assert_conflict(
        try_append(&store, ExpectedVersion::NoStream),
        ExpectedVersion::NoStream,
        1,
    );
    assert_eq!(store.head(), 1, "a conflict writes nothing");
    assert_eq!(store.metrics().conflicts, 1);
}
}

both_backends! {
fn exists_succeeds_only_on_an_existing_stream(backend: Backend) {
    let store = TestStore::new(backend);
    assert_conflict(
        try_append(&store, ExpectedVersion::Exists),
        ExpectedVersion::Exists,
        0,
    );
    assert_eq!(
        block_on(store.stream_version("default", "s-1")).unwrap(),
        None,
        "a conflict writes nothing"
    );
    append(&*store, "s-1", ExpectedVersion::Any, 2);
    assert_eq!(
        try_append(&store, ExpectedVersion::Exists)
            .unwrap()
            .stream_version,
        3
    );
}
}

both_backends! {
fn exact_succeeds_only_at_that_version(backend: Backend) {
    let store = TestStore::new(backend);
    assert_conflict(
        try_append(&store, ExpectedVersion::Exact(1)),
        ExpectedVersion::Exact(1),
        0,
    );
    assert_eq!(
        try_append(&store, ExpectedVersion::Exact(0))
            .unwrap()
            .stream_version,
        1
    );
    assert_conflict(
        try_append(&store, ExpectedVersion::Exact(0)),
        ExpectedVersion::Exact(0),
        1,
    );
    assert_conflict(
        try_append(&store, ExpectedVersion::Exact(2)),
        ExpectedVersion::Exact(2),
        1,
    );
    assert_eq!(
        try_append(&store, ExpectedVersion::Exact(1))
            .unwrap()
            .stream_version,
        2
    );
    assert_eq!(store.head(), 2);
    assert_eq!(store.metrics().conflicts, 3);
}
}

both_backends! {
fn resending_an_append_returns_the_original_outcome_and_writes_nothing(backend: Backend) {
    let store = TestStore::new(backend);
    let request = AppendRequest::new(
        "s-1",
        ExpectedVersion::NoStream,
        (1..=3).map(counted).collect(),
    );
    let original = block_on(store.append(request.clone())).unwrap();
    append(&*store, "s-1", ExpectedVersion::Exact(3), 2);
    // The stream moved on, so the guard alone would refuse the resend as a conflict.
    assert_eq!(block_on(store.append(request.clone())).unwrap(), original);
    let any = AppendRequest {
        expected: ExpectedVersion::Any,
        ..request
    };
    assert_eq!(
        block_on(store.append(any)).unwrap(),
        original,
        "the same ids under another guard are the same append"
    );
    assert_eq!(
        whole_log(&*store).len(),
        5,
        "the resent events are stored once"
    );
    let m = store.metrics();
    assert_eq!((m.appends, m.events_appended, m.conflicts), (2, 5, 0));
}
}

/// Assert that `request` is refused for reusing `event_id`, stored at `position` in
/// `s-1`, and that the log still holds `log_len` events.
fn assert_duplicate(
    store: &TestStore,
    request: AppendRequest,
    event_id: uuid::Uuid,
    position: u64,
    log_len: usize,
) {
    match block_on(store.append(request)) {
        Err(Error::DuplicateEventId {
            event_id: id,
            position: p,
            stored_stream,
        }) => assert_eq!((id, p, stored_stream.as_str()), (event_id, position, "s-1")),
        other => panic!("expected a duplicate event id {event_id}, got {other:?}"),
    }
    assert_eq!(
        whole_log(&**store).len(),
        log_len,
        "a refused append writes nothing"
    );
}

both_backends! {
fn reusing_ids_in_anything_but_an_exact_resend_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    let events: Vec<_> = (1..=3).map(counted).collect();
    let ids: Vec<_> = events.iter().map(|e| e.id).collect();
    block_on(store.append(AppendRequest::new(
        "s-1",
        ExpectedVersion::NoStream,
        events.clone(),
    )))
    .unwrap();
    let fresh = counted(4);
    let partial = vec![fresh.clone(), events[1].clone()];
    assert_duplicate(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, partial),
        ids[1],
        2,
        3,
    );
    let prefix = events[..2].to_vec();
    assert_duplicate(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, prefix),
        ids[0],
        1,
        3,
    );
    let longer = [events.clone(), vec![fresh]].concat();
    assert_duplicate(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, longer),
        ids[0],
        1,
        3,
    );
    let reordered = vec![events[1].clone(), events[0].clone(), events[2].clone()];
    assert_duplicate(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, reordered),
        ids[1],
        2,
        3,
    );
    let elsewhere = AppendRequest::new("s-2", ExpectedVersion::NoStream, events.clone());
    assert_duplicate(&store, elsewhere, ids[0], 1, 3);
    let other_partition =
        AppendRequest::new("s-1", ExpectedVersion::Any, events).in_partition("tenant-b");
    assert_duplicate(&store, other_partition, ids[0], 1, 3);
    assert_eq!(
        block_on(store.stream_version("default", "s-2")).unwrap(),
        None
    );
    assert_eq!(
        block_on(store.stream_version("default", "s-1")).unwrap(),
        Some(3)
    );
}
}

both_backends! {
fn two_adjacent_appends_cannot_pass_for_one(backend: Backend) {
    let store = TestStore::new(backend);
    let first = vec![counted(1), counted(2)];
    let second = vec![counted(3)];
    block_on(store.append(AppendRequest::new(
        "s-1",
        ExpectedVersion::NoStream,
        first.clone(),
    )))
    .unwrap();
    block_on(store.append(AppendRequest::new(
        "s-1",
        ExpectedVersion::Exact(2),
        second.clone(),
    )))
    .unwrap();
    let merged = [first.clone(), second].concat();
    assert_duplicate(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, merged),
        first[0].id,
        1,
        3,
    );
}
}
