//! Live notification: subscribers wake when the log grows, without polling.

use super::append;
use crate::support::TempStore;
use refold::store::{EventStore, ExpectedVersion};
use std::time::Duration;

/// How long a subscriber may wait for a wake-up before the test fails.
const WAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn a_subscriber_is_woken_by_an_append_and_sees_the_new_head() {
    let store = TempStore::new();
    append(&*store, "s-1", ExpectedVersion::NoStream, 2);
    let mut heads = store.subscribe();
    assert_eq!(*heads.borrow_and_update(), 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio runtime");
    std::thread::scope(|s| {
        let appender = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            append(&*store, "s-2", ExpectedVersion::NoStream, 3)
        });
        runtime.block_on(async {
            tokio::time::timeout(WAKE_TIMEOUT, heads.changed())
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
