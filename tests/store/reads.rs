//! Reads: streams forward and backward, the global log and its filters, partitions.

use super::{append, counted, whole_log};
use crate::support::{TestStore, block_on, both_backends};
use refold::store::{
    AppendRequest, Direction, EventData, ExpectedVersion, LogFilter, RecordedEvent,
};

/// The stream positions of `events`.
fn stream_positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.stream_position).collect()
}

/// The global positions of `events`.
fn global_positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.global_position).collect()
}

both_backends! {
fn a_stream_reads_forward_and_backward_from_a_version_with_a_limit(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "s-1", ExpectedVersion::NoStream, 10);
    let read = |from, direction, limit| {
        block_on(store.read_stream("default", "s-1", from, direction, limit)).unwrap()
    };
    assert_eq!(
        stream_positions(&read(1, Direction::Forward, 100)),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(stream_positions(&read(4, Direction::Forward, 3)), [4, 5, 6]);
    assert_eq!(stream_positions(&read(9, Direction::Forward, 5)), [9, 10]);
    assert!(read(11, Direction::Forward, 5).is_empty());
    assert_eq!(
        stream_positions(&read(u64::MAX, Direction::Backward, 3)),
        [10, 9, 8]
    );
    assert_eq!(
        stream_positions(&read(5, Direction::Backward, 10)),
        [5, 4, 3, 2, 1]
    );
    assert!(read(1, Direction::Forward, 0).is_empty());
    assert!(
        block_on(store.read_stream("default", "s-2", 1, Direction::Forward, 10))
            .unwrap()
            .is_empty()
    );
}
}

both_backends! {
fn a_read_event_carries_what_was_appended(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "other-1", ExpectedVersion::NoStream, 1);
    let event =
        EventData::new("CartOpened", r#"{"cartId": "cart-7"}"#).with_metadata(r#"{"by":"test"}"#);
    block_on(
        store.append(
            AppendRequest::new("cart-7", ExpectedVersion::NoStream, vec![event.clone()])
                .in_partition("p"),
        ),
    )
    .unwrap();
    let read = block_on(store.read_stream("p", "cart-7", 1, Direction::Forward, 10)).unwrap();
    let [e] = read.as_slice() else {
        panic!("expected one event, got {read:?}")
    };
    assert_eq!((e.global_position, e.stream_position), (2, 1));
    assert_eq!((e.partition.as_str(), e.stream.as_str()), ("p", "cart-7"));
    assert_eq!(
        (e.id, &e.event_type, &e.data, &e.metadata),
        (event.id, &event.event_type, &event.data, &event.metadata)
    );
    let at = e.recorded_at.as_bytes();
    assert_eq!(
        e.recorded_at.len(),
        "2024-01-01T00:00:00.000Z".len(),
        "{}",
        e.recorded_at
    );
    assert_eq!(
        (at[4], at[10], at[19], at[23]),
        (b'-', b'T', b'.', b'Z'),
        "{}",
        e.recorded_at
    );
    humantime::parse_rfc3339(&e.recorded_at).expect("recorded_at is RFC 3339");
}
}

both_backends! {
fn the_log_reads_after_a_position_with_a_limit(backend: Backend) {
    let store = TestStore::new(backend);
    for i in 0..5u64 {
        append(&*store, &format!("s-{i}"), ExpectedVersion::NoStream, 2);
    }
    let read = |after, limit| {
        global_positions(&block_on(store.read_log(after, &LogFilter::default(), limit)).unwrap())
    };
    assert_eq!(read(0, 100), (1..=10).collect::<Vec<_>>());
    assert_eq!(read(3, 4), [4, 5, 6, 7]);
    assert!(read(10, 100).is_empty());
    assert!(read(u64::MAX, 100).is_empty());
}
}

both_backends! {
fn the_log_filters_by_type_category_and_partition(backend: Backend) {
    let store = TestStore::new(backend);
    let put = |partition: &str, stream: &str, event_type: &str| {
        let event = EventData::new(event_type, "{}");
        block_on(store.append(
            AppendRequest::new(stream, ExpectedVersion::Any, vec![event]).in_partition(partition),
        ))
        .unwrap()
        .last_position
    };
    let p1 = put("a", "cart-1", "CartOpened");
    let p2 = put("a", "order-1", "OrderPlaced");
    let p3 = put("b", "cart-2", "CartOpened");
    let p4 = put("a", "cart-1", "ItemAdded");
    let p5 = put("a", "cart", "CartOpened");
    let p6 = put("b", "order-2", "ItemAdded");
    let read =
        |filter: LogFilter| global_positions(&block_on(store.read_log(0, &filter, 100)).unwrap());
    let types = |types: &[&str]| types.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(
        read(LogFilter {
            event_types: types(&["CartOpened"]),
            ..LogFilter::default()
        }),
        [p1, p3, p5]
    );
    let two = LogFilter {
        event_types: types(&["ItemAdded", "OrderPlaced"]),
        ..LogFilter::default()
    };
    assert_eq!(read(two), [p2, p4, p6]);
    let carts = LogFilter {
        category: Some("cart".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        read(carts),
        [p1, p3, p4, p5],
        "the category is the id up to the first '-', or all of it"
    );
    let in_b = LogFilter {
        partition: Some("b".into()),
        ..LogFilter::default()
    };
    assert_eq!(read(in_b), [p3, p6]);
    let combined = LogFilter {
        partition: Some("a".into()),
        category: Some("cart".into()),
        event_types: types(&["CartOpened", "ItemAdded"]),
        query: None,
    };
    assert_eq!(read(combined), [p1, p4, p5]);
    let after = LogFilter {
        event_types: types(&["CartOpened"]),
        ..LogFilter::default()
    };
    assert_eq!(
        global_positions(&block_on(store.read_log(p1, &after, 1)).unwrap()),
        [p3]
    );
    assert!(
        read(LogFilter {
            category: Some("nothing".into()),
            ..LogFilter::default()
        })
        .is_empty()
    );
}
}

both_backends! {
fn the_same_stream_id_in_two_partitions_is_two_streams(backend: Backend) {
    let store = TestStore::new(backend);
    let in_a =
        |expected| AppendRequest::new("cart-1", expected, vec![counted(1)]).in_partition("a");
    let in_b =
        |expected| AppendRequest::new("cart-1", expected, vec![counted(2)]).in_partition("b");
    block_on(store.append(in_a(ExpectedVersion::NoStream))).unwrap();
    block_on(store.append(in_a(ExpectedVersion::Exact(1)))).unwrap();
    let b = block_on(store.append(in_b(ExpectedVersion::NoStream)))
        .expect("the stream is new in partition b");
    assert_eq!(b.stream_version, 1);
    assert_eq!(
        block_on(store.stream_version("a", "cart-1")).unwrap(),
        Some(2)
    );
    assert_eq!(
        block_on(store.stream_version("b", "cart-1")).unwrap(),
        Some(1)
    );
    assert_eq!(
        block_on(store.stream_version("default", "cart-1")).unwrap(),
        None
    );
    let read_b = block_on(store.read_stream("b", "cart-1", 1, Direction::Forward, 10)).unwrap();
    assert_eq!(global_positions(&read_b), [3]);
    let log_a = block_on(store.read_log(
        0,
        &LogFilter {
            partition: Some("a".into()),
            ..LogFilter::default()
        },
        10,
    ))
    .unwrap();
    assert_eq!(global_positions(&log_a), [1, 2]);
    assert!(log_a.iter().all(|e| e.partition == "a"));
    assert_eq!(
        whole_log(&*store).len(),
        3,
        "a read of all partitions sees both"
    );
}
}

both_backends! {
fn reads_count_the_events_they_return(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "s-1", ExpectedVersion::NoStream, 5);
    assert_eq!(store.metrics().events_read, 0);
    block_on(store.read_stream("default", "s-1", 2, Direction::Forward, 10)).unwrap();
    assert_eq!(store.metrics().events_read, 4);
    block_on(store.read_log(0, &LogFilter::default(), 2)).unwrap();
    assert_eq!(store.metrics().events_read, 6);
    block_on(store.stream_version("default", "s-1")).unwrap();
    assert_eq!(
        store.metrics().events_read,
        6,
        "a version lookup reads no events"
    );
}
}
