//! Helpers shared by every part's integration tests: temporary stores, guest
//! components, the cargo examples some tests run as child processes, and waiting with
//! a deadline.

pub mod browser;
pub mod guests;
pub mod postgres;
pub mod seed;
pub mod server;
pub mod wait;

use refold::runtime::{Documents, Event};
use refold::store::postgres::{PgConfig, PgStore};
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold::store::{EventStore, Storage};
use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, LazyLock};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// The async runtime every test shares: the engine's parts await their store on it,
/// run guest calls on its blocking pool, and projection runners reach the store
/// through it.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start the tests' async runtime")
});

/// Run `future` to completion on the tests' runtime, from any test thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// The tests' runtime, for code that must be built inside it (`RUNTIME.enter()`).
pub fn runtime() -> &'static Runtime {
    &RUNTIME
}

/// The storage backends every backend-neutral test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in its own temporary directory.
    Sqlite,
    /// A fresh schema on this process's PostgreSQL test server.
    Postgres,
}

/// Generate, from one test function taking a [`Backend`], a test per backend: a module
/// named after the function holding the tests `sqlite` and `postgres` (so
/// `store::append::a_retry_is_idempotent::postgres`). Attributes given before the
/// function go on both tests.
macro_rules! both_backends {
    ($($(#[$meta:meta])* fn $name:ident($backend:ident: Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($backend: $crate::support::Backend) $body

            $(#[$meta])*
            #[test]
            fn sqlite() {
                run($crate::support::Backend::Sqlite)
            }

            $(#[$meta])*
            #[test]
            fn postgres() {
                run($crate::support::Backend::Postgres)
            }
        }
    )*};
}
pub(crate) use both_backends;

/// A fresh, empty store of either backend, thrown away when dropped.
pub struct TestStore {
    // Declared first so the store closes before its place is removed.
    open: Open,
    place: Place,
}

/// The store a [`TestStore`] opened.
enum Open {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

/// Where a [`TestStore`] keeps its data.
enum Place {
    /// The SQLite file `events.db` in this directory.
    Dir(TempDir),
    /// A schema of the PostgreSQL test server.
    Schema(Box<PgConfig>),
}

impl TestStore {
    /// A fresh, empty store of `backend` with the default settings.
    pub fn new(backend: Backend) -> TestStore {
        TestStore::build(backend, |_| {}, |_| {})
    }

    /// A fresh, empty store of `backend` that takes events up to `size` bytes.
    pub fn with_max_event_size(backend: Backend, size: usize) -> TestStore {
        TestStore::build(
            backend,
            |sqlite| sqlite.max_event_size = size,
            |postgres| postgres.max_event_size = size,
        )
    }

    /// A fresh, empty store of `backend` whose commits are as durable as `synchronous`
    /// says.
    pub fn with_synchronous(backend: Backend, synchronous: Synchronous) -> TestStore {
        TestStore::build(
            backend,
            |sqlite| sqlite.synchronous = synchronous,
            |postgres| postgres.synchronous = synchronous,
        )
    }

    /// A fresh, empty store of `backend`, its default settings changed by the function
    /// for that backend.
    fn build(
        backend: Backend,
        sqlite: impl FnOnce(&mut StoreConfig),
        postgres: impl FnOnce(&mut PgConfig),
    ) -> TestStore {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                let mut config = StoreConfig::new(dir.path().join("events.db"));
                sqlite(&mut config);
                let store = SqliteStore::open(config).expect("open a fresh store");
                TestStore {
                    open: Open::Sqlite(Arc::new(store)),
                    place: Place::Dir(dir),
                }
            }
            Backend::Postgres => {
                let mut config = postgres::fresh_config();
                postgres(&mut config);
                TestStore::on_schema(config)
            }
        }
    }

    /// The SQLite file of a store of [`Backend::Sqlite`].
    pub fn sqlite_path(&self) -> PathBuf {
        match &self.place {
            Place::Dir(dir) => dir.path().join("events.db"),
            Place::Schema(_) => panic!("a PostgreSQL store has no SQLite file"),
        }
    }

    /// The schema of a store of [`Backend::Postgres`].
    pub fn postgres_schema(&self) -> &str {
        match &self.place {
            Place::Schema(config) => &config.schema,
            Place::Dir(_) => panic!("a SQLite store has no PostgreSQL schema"),
        }
    }

    /// The first column of what `sql` selects, as integers, read straight from the
    /// database (outside the store): for tests that check how something is stored.
    pub fn integers(&self, sql: &str) -> Vec<i64> {
        match &self.place {
            Place::Dir(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
                let mut statement = conn.prepare(sql).unwrap();
                statement
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Place::Schema(config) => {
                let rows = on_schema(&config.schema, async |client| {
                    client.query(sql, &[]).await.unwrap()
                });
                rows.iter().map(|row| row.get(0)).collect()
            }
        }
    }

    /// Run the statements of `sql` straight on the database (outside the store): for
    /// tests that change how something is stored, as an older Refold left it.
    pub fn execute(&self, sql: &str) {
        match &self.place {
            Place::Dir(dir) => rusqlite::Connection::open(dir.path().join("events.db"))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Place::Schema(config) => on_schema(&config.schema, async |client| {
                client.batch_execute(sql).await.unwrap()
            }),
        }
    }

    /// A store of the PostgreSQL test server on the schema `config` names.
    fn on_schema(config: PgConfig) -> TestStore {
        let store = block_on(PgStore::open(config.clone())).expect("open a PostgreSQL store");
        TestStore {
            open: Open::Postgres(Arc::new(store)),
            place: Place::Schema(Box::new(config)),
        }
    }

    /// A handle to the store for the engine's parts, which share it.
    pub fn shared(&self) -> Arc<dyn EventStore> {
        match &self.open {
            Open::Sqlite(store) => store.clone(),
            Open::Postgres(store) => store.clone(),
        }
    }

    /// The store as every storage trait.
    pub fn storage(&self) -> Storage {
        match &self.open {
            Open::Sqlite(store) => Storage::of(store.clone()),
            Open::Postgres(store) => Storage::of(store.clone()),
        }
    }

    /// Another store over the same data, as a second process (or node) would open it.
    pub fn open_again(&self) -> Storage {
        match &self.place {
            Place::Dir(dir) => Storage::of(Arc::new(
                SqliteStore::open(StoreConfig::new(dir.path().join("events.db")))
                    .expect("open the store again"),
            )),
            Place::Schema(config) => Storage::of(Arc::new(
                block_on(PgStore::open((**config).clone())).expect("open the store again"),
            )),
        }
    }

    /// Close the store and open its data again.
    pub fn reopen(self) -> TestStore {
        let TestStore { open, place } = self;
        match open {
            Open::Sqlite(store) => {
                drop(Arc::into_inner(store).expect("no other handle to the store is alive"))
            }
            Open::Postgres(store) => {
                drop(Arc::into_inner(store).expect("no other handle to the store is alive"))
            }
        }
        match place {
            Place::Dir(dir) => {
                let store = SqliteStore::open(StoreConfig::new(dir.path().join("events.db")))
                    .expect("reopen the store");
                TestStore {
                    open: Open::Sqlite(Arc::new(store)),
                    place: Place::Dir(dir),
                }
            }
            Place::Schema(config) => TestStore::on_schema(*config),
        }
    }
}

/// What `work` makes of a connection of its own to the PostgreSQL test server, its
/// search path set to `schema`.
fn on_schema<T>(schema: &str, work: impl AsyncFnOnce(&tokio_postgres::Client) -> T) -> T {
    block_on(async {
        let (client, connection) = tokio_postgres::connect(&postgres::url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .await
            .unwrap();
        let done = work(&client).await;
        drop(client);
        driver.await.unwrap().unwrap();
        done
    })
}

impl Deref for TestStore {
    type Target = dyn EventStore;

    fn deref(&self) -> &(dyn EventStore + 'static) {
        match &self.open {
            Open::Sqlite(store) => &**store,
            Open::Postgres(store) => &**store,
        }
    }
}

/// A store on a fresh file in its own temporary directory, removed when dropped: for
/// the tests of what only SQLite has (its file, its settings, its locks).
pub struct TempStore {
    // Declared first so the store closes before its directory is removed.
    store: Arc<SqliteStore>,
    /// Kept until the store is dropped, then removed with the file.
    _dir: TempDir,
}

impl TempStore {
    /// A fresh, empty store with the default settings.
    pub fn new() -> TempStore {
        TempStore::with(StoreConfig::new)
    }

    /// A fresh, empty store with the settings `config` makes from its file's path.
    pub fn with(config: impl FnOnce(PathBuf) -> StoreConfig) -> TempStore {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let store =
            SqliteStore::open(config(dir.path().join("events.db"))).expect("open a fresh store");
        TempStore {
            store: Arc::new(store),
            _dir: dir,
        }
    }

    /// A handle to the store for the engine's parts, which share it.
    pub fn shared(&self) -> Arc<dyn EventStore> {
        self.store.clone()
    }

    /// The store as every storage trait, for the parts that keep more than events
    /// (projections, the engine).
    pub fn storage(&self) -> Storage {
        Storage::of(self.store.clone())
    }
}

impl Deref for TempStore {
    type Target = SqliteStore;

    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

/// Build the `refold-cli` package's example `name` into this test binary's target directory
/// and profile, and give the path of its executable.
pub fn example_binary(name: &str) -> PathBuf {
    let profile_dir = guests::profile_dir();
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .expect("a UTF-8 profile name")
        .to_owned();
    let cargo_profile = if profile == "debug" { "dev" } else { &profile };
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "refold-cli",
            "--example",
            name,
            "--profile",
            cargo_profile,
        ])
        .env("CARGO_TARGET_DIR", guests::target_dir())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the example '{name}': {e}"));
    assert!(
        status.success(),
        "building the example '{name}' failed ({status}); run `cargo build -p refold-cli --example {name}` to see why"
    );
    profile_dir.join("examples").join(name)
}

/// Read-model documents in memory, keyed by (collection, id), for projection calls
/// made straight through the runtime.
#[derive(Debug, Default)]
pub struct MemoryDocuments(pub BTreeMap<(String, String), String>);

impl Documents for MemoryDocuments {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        self.0.get(&(collection.to_owned(), id.to_owned())).cloned()
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        self.0
            .insert((collection.to_owned(), id.to_owned()), document);
    }

    fn delete(&mut self, collection: &str, id: &str) {
        self.0.remove(&(collection.to_owned(), id.to_owned()));
    }
}

/// An event as the store would hand it to a guest.
pub fn event(stream: &str, position: u64, event_type: &str, data: &str) -> Event {
    Event {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        metadata: "{}".to_owned(),
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: position,
        event_id: format!("00000000-0000-0000-0000-{position:012}"),
        recorded_at: "2024-01-01T00:00:00.000Z".to_owned(),
        partition: "default".to_owned(),
        tags: Vec::new(),
    }
}
