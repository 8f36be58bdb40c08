//! Appends refused before anything is written: each names what was wrong.

use super::counted;
use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{AppendRequest, EventData, ExpectedVersion};

/// Assert that `request` is refused as invalid with a reason containing every one of
/// `words`, and that nothing was written.
fn assert_refused(store: &TestStore, request: AppendRequest, words: &[&str]) {
    let (partition, stream) = (request.partition.clone(), request.stream.clone());
    match block_on(store.append(request)) {
        Err(Error::InvalidAppend {
            stream: s, reason, ..
        }) => {
            assert_eq!(s, stream);
            for word in words {
                assert!(
                    reason.contains(word),
                    "the reason {reason:?} does not mention {word:?}"
                );
            }
        }
        other => panic!("expected an invalid append mentioning {words:?}, got {other:?}"),
    }
    assert_eq!(store.head(), 0, "nothing was written");
    assert_eq!(
        block_on(store.stream_version(&partition, &stream)).unwrap(),
        None
    );
    assert_eq!(
        store.metrics().commits,
        0,
        "the writer never saw the append"
    );
}

/// An append to `s-1` of `events`, the first of which is a valid one.
fn second_event_is(event: EventData) -> AppendRequest {
    AppendRequest::new("s-1", ExpectedVersion::Any, vec![counted(1), event])
}

both_backends! {
fn an_empty_batch_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    assert_refused(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, vec![]),
        &["no events"],
    );
}
}

both_backends! {
fn an_empty_event_type_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    let untyped = EventData::new("", "{}");
    assert_refused(
        &store,
        second_event_is(untyped),
        &["event 1", "empty event type"],
    );
}
}

both_backends! {
fn data_that_is_not_a_json_object_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    for data in [
        "[1, 2]",
        "42",
        "",
        "{\"open\": ",
        "{} {}",
        "{\"a\": 1} trailing",
    ] {
        let event = EventData::new("Counted", data);
        assert_refused(
            &store,
            second_event_is(event),
            &["event 1", "'Counted'", "data is not a JSON object"],
        );
    }
}
}

both_backends! {
fn metadata_that_is_not_a_json_object_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    for metadata in ["null", "\"text\"", "{\"unclosed\": true"] {
        let event = counted(2).with_metadata(metadata);
        assert_refused(
            &store,
            second_event_is(event),
            &["event 1", "metadata is not a JSON object"],
        );
    }
}
}

both_backends! {
fn an_event_over_the_size_limit_is_refused(backend: Backend) {
    let store = TestStore::with_max_event_size(backend, 100);
    // type (7) + data (8 + 83) + metadata "{}" (2) = 100 bytes: exactly the limit.
    let big = EventData::new("Counted", format!(r#"{{"p":"{}"}}"#, "x".repeat(83)));
    assert_eq!(
        big.event_type.len() + big.data.len() + big.metadata.len(),
        100
    );
    block_on(store.append(AppendRequest::new("s-ok", ExpectedVersion::Any, vec![big])))
        .expect("an event of exactly the limit is accepted");
    let head = store.head();
    let over = EventData::new("Counted", format!(r#"{{"p":"{}"}}"#, "x".repeat(84)));
    let request = second_event_is(over);
    match block_on(store.append(request)) {
        Err(Error::InvalidAppend { reason, .. }) => {
            assert!(
                reason.contains("event 1")
                    && reason.contains("101 bytes")
                    && reason.contains("100-byte limit"),
                "{reason}"
            );
        }
        other => panic!("expected an oversized event to be refused, got {other:?}"),
    }
    assert_eq!(store.head(), head);
    assert_eq!(
        block_on(store.stream_version("default", "s-1")).unwrap(),
        None
    );
}
}

both_backends! {
fn an_empty_stream_id_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    assert_refused(
        &store,
        AppendRequest::new("", ExpectedVersion::Any, vec![counted(1)]),
        &["stream id is empty"],
    );
}
}

both_backends! {
fn an_empty_partition_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    let request =
        AppendRequest::new("s-1", ExpectedVersion::Any, vec![counted(1)]).in_partition("");
    assert_refused(&store, request, &["partition is empty"]);
}
}

both_backends! {
fn an_id_given_twice_in_one_append_is_refused(backend: Backend) {
    let store = TestStore::new(backend);
    let event = counted(1);
    let twice = counted(2).with_id(event.id);
    let request = AppendRequest::new("s-1", ExpectedVersion::Any, vec![event, twice]);
    assert_refused(&store, request, &["event 1", "repeats the id"]);
}
}

both_backends! {
fn a_lone_surrogate_in_data_or_metadata_is_refused_naming_its_field(backend: Backend) {
    let store = TestStore::new(backend);
    for (event, field) in [
        (
            EventData::new("Counted", r#"{"n": 1, "text": "a\ud800b"}"#),
            "/events/1/data/text",
        ),
        (
            EventData::new("Counted", r#"{"items": [{"name": "\udc00"}]}"#),
            "/events/1/data/items/0/name",
        ),
        (
            counted(2).with_metadata(r#"{"by": "\ud83d"}"#),
            "/events/1/metadata/by",
        ),
    ] {
        let request = second_event_is(event);
        match block_on(store.append(request.clone())) {
            Err(Error::InvalidAppend {
                field: Some(refused),
                reason,
                ..
            }) => {
                assert_eq!(refused, field, "{reason}");
                assert!(reason.contains("surrogate"), "{reason}");
            }
            other => panic!("expected a refusal naming {field}, got {other:?}"),
        }
        assert_refused(&store, request, &["event 1", "not a JSON object"]);
    }
    // A pair of surrogates is one character, and goes through.
    let paired = EventData::new("Counted", r#"{"smile": "\ud83d\ude00"}"#);
    block_on(store.append(second_event_is(paired))).expect("a surrogate pair is text");
}
}

both_backends! {
fn stream_and_partition_names_are_printable_and_bounded(backend: Backend) {
    let store = TestStore::new(backend);
    let long = "s".repeat(refold::store::MAX_NAME_BYTES + 1);
    for (stream, words) in [
        ("a\0b", &["stream id", "U+0000", "byte 1"][..]),
        ("tab\there", &["stream id", "U+0009"]),
        (long.as_str(), &["stream id", "201 bytes", "200-byte limit"]),
    ] {
        assert_refused(
            &store,
            AppendRequest::new(stream, ExpectedVersion::Any, vec![counted(1)]),
            words,
        );
    }
    assert_refused(
        &store,
        AppendRequest::new("s-1", ExpectedVersion::Any, vec![counted(1)]).in_partition("p\u{7f}"),
        &["partition", "U+007F"],
    );
    let longest = "s".repeat(refold::store::MAX_NAME_BYTES);
    block_on(store.append(AppendRequest::new(
        longest,
        ExpectedVersion::Any,
        vec![counted(1)],
    )))
    .expect("a name of exactly the limit is taken");
}
}
