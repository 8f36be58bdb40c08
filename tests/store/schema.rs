//! The file: what reopening keeps, which settings it runs with, and refusing a file
//! from a newer Refold.

use super::{append, whole_log};
use crate::support::{TempStore, block_on};
use refold::Error;
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold::store::{EventStore, ExpectedVersion};

#[test]
fn reopening_keeps_the_events_and_continues_the_log() {
    let store = TempStore::new();
    append(&*store, "s-1", ExpectedVersion::NoStream, 3);
    append(&*store, "s-2", ExpectedVersion::NoStream, 1);
    let before = whole_log(&*store);
    let store = store.reopen();
    assert_eq!(whole_log(&*store), before);
    assert_eq!(store.head(), 4);
    assert_eq!(*store.subscribe().borrow(), 4);
    assert_eq!(
        block_on(store.stream_version("default", "s-1")).unwrap(),
        Some(3)
    );
    let next = append(&*store, "s-1", ExpectedVersion::Exact(3), 1);
    assert_eq!((next.stream_version, next.first_position), (4, 5));
}

#[test]
fn the_store_runs_in_wal_mode_with_the_configured_durability() {
    let full = TempStore::new();
    assert_eq!((full.journal_mode(), full.synchronous()), ("wal", "full"));
    assert!(
        full.sqlite_version().starts_with("3."),
        "{}",
        full.sqlite_version()
    );
    let normal =
        TempStore::with(|path| StoreConfig::new(path).with_synchronous(Synchronous::Normal));
    assert_eq!(
        (normal.journal_mode(), normal.synchronous()),
        ("wal", "normal")
    );
}

#[test]
fn a_file_from_a_newer_refold_is_refused() {
    let store = TempStore::new();
    append(&*store, "s-1", ExpectedVersion::NoStream, 1);
    let path = store.path().to_owned();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE refold_schema SET version = 99 WHERE component = 'store'",
        [],
    )
    .unwrap();
    drop(raw);
    match SqliteStore::open(StoreConfig::new(&path)) {
        Err(Error::SchemaTooNew {
            path: p,
            found,
            supported,
        }) => {
            assert_eq!((p, found, supported), (path, 99, 1));
        }
        other => panic!("expected the newer file to be refused, got {other:?}"),
    }
}
