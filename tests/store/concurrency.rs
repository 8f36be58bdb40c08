//! Concurrent appenders: exact versions under contention, group commit, and a failing
//! append inside a group failing alone.

use super::{counted, whole_log};
use crate::support::wait::{PATIENCE, wait_until};
use crate::support::{TempStore, TestStore, block_on, both_backends};
use refold::Error;
use refold::store::sqlite::StoreConfig;
use refold::store::{AppendOutcome, AppendRequest, Direction, EventStore, ExpectedVersion};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};

both_backends! {
fn eight_threads_append_to_one_stream_without_gaps_or_duplicates(backend: Backend) {
    const APPENDS: u64 = 1_000;
    let store = TestStore::new(backend);
    let tickets = AtomicU64::new(0);
    let acknowledged = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                while tickets.fetch_add(1, Ordering::Relaxed) < APPENDS {
                    // Each ticket is one append that must succeed: retry it on conflict.
                    loop {
                        let version = block_on(store.stream_version("default", "shared"))
                            .unwrap()
                            .unwrap_or(0);
                        let event = counted(version + 1);
                        let id = event.id;
                        let request = AppendRequest::new(
                            "shared",
                            ExpectedVersion::Exact(version),
                            vec![event],
                        );
                        match block_on(store.append(request)) {
                            Ok(outcome) => {
                                assert_eq!(outcome.stream_version, version + 1);
                                acknowledged.lock().unwrap().push((outcome, id));
                                break;
                            }
                            Err(Error::Conflict { actual, .. }) => assert!(actual > version),
                            Err(e) => panic!("append failed: {e}"),
                        }
                    }
                }
            });
        }
    });
    let events =
        block_on(store.read_stream("default", "shared", 1, Direction::Forward, usize::MAX))
            .unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.stream_position).collect();
    assert_eq!(versions, (1..=APPENDS).collect::<Vec<_>>());
    let acknowledged = acknowledged.into_inner().unwrap();
    assert_eq!(acknowledged.len() as u64, APPENDS);
    for (outcome, id) in acknowledged {
        let event = &events[(outcome.stream_version - 1) as usize];
        assert_eq!(
            (event.id, event.global_position),
            (id, outcome.first_position)
        );
    }
    assert_eq!(
        block_on(store.stream_version("default", "shared")).unwrap(),
        Some(APPENDS)
    );
    assert_eq!(store.metrics().appends, APPENDS);
}
}

both_backends! {
/// Writers on two stores over the same data (two nodes) and a reader tailing the log on
/// a third: the reader sees every acknowledged event exactly once, in position order,
/// and never a position after a gap (on PostgreSQL, a later position committed before
/// an earlier one would be skipped by a reader that moved past it).
fn a_tailing_reader_sees_every_event_of_concurrent_nodes_once_in_order(backend: Backend) {
    const WRITERS: u64 = 8;
    const EACH: u64 = 150;
    let store = TestStore::new(backend);
    let (second, reader) = (store.open_again(), store.open_again());
    let done = AtomicU64::new(0);
    let acknowledged = Mutex::new(Vec::new());
    let seen = std::thread::scope(|s| {
        for w in 0..WRITERS {
            let node: &dyn EventStore = if w % 2 == 0 { &*store } else { &*second.events };
            let (done, acknowledged) = (&done, &acknowledged);
            s.spawn(move || {
                for n in 0..EACH {
                    let request =
                        AppendRequest::new(format!("w-{w}"), ExpectedVersion::Any, vec![counted(n)]);
                    let outcome = block_on(node.append(request)).unwrap();
                    acknowledged
                        .lock()
                        .unwrap()
                        .push((outcome.first_position, outcome.events[0].id));
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let tail = s.spawn(|| {
            let mut seen = Vec::new();
            let mut last = 0;
            loop {
                let finished = done.load(Ordering::SeqCst) == WRITERS;
                let batch =
                    block_on(reader.events.read_log(last, &Default::default(), 64)).unwrap();
                for event in &batch {
                    assert_eq!(
                        event.global_position,
                        last + 1,
                        "the reader at {last} was shown {} first: a gap",
                        event.global_position
                    );
                    last = event.global_position;
                    seen.push((event.global_position, event.id));
                }
                if batch.is_empty() {
                    if finished {
                        return seen;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        });
        tail.join().unwrap()
    });
    let mut acknowledged = acknowledged.into_inner().unwrap();
    acknowledged.sort();
    assert_eq!(seen.len() as u64, WRITERS * EACH);
    assert_eq!(seen, acknowledged, "every acknowledged event, once, at its position");
    assert_eq!(block_on(reader.events.read_head()).unwrap(), WRITERS * EACH);
}
}

both_backends! {
/// Appends waiting at the same moment share a commit (SQLite: the writer thread;
/// PostgreSQL: the store's committer).
fn concurrent_appends_are_committed_in_groups(backend: Backend) {
    const THREADS: u64 = 32;
    const EACH: u64 = 40;
    let store = TestStore::new(backend);
    let start = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (store, start) = (&store, &start);
            s.spawn(move || {
                start.wait();
                for n in 0..EACH {
                    let request = AppendRequest::new(
                        format!("s-{t}"),
                        ExpectedVersion::Exact(n),
                        vec![counted(n)],
                    );
                    block_on(store.append(request)).unwrap();
                }
            });
        }
    });
    let m = store.metrics();
    assert_eq!(
        (m.appends, m.events_appended),
        (THREADS * EACH, THREADS * EACH)
    );
    assert!(
        m.commits < m.appends,
        "{} commits for {} appends: nothing was grouped",
        m.commits,
        m.appends
    );
    assert_eq!(whole_log(&*store).len() as u64, THREADS * EACH);
}
}

// The tests below are SQLite-only: they hold the SQLite file's write lock from another
// connection.

/// The store's write counters: (handed to the writer, taken by it into a group).
fn writes(store: &TempStore) -> (u64, u64) {
    let m = store.metrics();
    (m.writes_submitted, m.writes_grouped)
}

#[test]
fn a_failing_append_fails_alone_and_the_rest_of_its_group_commits() {
    const THREADS: u64 = 12;
    // The writer waits for the lock held below for as long as the test may wait.
    let store = TempStore::with(|path| {
        let mut config = StoreConfig::new(path);
        config.busy_timeout = 2 * PATIENCE;
        config
    });
    let prepared = block_on(store.append(AppendRequest::new(
        "contested",
        ExpectedVersion::NoStream,
        vec![counted(0)],
    )))
    .unwrap();
    let commits_before = store.metrics().commits;
    let (submitted, grouped) = writes(&store);
    let since = || {
        let (s, g) = writes(&store);
        (s - submitted, g - grouped)
    };
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        // Hold SQLite's write lock from another connection so that the appends below
        // queue up behind the writer and are all committed by one transaction once it
        // is released. (Dropped first if the test fails, so the writer is let go.)
        let blocker = rusqlite::Connection::open(store.path()).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        // The writer takes this one alone and waits for the lock with it.
        let first = s.spawn(|| {
            block_on(store.append(AppendRequest::new(
                "first",
                ExpectedVersion::NoStream,
                vec![counted(0)],
            )))
        });
        wait_until(
            PATIENCE,
            "the writer to take the first append alone: (submitted, grouped) = (1, 1)",
            since,
            |&seen| seen == (1, 1),
        );
        for t in 0..THREADS {
            let (store, results) = (&store, &results);
            s.spawn(move || {
                // Even threads create their own stream; odd ones try to create
                // `contested`, which exists already.
                let stream = if t % 2 == 0 {
                    format!("own-{t}")
                } else {
                    "contested".to_owned()
                };
                let request =
                    AppendRequest::new(stream.clone(), ExpectedVersion::NoStream, vec![counted(t)]);
                let result = block_on(store.append(request));
                results.lock().unwrap().push((t, stream, result));
            });
        }
        // The writer is held in the first group, so all the others wait in its inbox.
        wait_until(
            PATIENCE,
            &format!(
                "every other append to be in the writer's inbox: (submitted, grouped) = ({}, 1)",
                1 + THREADS
            ),
            since,
            |&(submitted, _)| submitted == 1 + THREADS,
        );
        blocker.execute_batch("COMMIT").unwrap();
        first
            .join()
            .unwrap()
            .expect("the first append commits once the lock is free");
    });
    let results = results.into_inner().unwrap();
    let mut committed: Vec<AppendOutcome> = Vec::new();
    for (t, stream, result) in results {
        match (t % 2, result) {
            (0, Ok(outcome)) => {
                assert_eq!(outcome.stream_version, 1);
                assert_eq!(
                    block_on(store.stream_version("default", &stream)).unwrap(),
                    Some(1)
                );
                committed.push(outcome);
            }
            (1, Err(Error::Conflict { actual, .. })) => assert_eq!(actual, prepared.stream_version),
            (_, other) => panic!("thread {t} on '{stream}': unexpected {other:?}"),
        }
    }
    assert_eq!(committed.len() as u64, THREADS / 2);
    assert_eq!(
        store.metrics().commits - commits_before,
        2,
        "the first append, then one group holding all the others"
    );
    assert_eq!(
        block_on(store.stream_version("default", "contested")).unwrap(),
        Some(1)
    );
    assert_eq!(store.head(), 2 + THREADS / 2);
    let mut positions: Vec<u64> = committed.iter().map(|o| o.first_position).collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (3..=2 + THREADS / 2).collect::<Vec<_>>(),
        "no gap where the conflicts were"
    );
}

#[test]
fn a_write_lock_held_by_another_process_past_the_timeout_is_a_clear_error() {
    const WAIT: std::time::Duration = std::time::Duration::from_millis(200);
    let store = TempStore::with(|path| {
        let mut config = StoreConfig::new(path);
        config.busy_timeout = WAIT;
        config
    });
    // Another process's connection holds the file's write lock.
    let other = rusqlite::Connection::open(store.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let refused = block_on(store.append(AppendRequest::new(
        "s-1",
        ExpectedVersion::NoStream,
        vec![counted(1)],
    )));
    match &refused {
        Err(error @ Error::Locked { waited }) => {
            assert_eq!(*waited, WAIT);
            let message = error.to_string();
            assert!(message.contains("locked by another process"), "{message}");
        }
        other => panic!("expected the lock to be named, got {other:?}"),
    }
    other.execute_batch("COMMIT").unwrap();
    let appended = block_on(store.append(AppendRequest::new(
        "s-1",
        ExpectedVersion::NoStream,
        vec![counted(1)],
    )))
    .expect("the lock is free again");
    assert_eq!(
        appended.last_position, 1,
        "nothing of the refused append was stored"
    );
}
