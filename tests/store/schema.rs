//! The schema: what reopening keeps, which settings a store runs with, refusing tables
//! from a newer Refold, and on PostgreSQL the schema the tables live in.

use super::{append, whole_log};
use crate::support::{TempStore, TestStore, block_on, both_backends, postgres};
use refold::Error;
use refold::store::postgres::PgStore;
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold::store::{
    AppendRequest, CommandWrite, DEFAULT_PARTITION, Decision, EventData, EventStore,
    ExpectedVersion, LogFilter, NewCommand, Query, QueryItem, RecordedOutcome,
};

both_backends! {
fn reopening_keeps_the_events_and_continues_the_log(backend: Backend) {
    let store = TestStore::new(backend);
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
}

both_backends! {
fn a_store_from_before_tags_is_brought_up_to_date_and_keeps_its_events(backend: Backend) {
    let store = TestStore::new(backend);
    append(&*store, "s-1", ExpectedVersion::NoStream, 2);
    // The tables as version 1 of the store component left them.
    store.execute(
        "DROP TABLE event_tags;
         ALTER TABLE events DROP COLUMN tags;
         UPDATE refold_schema SET version = 1 WHERE component = 'store';",
    );
    let store = store.reopen();
    assert_eq!(
        store.integers("SELECT version FROM refold_schema WHERE component = 'store'"),
        [2]
    );
    let before = whole_log(&*store);
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|e| e.tags.is_empty()), "{before:?}");
    let tagged = EventData::new("Tagged", "{}").with_tags(["t:1"]);
    block_on(store.append(AppendRequest::new("s-2", ExpectedVersion::NoStream, vec![tagged])))
        .unwrap();
    let query = LogFilter::query(Query::item(QueryItem::tags(["t:1"])));
    let found = block_on(store.read_log(0, &query, 10)).unwrap();
    assert_eq!(found.iter().map(|e| e.global_position).collect::<Vec<_>>(), [3]);
}
}

both_backends! {
fn each_component_is_versioned_and_a_store_from_before_command_records_gains_their_table(backend: Backend) {
    let store = TestStore::new(backend);
    let versions =
        "SELECT version FROM refold_schema WHERE component IN ('store', 'projections', 'modules', 'leases', 'commands') ORDER BY component";
    // commands, leases, modules, projections (version 2 records the upcaster set of a
    // generation), store (version 2 gave events tags).
    assert_eq!(store.integers(versions), [1, 1, 1, 2, 2]);
    append(&*store, "s-1", ExpectedVersion::NoStream, 1);
    // As a build from before command records left it.
    store.execute("DROP TABLE commands; DELETE FROM refold_schema WHERE component = 'commands'");
    let store = store.reopen();
    assert_eq!(store.integers(versions), [1, 1, 1, 2, 2]);
    assert_eq!(whole_log(&*store).len(), 1);
    let nothing = RecordedOutcome::Decided {
        stream_version: 1,
        positions: None,
    };
    let command = NewCommand {
        partition: DEFAULT_PARTITION.to_owned(),
        command_id: "k-1".to_owned(),
        decider: "cart".to_owned(),
        stream: "s-1".to_owned(),
        fingerprint: "f".to_owned(),
        module_version: 1,
        attempts: 1,
        decision: Decision::Outcome(nothing),
    };
    assert!(matches!(
        block_on(store.record_command(command)).unwrap(),
        CommandWrite::Written { .. }
    ));
}
}

// SQLite-only: the file's journal mode and pragmas, and a file edited by hand.

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
            assert_eq!((p, found, supported), (path, 99, 2));
        }
        other => panic!("expected the newer file to be refused, got {other:?}"),
    }
}

// PostgreSQL-only: the schema Refold's tables live in, chosen by the user.

/// Run `sql` on the PostgreSQL test server, outside any store.
fn raw_sql(sql: &str) {
    block_on(async {
        let (client, connection) = tokio_postgres::connect(&postgres::url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        let driver = tokio::spawn(connection);
        client.batch_execute(sql).await.expect("run the SQL");
        drop(client);
        driver.await.unwrap().unwrap();
    })
}

#[test]
fn a_postgres_schema_from_a_newer_refold_is_refused() {
    let config = postgres::fresh_config();
    let store = block_on(PgStore::open(config.clone())).unwrap();
    append(&store, "s-1", ExpectedVersion::NoStream, 1);
    drop(store);
    raw_sql(&format!(
        "UPDATE {}.refold_schema SET version = 99 WHERE component = 'store'",
        config.schema
    ));
    match block_on(PgStore::open(config.clone())) {
        Err(Error::SchemaTooNew {
            path,
            found,
            supported,
        }) => {
            assert_eq!((found, supported), (99, 2));
            assert_eq!(path.to_str(), Some(config.describe().as_str()));
            assert!(
                path.to_str().unwrap().contains(&config.schema),
                "the error names the schema: {}",
                path.display()
            );
        }
        other => panic!("expected the newer schema to be refused, got {other:?}"),
    }
}

#[test]
fn two_schemas_of_one_postgres_database_are_two_stores() {
    let (a, b) = (postgres::fresh_config(), postgres::fresh_config());
    let first = block_on(PgStore::open(a.clone())).unwrap();
    let second = block_on(PgStore::open(b)).unwrap();
    append(&first, "s-1", ExpectedVersion::NoStream, 3);
    append(&second, "s-1", ExpectedVersion::NoStream, 1);
    assert_eq!((whole_log(&first).len(), whole_log(&second).len()), (3, 1));
    assert_eq!((first.head(), second.head()), (3, 1));
    // Opening the same schema again finds the tables as they are: no second migration.
    drop(first);
    let again = block_on(PgStore::open(a)).unwrap();
    assert_eq!(whole_log(&again).len(), 3);
    assert_eq!(block_on(again.read_head()).unwrap(), 3);
}
