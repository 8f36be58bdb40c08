//! Query deciders: commands whose consistency boundary is a query over tagged events
//! (the course-subscription and unique-username examples), raced across threads on
//! both backends.

use crate::support::guests::{self, COURSES, USERNAMES};
use crate::support::{Backend, TestStore, block_on, both_backends};
use refold::Error;
use refold::commands::{CommandConfig, CommandHandler};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{DEFAULT_PARTITION, LogFilter, Query, QueryItem};
use std::sync::{Arc, Barrier};

/// A store of `backend` and a handler with the course decider deployed as `courses`,
/// deciding each command up to `attempts` times.
pub(super) fn courses(backend: Backend, attempts: u32) -> (TestStore, Arc<CommandHandler>) {
    deployed(COURSES, backend, attempts)
}

/// A store of `backend` and a handler with the example `package` deployed under its
/// name, deciding each command up to `attempts` times.
fn deployed(package: &str, backend: Backend, attempts: u32) -> (TestStore, Arc<CommandHandler>) {
    let store = TestStore::new(backend);
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    runtime.deploy(runtime.load(package, &guests::wasm(package)).unwrap());
    let config = CommandConfig {
        max_attempts: attempts,
        ..CommandConfig::default()
    };
    let handler = Arc::new(CommandHandler::new(store.shared(), runtime, config));
    (store, handler)
}

fn send(
    handler: &CommandHandler,
    command: &str,
) -> refold::Result<refold::commands::CommandOutcome> {
    block_on(handler.handle_query(COURSES, DEFAULT_PARTITION, command))
}

pub(super) fn define(course: &str, capacity: usize) -> String {
    format!(
        r#"{{"type":"DefineCourse","data":{{"courseId":"{course}","name":"Course {course}","capacity":{capacity}}}}}"#
    )
}

pub(super) fn subscribe(course: &str, student: &str) -> String {
    format!(r#"{{"type":"Subscribe","data":{{"courseId":"{course}","studentId":"{student}"}}}}"#)
}

/// Subscribers of `course`, from the log: subscriptions minus unsubscriptions.
pub(super) fn subscribers(store: &TestStore, course: &str) -> usize {
    let query = Query::item(
        QueryItem::types(["StudentSubscribed", "StudentUnsubscribed"])
            .with_tags([format!("course:{course}")]),
    );
    let events = block_on(store.read_log(0, &LogFilter::query(query), 10_000)).unwrap();
    events
        .iter()
        .map(|e| {
            if e.event_type == "StudentSubscribed" {
                1
            } else {
                -1
            }
        })
        .sum::<i64>() as usize
}

both_backends! {
fn sixteen_students_racing_for_ten_places_give_ten_subscriptions(backend: Backend) {
    // Every racer may lose the race to each of the others once.
    let (store, handler) = courses(backend, 32);
    send(&handler, &define("c1", 30)).unwrap();
    for student in 0..20 {
        send(&handler, &subscribe("c1", &format!("early-{student}"))).unwrap();
    }
    let start = Arc::new(Barrier::new(16));
    let racers: Vec<_> = (0..16)
        .map(|racer| {
            let (handler, start) = (handler.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                send(&handler, &subscribe("c1", &format!("racer-{racer}")))
            })
        })
        .collect();
    let outcomes: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let full = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::Rejected { message, .. }) if message == "course c1 is full (30 students)"))
        .count();
    assert_eq!(
        (won, full),
        (10, 6),
        "every racer either got a place or was told the course is full: {outcomes:#?}"
    );
    assert_eq!(subscribers(&store, "c1"), 30, "the log holds exactly 30 subscribers");
    let conflicts = handler.metrics().conflicts;
    assert!(conflicts > 0, "the racers conflicted and decided again ({conflicts} conflicts)");
}
}

both_backends! {
fn a_student_takes_five_courses_at_most_and_events_carry_both_tags(backend: Backend) {
    let (store, handler) = courses(backend, 10);
    for course in 0..6 {
        send(&handler, &define(&format!("k{course}"), 10)).unwrap();
    }
    for course in 0..5 {
        let outcome = send(&handler, &subscribe(&format!("k{course}"), "s1")).unwrap();
        assert_eq!(outcome.events.len(), 1);
        let event = &outcome.events[0];
        assert_eq!(event.stream, format!("course-k{course}"));
        assert_eq!(event.tags, [format!("course:k{course}"), "student:s1".to_owned()]);
    }
    let sixth = send(&handler, &subscribe("k5", "s1")).unwrap_err();
    assert!(
        matches!(&sixth, Error::Rejected { message, .. } if message == "student s1 takes 5 courses already"),
        "{sixth}"
    );
    let unknown = send(&handler, &subscribe("nowhere", "s2")).unwrap_err();
    assert!(matches!(&unknown, Error::Rejected { .. }), "{unknown}");
    let invalid = send(&handler, &define("k9", 0)).unwrap_err();
    assert!(matches!(&invalid, Error::InvalidCommand { .. }), "{invalid}");
    assert_eq!(subscribers(&store, "k5"), 0);
}
}

both_backends! {
fn eight_accounts_claiming_one_username_at_once_give_it_to_exactly_one(backend: Backend) {
    // Every claimant may lose the race to each of the others once.
    let (store, handler) = deployed(USERNAMES, backend, 16);
    let claim = |account: usize| {
        format!(r#"{{"type":"ClaimUsername","data":{{"accountId":"a{account}","username":"ada"}}}}"#)
    };
    let start = Arc::new(Barrier::new(8));
    let claimants: Vec<_> = (0..8)
        .map(|account| {
            let (handler, start, claim) = (handler.clone(), start.clone(), claim(account));
            std::thread::spawn(move || {
                start.wait();
                block_on(handler.handle_query(USERNAMES, DEFAULT_PARTITION, &claim))
            })
        })
        .collect();
    let outcomes: Vec<_> = claimants.into_iter().map(|c| c.join().unwrap()).collect();
    let winners: Vec<usize> = (0..8).filter(|&a| outcomes[a].is_ok()).collect();
    let taken = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::Rejected { message, .. }) if message == "username ada is taken"))
        .count();
    assert_eq!(
        (winners.len(), taken),
        (1, 7),
        "one claimant got the name, every other was told it is taken: {outcomes:#?}"
    );
    let query = Query::item(QueryItem::tags(["username:ada"]));
    let claims = block_on(store.read_log(0, &LogFilter::query(query), 100)).unwrap();
    assert_eq!(claims.len(), 1, "the log holds one claim of the name: {claims:#?}");
    assert_eq!(claims[0].stream, format!("account-a{}", winners[0]));
    assert_eq!(claims[0].tags, ["username:ada".to_owned(), format!("account:a{}", winners[0])]);
    let released = format!(r#"{{"type":"ReleaseUsername","data":{{"accountId":"a{}"}}}}"#, winners[0]);
    block_on(handler.handle_query(USERNAMES, DEFAULT_PARTITION, &released)).unwrap();
    let loser = (winners[0] + 1) % 8;
    block_on(handler.handle_query(USERNAMES, DEFAULT_PARTITION, &claim(loser)))
        .expect("a released name can be claimed again");
}
}

#[test]
fn a_query_decider_takes_no_stream_and_a_stream_decider_no_query() {
    let (_store, handler) = courses(Backend::Sqlite, 10);
    let error =
        block_on(handler.handle("courses", DEFAULT_PARTITION, "course-c1", &define("c1", 3)))
            .unwrap_err();
    assert!(matches!(error, Error::NotAStreamDecider { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "module 'courses' is a query decider: its commands name no stream (POST /commands/courses); the streams of its events are its own choice"
    );
}
