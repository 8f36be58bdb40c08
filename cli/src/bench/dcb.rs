//! DCB, a decision across streams: subscribe a student to a course on a store of
//! tagged events, the way a query decider does it.
//!
//! The store holds courses (`CourseDefined`, tagged `course:…`) and subscriptions
//! (`StudentSubscribed`, tagged with its course and its student): 100,000 events at
//! full size, made untimed. Each timed command subscribes a new student to a course:
//! read the events tagged with the course OR the student, fold them (the course's
//! capacity and subscribers, the student's courses), decide, and write the
//! subscription with both tags only if nothing matching was stored since the read.
//! Refold does it through the store's API (a query read, then an append under an
//! [`AppendCondition`] after the last position read); the raw-SQLite baseline does
//! the same read, decision and insert by hand inside one write transaction, which
//! needs no condition since nothing can commit in between: the floor under any
//! query-decider command. Metric: commands/s.

use super::{Metric, Recorder, Result, System, Work, baseline, check, per_second, timed};
use refold::store::sqlite::{SqliteStore, Synchronous};
use refold::store::{
    AppendCondition, AppendRequest, Appends, EventData, EventStore, ExpectedVersion, LogFilter,
    Query, QueryItem,
};
use std::path::Path;

/// The workload's name in reports.
const NAME: &str = "DCB";

/// Courses among the stored events: one `CourseDefined` each.
const COURSES: u64 = 1_000;

/// Students the stored subscriptions are spread over.
const STUDENTS: u64 = 40_000;

/// Seats of every course: more than it ever fills, so no command is rejected.
const CAPACITY: u64 = 100_000;

/// Courses a student may take.
const STUDENT_LIMIT: u64 = 5;

/// The tag of course `n`.
fn course(n: u64) -> String {
    format!("course:c{n}")
}

/// The tag of student `n`.
fn student(n: u64) -> String {
    format!("student:s{n}")
}

/// A subscription of student `s` to course `c`, with both tags.
fn subscription(c: u64, s: u64) -> EventData {
    EventData::new(
        "StudentSubscribed",
        format!(r#"{{"course":"{}","student":"{}"}}"#, course(c), student(s)),
    )
    .with_tags([course(c), student(s)])
}

/// How many courses a store of `events` events defines: [`COURSES`], fewer for a
/// small store.
fn courses(events: u64) -> u64 {
    COURSES.min(events / 10).max(1)
}

/// How many students the subscriptions of a store of `events` events are spread over.
fn students(events: u64) -> u64 {
    STUDENTS.min(events).max(1)
}

/// The stored events, each in its own stream: the courses, then subscriptions of
/// student `j mod students` to a course that varies with `j`, `events` in all.
fn stored_events(events: u64) -> Vec<AppendRequest> {
    let (courses, students) = (courses(events), students(events));
    (0..events)
        .map(|i| {
            let (stream, event) = if i < courses {
                let data = format!(r#"{{"course":"{}","capacity":{CAPACITY}}}"#, course(i));
                let event = EventData::new("CourseDefined", data).with_tags([course(i)]);
                (format!("course-{i}"), event)
            } else {
                let j = i - courses;
                let c = (j + j / students) % courses;
                (format!("subscription-{j}"), subscription(c, j % students))
            };
            AppendRequest::new(stream, ExpectedVersion::NoStream, vec![event])
        })
        .collect()
}

/// The command `k`: subscribe the new student `students + k` to course `k mod courses`.
fn command(k: u64, events: u64) -> (u64, u64) {
    (k % courses(events), students(events) + k)
}

/// The query of command (course `c`, student `s`): the events of either.
fn query(c: u64, s: u64) -> Query {
    Query::item(QueryItem::tags([course(c)])).or(QueryItem::tags([student(s)]))
}

/// What a subscription decides from the events of its course and its student (type
/// and data, in log order): the subscription, or why not.
fn decide<'a>(
    c: u64,
    s: u64,
    events: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::result::Result<EventData, String> {
    #[derive(serde::Deserialize)]
    struct Data<'a> {
        course: &'a str,
        student: Option<&'a str>,
        capacity: Option<u64>,
    }
    let (course_tag, student_tag) = (course(c), student(s));
    let (mut capacity, mut seats_taken, mut courses_taken) = (None, 0, 0);
    for (event_type, data) in events {
        let data: Data = serde_json::from_str(data).map_err(|e| e.to_string())?;
        match event_type {
            "CourseDefined" if data.course == course_tag => capacity = data.capacity,
            "StudentSubscribed" => {
                let (this_course, this_student) = (
                    data.course == course_tag,
                    data.student == Some(&student_tag),
                );
                if this_course && this_student {
                    return Err(format!(
                        "{student_tag} is subscribed to {course_tag} already"
                    ));
                }
                seats_taken += u64::from(this_course);
                courses_taken += u64::from(this_student);
            }
            _ => {}
        }
    }
    let capacity = capacity.ok_or_else(|| format!("{course_tag} is not defined"))?;
    if seats_taken >= capacity {
        return Err(format!("{course_tag} is full"));
    }
    if courses_taken >= STUDENT_LIMIT {
        return Err(format!(
            "{student_tag} takes {STUDENT_LIMIT} courses already"
        ));
    }
    Ok(subscription(c, s))
}

/// DCB through Refold's store and raw; commands per second each.
pub(super) fn dcb(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let sizes = work.setup.sizes();
    let (events, commands) = (sizes.dcb_events, sizes.dcb_commands);
    let template = work.dir.join("dcb-template.db");
    fill(work, &template, events)?;
    let copy = |name: &str| -> Result<std::path::PathBuf> {
        let path = work.dir.join(name);
        std::fs::copy(&template, &path).map_err(|source| super::BenchError::Io {
            path: template.clone(),
            source,
        })?;
        Ok(path)
    };

    let store = work.setup.open_store(&copy("dcb-refold.db")?)?;
    recorder.observe(&store);
    let ((), elapsed) = timed(|| {
        for k in 0..commands {
            let (c, s) = command(k, events);
            let query = query(c, s);
            let read =
                crate::block_on(store.read_log(0, &LogFilter::query(query.clone()), usize::MAX))?;
            let event = decide(c, s, read.iter().map(|e| (&*e.event_type, &*e.data)))
                .map_err(|why| super::verify_error(NAME, why))?;
            let mut condition = AppendCondition::fail_if_events_match(query);
            if let Some(last) = read.last() {
                condition = condition.after(last.global_position);
            }
            let append = AppendRequest::new(
                format!("enrolment-{k}"),
                ExpectedVersion::NoStream,
                vec![event],
            );
            crate::block_on(store.append_all(Appends::from(append).with_condition(condition)))?;
        }
        Ok(())
    })?;
    verify(&store, events, commands)?;
    recorder.figure(
        System::Refold,
        NAME,
        Metric::CommandsPerS,
        per_second(commands, elapsed),
    );
    drop(store);

    let mut conn = baseline::connect(&copy("dcb-raw.db")?, work.setup.synchronous)?;
    let ((), elapsed) = timed(|| {
        for k in 0..commands {
            let (c, s) = command(k, events);
            baseline::conditional_insert(
                &mut conn,
                &format!("enrolment-{k}"),
                [&course(c), &student(s)],
                |read| {
                    decide(c, s, read.iter().map(|(t, d)| (t.as_str(), d.as_str())))
                        .map_err(|why| super::verify_error(NAME, why))
                },
            )?;
        }
        Ok(())
    })?;
    let subscriptions: u64 = conn.query_row(
        "SELECT COUNT(*) FROM events WHERE event_type = 'StudentSubscribed'",
        [],
        |row| row.get(0),
    )?;
    let expected = events - courses(events) + commands;
    check(subscriptions == expected, NAME, || {
        format!("raw: {subscriptions} subscriptions stored, expected {expected}")
    })?;
    recorder.figure(
        System::RawSqlite,
        NAME,
        Metric::CommandsPerS,
        per_second(commands, elapsed),
    );
    Ok(())
}

/// Make the store of `events` tagged events at `path`, untimed (at NORMAL: the file is
/// the same, only faster to make).
fn fill(work: &Work<'_>, path: &Path, events: u64) -> Result<()> {
    let fast = super::Setup {
        synchronous: Synchronous::Normal,
        ..work.setup.clone()
    };
    let store: SqliteStore = fast.open_store(path)?;
    let mut requests = stored_events(events).into_iter().peekable();
    while requests.peek().is_some() {
        let call: Vec<AppendRequest> = requests.by_ref().take(1000).collect();
        crate::block_on(store.append_all(call.into()))?;
    }
    check(store.head() == events, NAME, || {
        format!("{} events stored, expected {events}", store.head())
    })
}

/// Check the store holds the stored events and one subscription per command, each
/// found by its student's tag.
fn verify(store: &SqliteStore, events: u64, commands: u64) -> Result<()> {
    check(store.head() == events + commands, NAME, || {
        format!(
            "{} events stored, expected {}",
            store.head(),
            events + commands
        )
    })?;
    for k in [0, commands / 2, commands - 1] {
        let (c, s) = command(k, events);
        let filter = LogFilter::query(Query::item(QueryItem::tags([student(s)])));
        let found = crate::block_on(store.read_log(0, &filter, 10))?;
        check(
            found.len() == 1 && found[0].tags == [course(c), student(s)],
            NAME,
            || format!("command {k} left {found:?}"),
        )?;
    }
    Ok(())
}
