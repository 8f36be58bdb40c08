//! Tags, queries and conditional appends (the Dynamic Consistency Boundary): tags kept
//! as appended, query reads (items OR'ed, an item's tags AND'ed), an append refused at
//! the first event matching its condition, and racing claims of which one wins.

use super::whole_log;
use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::store::{
    AppendCondition, AppendRequest, Appends, EventData, EventStore, ExpectedVersion, LogFilter,
    Query, QueryItem, RecordedEvent,
};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An event of `event_type` carrying `tags`.
fn tagged(event_type: &str, tags: &[&str]) -> EventData {
    EventData::new(event_type, "{}").with_tags(tags.iter().copied())
}

/// Append `event` alone to `stream` of `partition`; its global position.
fn put(store: &dyn EventStore, partition: &str, stream: &str, event: EventData) -> u64 {
    let request =
        AppendRequest::new(stream, ExpectedVersion::Any, vec![event]).in_partition(partition);
    block_on(store.append(request))
        .unwrap_or_else(|e| panic!("append to '{stream}': {e}"))
        .last_position
}

/// The global positions of the events `filter` passes after `after`, at most `limit`.
fn positions(store: &dyn EventStore, after: u64, filter: &LogFilter, limit: usize) -> Vec<u64> {
    block_on(store.read_log(after, filter, limit))
        .unwrap_or_else(|e| panic!("read {filter:?}: {e}"))
        .iter()
        .map(|e| e.global_position)
        .collect()
}

both_backends! {
fn tags_come_back_as_appended_from_every_read(backend: Backend) {
    let store = TestStore::new(backend);
    let outcome = block_on(store.append(AppendRequest::new(
        "course-c1",
        ExpectedVersion::NoStream,
        vec![
            tagged("CourseDefined", &["course:c1", "term:2024 spring", "a"]),
            EventData::new("Noted", "{}"),
        ],
    )))
    .unwrap();
    let tags = |events: &[RecordedEvent]| -> Vec<Vec<String>> {
        events.iter().map(|e| e.tags.clone()).collect()
    };
    let expected = vec![
        vec!["course:c1".to_owned(), "term:2024 spring".to_owned(), "a".to_owned()],
        Vec::new(),
    ];
    assert_eq!(tags(&outcome.events), expected, "the outcome");
    assert_eq!(tags(&whole_log(&*store)), expected, "the log");
    let stream = block_on(store.read_stream(
        "default",
        "course-c1",
        1,
        refold::store::Direction::Forward,
        10,
    ))
    .unwrap();
    assert_eq!(tags(&stream), expected, "the stream");
    let store = store.reopen();
    assert_eq!(tags(&whole_log(&*store)), expected, "after reopening");
}
}

both_backends! {
fn a_query_read_ors_its_items_and_ands_the_tags_of_each(backend: Backend) {
    let store = TestStore::new(backend);
    let p1 = put(&*store, "default", "course-c1", tagged("CourseDefined", &["course:c1"]));
    let p2 = put(&*store, "default", "student-s1", tagged("StudentRegistered", &["student:s1"]));
    let p3 = put(&*store, "default", "sub-1", tagged("Subscribed", &["course:c1", "student:s1"]));
    let p4 = put(&*store, "default", "sub-2", tagged("Subscribed", &["student:s1", "course:c2"]));
    let p5 = put(&*store, "default", "course-c1", tagged("CourseRenamed", &["course:c1"]));
    let p6 = put(&*store, "default", "sub-3", EventData::new("Subscribed", "{}"));
    let p7 = put(&*store, "other", "sub-4", tagged("Subscribed", &["course:c1", "student:s2"]));
    let read = |filter: &LogFilter| positions(&*store, 0, filter, 100);
    let by = |query: Query| LogFilter::query(query);

    let course = Query::item(QueryItem::tags(["course:c1"]));
    assert_eq!(read(&by(course.clone())), [p1, p3, p5, p7]);
    let both = Query::item(QueryItem::tags(["course:c1", "student:s1"]));
    assert_eq!(read(&by(both)), [p3], "an item's tags are all needed");
    let typed = Query::item(QueryItem::types(["Subscribed"]).with_tags(["student:s1"]));
    assert_eq!(read(&by(typed)), [p3, p4], "and so is one of its types");
    let either = Query::item(QueryItem::tags(["course:c2"])).or(QueryItem::types(["CourseRenamed"]));
    assert_eq!(read(&by(either)), [p4, p5], "items are OR'ed");
    let overlapping =
        Query::item(QueryItem::tags(["course:c1"])).or(QueryItem::tags(["student:s1"]));
    assert_eq!(
        read(&by(overlapping.clone())),
        [p1, p2, p3, p4, p5, p7],
        "an event matching two items comes once"
    );
    let types_only = Query::item(QueryItem::types(["Subscribed", "StudentRegistered"]));
    assert_eq!(read(&by(types_only)), [p2, p3, p4, p6, p7]);
    assert_eq!(read(&by(Query::all())), [p1, p2, p3, p4, p5, p6, p7]);
    let nothing = Query::item(QueryItem::tags(["course:c9"]));
    assert!(read(&by(nothing)).is_empty());

    // After a position, with a limit, in a partition, in a category.
    assert_eq!(positions(&*store, p1, &by(course.clone()), 2), [p3, p5]);
    assert_eq!(positions(&*store, 0, &by(overlapping.clone()), 3), [p1, p2, p3]);
    assert_eq!(positions(&*store, p4, &by(overlapping), 10), [p5, p7]);
    assert_eq!(read(&by(course.clone()).in_partition("other")), [p7]);
    assert_eq!(read(&by(course.clone()).in_partition("default")), [p1, p3, p5]);
    let in_category = LogFilter {
        category: Some("course".to_owned()),
        ..by(course.clone())
    };
    assert_eq!(read(&in_category), [p1, p5]);

    // The store agrees with the query's own definition of a match.
    let log = whole_log(&*store);
    let queries = [
        course,
        Query::item(QueryItem::types(["Subscribed"])).or(QueryItem::tags(["course:c2", "student:s1"])),
        Query::item(QueryItem::types(["CourseDefined", "CourseRenamed"]).with_tags(["course:c1"])),
    ];
    for query in queries {
        let matching: Vec<u64> = log
            .iter()
            .filter(|e| query.matches(&e.event_type, &e.tags))
            .map(|e| e.global_position)
            .collect();
        assert_eq!(read(&by(query.clone())), matching, "{query:?}");
    }
}
}

both_backends! {
fn a_conditional_append_is_refused_at_the_first_matching_event_and_accepted_after_it(backend: Backend) {
    let store = TestStore::new(backend);
    let claimed = |user: &str| tagged("UsernameClaimed", &[&format!("username:{user}")]);
    let p1 = put(&*store, "default", "account-a", claimed("u1"));
    put(&*store, "default", "account-b", claimed("u2"));
    put(&*store, "default", "account-a", tagged("UsernameReleased", &["username:u1"]));
    let p4 = put(&*store, "default", "account-c", claimed("u1"));
    let query = Query::item(QueryItem::types(["UsernameClaimed"]).with_tags(["username:u1"]));
    let claim = |stream: &str, condition: AppendCondition| {
        let appends = Appends::from(vec![
            AppendRequest::new(stream, ExpectedVersion::NoStream, vec![claimed("u1")]),
            AppendRequest::new("audit-1", ExpectedVersion::Any, vec![EventData::new("Audited", "{}")]),
        ]);
        block_on(store.append_all(appends.with_condition(condition)))
    };
    let condition = AppendCondition::fail_if_events_match(query.clone());

    match claim("account-d", condition.clone()) {
        Err(Error::AppendConditionFailed { position, after, head }) => {
            assert_eq!((position, after, head), (p1, None, 4));
        }
        other => panic!("expected the condition to fail, got {other:?}"),
    }
    match claim("account-d", condition.clone().after(p1)) {
        Err(Error::AppendConditionFailed { position, after, head }) => {
            assert_eq!((position, after, head), (p4, Some(p1), 4));
        }
        other => panic!("expected the condition to fail, got {other:?}"),
    }
    assert_eq!(store.head(), 4, "nothing of a refused append is written");
    assert_eq!(block_on(store.stream_version("default", "audit-1")).unwrap(), None);
    assert_eq!(store.metrics().conflicts, 2);

    // After the last match, the append goes through, its own events matching or not.
    let accepted = claim("account-d", condition.clone().after(p4)).unwrap();
    assert_eq!(accepted[0].first_position, 5);
    assert_eq!(accepted[1].first_position, 6);
    // In a partition without claims it goes through too.
    let elsewhere = condition.clone().in_partition("tenant-2");
    let appends = Appends::from(AppendRequest::new(
        "account-e",
        ExpectedVersion::NoStream,
        vec![claimed("u1")],
    )
    .in_partition("tenant-2"))
    .with_condition(elsewhere.clone());
    let first = block_on(store.append_all(appends.clone())).unwrap();
    // A resend of it is the original append, though its own event now matches.
    assert_eq!(block_on(store.append_all(appends)).unwrap(), first);
    assert_eq!(store.head(), 7);
    // The condition counts the events of appends before it in the same partition.
    let again = Appends::from(AppendRequest::new(
        "account-f",
        ExpectedVersion::NoStream,
        vec![claimed("u1")],
    )
    .in_partition("tenant-2"))
    .with_condition(elsewhere);
    match block_on(store.append_all(again)) {
        Err(Error::AppendConditionFailed { position, .. }) => assert_eq!(position, 7),
        other => panic!("expected the condition to fail, got {other:?}"),
    }
}
}

both_backends! {
fn of_sixteen_racing_claims_of_one_username_exactly_one_wins(backend: Backend) {
    const CLAIMS: usize = 16;
    let store = TestStore::new(backend);
    // Half the claimants go through a second store on the same data, as another
    // process or node would.
    let other = store.open_again().events;
    let query = Query::item(QueryItem::types(["UsernameClaimed"]).with_tags(["username:u1"]));
    let filter = LogFilter::query(query.clone());
    let start = Barrier::new(CLAIMS);
    let (won, refused, saw_taken) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for claimant in 0..CLAIMS {
            let store: &dyn EventStore = if claimant % 2 == 0 { &*store } else { &*other };
            let (query, filter, start) = (&query, &filter, &start);
            let (won, refused, saw_taken) = (&won, &refused, &saw_taken);
            s.spawn(move || {
                start.wait();
                // Read what the decision depends on, then append under the condition
                // that nothing new matches: the position read is the head before it.
                let read_at = block_on(store.read_head()).unwrap();
                let taken = block_on(store.read_log(0, filter, 1)).unwrap();
                if !taken.is_empty() {
                    saw_taken.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let claim = AppendRequest::new(
                    format!("account-{claimant}"),
                    ExpectedVersion::NoStream,
                    vec![tagged("UsernameClaimed", &["username:u1"])],
                );
                let condition = AppendCondition::fail_if_events_match(query.clone()).after(read_at);
                match block_on(store.append_all(Appends::from(claim).with_condition(condition))) {
                    Ok(_) => won.fetch_add(1, Ordering::Relaxed),
                    Err(Error::AppendConditionFailed { .. }) => refused.fetch_add(1, Ordering::Relaxed),
                    Err(e) => panic!("claim {claimant} failed: {e}"),
                };
            });
        }
    });
    let (won, refused, saw_taken) = (won.into_inner(), refused.into_inner(), saw_taken.into_inner());
    assert_eq!(won, 1, "exactly one claim wins ({refused} refused, {saw_taken} saw it taken)");
    assert_eq!(refused + saw_taken, CLAIMS - 1);
    let claims = block_on(store.read_log(0, &filter, 100)).unwrap();
    assert_eq!(claims.len(), 1, "one claim is stored: {claims:?}");
    assert_eq!(whole_log(&*store).len(), 1);
}
}
