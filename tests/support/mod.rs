//! Helpers shared by every part's integration tests: temporary stores, guest
//! components, the cargo examples some tests run as child processes, and waiting with
//! a deadline.

pub mod guests;
pub mod server;
pub mod wait;

use refold::runtime::{Documents, Event};
use refold::store::sqlite::{SqliteStore, StoreConfig};
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

/// A store on a fresh file in its own temporary directory, removed when dropped.
pub struct TempStore {
    // Declared first so the store closes before its directory is removed.
    store: Arc<SqliteStore>,
    dir: TempDir,
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
            dir,
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

    /// Close the store and open its file again.
    pub fn reopen(self) -> TempStore {
        let TempStore { store, dir } = self;
        let config = StoreConfig::new(store.path());
        drop(Arc::into_inner(store).expect("no other handle to the store is alive"));
        let store = SqliteStore::open(config).expect("reopen the store");
        TempStore {
            store: Arc::new(store),
            dir,
        }
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
    }
}
