//! Live notification: subscribers wake when the log grows, without polling.

use super::append;
use crate::support::wait::{PATIENCE, wait_until};
use crate::support::{TestStore, both_backends};
use refold::store::{EventStore, ExpectedVersion};
use std::sync::mpsc;
use std::time::Duration;

/// How long a subscriber may wait for a wake-up before the test fails.
const WAKE_TIMEOUT: Duration = Duration::from_secs(10);

both_backends! {
fn a_subscriber_is_woken_by_an_append_and_sees_the_new_head(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "s-1", ExpectedVersion::NoStream, 2);
    let mut heads = store.subscribe();
    assert_eq!(*heads.borrow_and_update(), 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio runtime");
    std::thread::scope(|s| {
        let (parked, is_parked) = mpsc::channel();
        let appender = {
            let store: &dyn EventStore = &*store;
            s.spawn(move || {
                // Append only once the subscriber waits: it must be woken, not find the
                // change already there.
                is_parked
                    .recv_timeout(WAKE_TIMEOUT)
                    .expect("the subscriber never waited for a change");
                append(store, "s-2", ExpectedVersion::NoStream, 3)
            })
        };
        runtime.block_on(async {
            let mut changed = std::pin::pin!(heads.changed());
            let mut parked = Some(parked);
            let woken = std::future::poll_fn(|cx| {
                let poll = changed.as_mut().poll(cx);
                if poll.is_pending()
                    && let Some(parked) = parked.take()
                {
                    parked
                        .send(())
                        .expect("the appender waits for the subscriber");
                }
                poll
            });
            tokio::time::timeout(WAKE_TIMEOUT, woken)
                .await
                .expect("the subscriber was not woken within the timeout")
                .expect("the store stopped publishing its head");
        });
        let outcome = appender.join().expect("the appender thread");
        assert_eq!(*heads.borrow_and_update(), outcome.last_position);
    });
    assert_eq!(store.head(), 5);
    assert!(!heads.has_changed().unwrap(), "one append, one new head");
}
}

both_backends! {
/// A commit by another process or node on the same data (SQLite: another connection
/// to the file; PostgreSQL: another store, told by `NOTIFY`) wakes a subscriber too,
/// and `read_head` sees it at once.
fn a_subscriber_is_woken_by_another_stores_commit(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "s-1", ExpectedVersion::NoStream, 1);
    let mut heads = store.subscribe();
    assert_eq!(*heads.borrow_and_update(), 1);
    let other = store.open_again();
    let outcome = append(&*other.events, "s-2", ExpectedVersion::NoStream, 2);
    assert_eq!(crate::support::block_on(store.read_head()).unwrap(), 3);
    crate::support::block_on(async {
        tokio::time::timeout(WAKE_TIMEOUT, heads.wait_for(|head| *head >= outcome.last_position))
            .await
            .expect("the subscriber was not woken by the other store's commit")
            .expect("the store stopped publishing its head");
    });
    assert_eq!(store.head(), 3);
}
}

// PostgreSQL-only: the notification connection is lost and comes back.

#[test]
fn a_notification_lost_with_its_connection_is_made_up_for_by_rereading_the_head() {
    let store = TestStore::new(crate::support::Backend::Postgres);
    append(&*store, "s-1", ExpectedVersion::NoStream, 1);
    let mut heads = store.subscribe();
    let listening = format!(
        "FROM pg_stat_activity WHERE application_name = 'refold-listen-{}'",
        store.postgres_schema()
    );
    wait_until(
        PATIENCE,
        "the store to listen for notifications",
        || store.integers(&format!("SELECT count(*) {listening}")),
        |count| count == &[1],
    );
    // End the store's listening connection (waiting until it is gone); the append after
    // it is notified to nobody.
    let ended = store.integers(&format!(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) {listening}) AS ended"
    ));
    assert_eq!(ended, [1], "the store listens on one connection");
    let other = store.open_again();
    let outcome = append(&*other.events, "s-2", ExpectedVersion::NoStream, 2);
    crate::support::block_on(async {
        tokio::time::timeout(
            WAKE_TIMEOUT,
            heads.wait_for(|head| *head >= outcome.last_position),
        )
        .await
        .expect("the reconnected listener did not read the head again")
        .expect("the store stopped publishing its head");
    });
    assert_eq!(store.head(), 3);
}
