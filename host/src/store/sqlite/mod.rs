//! The SQLite backend: every storage trait on one SQLite file in WAL mode.
//!
//! [`SqliteStore`] opens and migrates the file (`schema`), checks appends on the
//! caller's thread, hands every write (appends, imports, snapshots, projection batches,
//! catalog changes, deploy records, leases) to the one writer thread (`writer`), which
//! commits the writes waiting at each moment in one transaction (group commit), and
//! serves reads from a pool of read-only connections (`readers`). No two connections
//! of one process ever wait for each other's write lock.
//!
//! Reads run on the calling thread: they read pages SQLite already caches, never wait
//! for the writer, and take microseconds to a few milliseconds.
//!
//! The queries of each part live beside each other: `events` (appends and reads of the
//! log), `commands` (records of commands sent with an id), `projections` (catalog and
//! documents), `modules` (deploys), `leases`.

mod commands;
mod config;
mod errors;
mod events;
mod leases;
mod modules;
mod projections;
mod readers;
mod schema;
mod writer;

use super::counters::{Counters, StoreHistograms};
use super::{
    AppendOutcome, AppendRequest, Appends, BuiltBy, CommandRecord, CommandWrite, Committed,
    Decision, Definition, Direction, DocumentBatch, DocumentKey, EventStore, FailurePolicy,
    Generation, ImportOutcome, Lease, LeaseStore, ListQuery, LogFilter, ModuleRecord, ModuleStore,
    NewCommand, NewModule, Page, ProjectionStore, Query, RecordedEvent, SkippedEvent, Snapshot,
    SnapshotProjection, Storage, StoreMetrics, tagged, validate,
};
use crate::{Error, Result};
use async_trait::async_trait;
use readers::Readers;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use writer::{Job, Writer};

pub use config::{StoreConfig, Synchronous};
use errors::During;

/// The SQLite settings a store observed on its write connection when it opened.
#[derive(Debug)]
struct Observed {
    journal_mode: String,
    synchronous: String,
    sqlite_version: String,
}

/// Every storage trait on one SQLite file in WAL mode.
///
/// One writer thread owns the write connection and commits the writes waiting at each
/// moment as one transaction (group commit); reads use their own connections and never
/// wait for it. Dropping the store commits every write already handed to the writer,
/// then stops it.
#[derive(Debug)]
pub struct SqliteStore {
    config: StoreConfig,
    /// `None` only while dropping.
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Readers,
    head: Arc<watch::Sender<u64>>,
    counters: Arc<Counters>,
    observed: Observed,
}

impl SqliteStore {
    /// Open (creating if needed) the store at `config.path`, bringing its schema up to date.
    ///
    /// Fails with [`Error::SchemaTooNew`] for a file written by a newer Refold.
    pub fn open(config: StoreConfig) -> Result<SqliteStore> {
        if let Some(dir) = config
            .path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = schema::connect(&config).during("open the database")?;
        schema::migrate(&mut conn, &config.path)?;
        let observed = observe(&conn).during("read the database's settings")?;
        let head = events::load_head(&conn).during("read the log head")?;
        let (head_tx, _) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let counters = Arc::new(Counters::default());
        let (jobs, inbox) = mpsc::channel();
        let writer = Writer::new(
            conn,
            head,
            Arc::clone(&head_tx),
            Arc::clone(&counters),
            config.busy_timeout,
        );
        let writer = std::thread::Builder::new()
            .name("refold-store-writer".to_owned())
            .spawn(move || writer.run(inbox))
            .map_err(|source| Error::Thread {
                name: "refold-store-writer".to_owned(),
                source,
            })?;
        Ok(SqliteStore {
            readers: Readers::new(config.clone()),
            config,
            jobs: Some(jobs),
            writer: Some(writer),
            head: head_tx,
            counters,
            observed,
        })
    }

    /// Open the store at `config.path` as every storage trait.
    pub fn open_storage(config: StoreConfig) -> Result<Storage> {
        Ok(Storage::of(Arc::new(SqliteStore::open(config)?)))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// The journal mode observed on the write connection (`wal`).
    pub fn journal_mode(&self) -> &str {
        &self.observed.journal_mode
    }

    /// The `synchronous` level observed on the write connection (`full` or `normal`).
    pub fn synchronous(&self) -> &str {
        &self.observed.synchronous
    }

    /// The version of the SQLite library in use.
    pub fn sqlite_version(&self) -> &str {
        &self.observed.sqlite_version
    }

    /// Hand a job to the writer and wait for its answer.
    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.jobs.as_ref().ok_or(Error::StoreClosed)?;
        jobs.send(job(reply)).map_err(|_| Error::StoreClosed)?;
        // Counted once sent, with Release (and read with Acquire): a reader of the
        // metrics who sees the count knows the job is in the inbox.
        self.counters.writes_submitted.fetch_add(1, Release);
        answer.await.map_err(|_| Error::StoreClosed)?
    }

    /// Run `work` inside the writer's next group transaction, in its own savepoint
    /// (undone alone if it fails), and answer once the group committed.
    async fn write<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_checked(move |conn| work(conn).during(operation))
            .await
    }

    /// [`write`](Self::write) for work that may refuse with an error of its own.
    async fn write_checked<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit(|reply| Job::write(work, reply)).await
    }

    /// Run an event read and count what it returned.
    fn read_events(
        &self,
        operation: &'static str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<Vec<RecordedEvent>>,
    ) -> Result<Vec<RecordedEvent>> {
        let events = self.readers.read(operation, read)?;
        self.counters
            .events_read
            .fetch_add(events.len() as u64, Relaxed);
        Ok(events)
    }
}

fn observe(conn: &Connection) -> rusqlite::Result<Observed> {
    Ok(Observed {
        journal_mode: conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?,
        synchronous: match conn
            .pragma_query_value(None, "synchronous", |row| row.get::<_, i64>(0))?
        {
            0 => "off",
            1 => "normal",
            2 => "full",
            _ => "extra",
        }
        .to_owned(),
        sqlite_version: conn.query_row("SELECT sqlite_version()", [], |row| row.get(0))?,
    })
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome> {
        let mut outcomes = self.append_all(request.into()).await?;
        Ok(outcomes
            .pop()
            .expect("the writer answers one outcome per request"))
    }

    async fn append_all(&self, appends: Appends) -> Result<Vec<AppendOutcome>> {
        validate::check_appends(
            &appends,
            self.config.max_event_size,
            &self.config.append_limits,
        )?;
        let streams = appends.appends.len();
        let append = self.submit(|reply| Job::Append(appends, reply));
        self.counters.timed_append(streams, append).await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<ImportOutcome> {
        validate::check_import(&events, self.config.max_event_size)?;
        self.submit(|reply| Job::Import(events, reply)).await
    }

    async fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_events("read a stream", |conn| {
            events::read_stream(conn, partition, stream, from, direction, limit)
        })
    }

    async fn read_log(
        &self,
        after: u64,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        validate::check_filter(filter)?;
        self.read_events("read the log", |conn| {
            events::read_log(conn, after, filter, limit)
        })
    }

    async fn stream_version(&self, partition: &str, stream: &str) -> Result<Option<u64>> {
        self.readers.read("read a stream's version", |conn| {
            events::stream_version(conn, partition, stream)
        })
    }

    async fn read_head(&self) -> Result<u64> {
        self.readers.read("read the log head", events::load_head)
    }

    fn head(&self) -> u64 {
        *self.head.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.write("save a snapshot", move |conn| {
            events::save_snapshot(conn, &snapshot)
        })
        .await
    }

    async fn load_snapshot(
        &self,
        partition: &str,
        stream: &str,
        module: &str,
    ) -> Result<Option<Snapshot>> {
        self.readers.read("load a snapshot", |conn| {
            events::load_snapshot(conn, partition, stream, module)
        })
    }

    async fn record_command(&self, command: NewCommand) -> Result<CommandWrite> {
        let mut streams = 0;
        if let Decision::Append(appends) = &command.decision {
            validate::check_appends(
                appends,
                self.config.max_event_size,
                &self.config.append_limits,
            )?;
            streams = appends.appends.len();
        }
        let record = self.submit(|reply| Job::Command(Box::new(command), reply));
        self.counters.timed_append(streams, record).await
    }

    fn histograms(&self) -> Option<&StoreHistograms> {
        Some(&self.counters.histograms)
    }

    async fn command(&self, partition: &str, command_id: &str) -> Result<Option<CommandRecord>> {
        self.readers.read("look up a command", |conn| {
            commands::load(conn, partition, command_id)
        })
    }

    fn metrics(&self) -> StoreMetrics {
        self.counters.metrics()
    }
}

#[async_trait]
impl ProjectionStore for SqliteStore {
    async fn definition(&self, name: &str) -> Result<Option<Definition>> {
        self.readers.read("load a projection", |conn| {
            projections::definition(conn, name)
        })
    }

    async fn create(
        &self,
        name: &str,
        built_by: &BuiltBy,
        policy: FailurePolicy,
    ) -> Result<Generation> {
        let (name, built_by) = (name.to_owned(), built_by.clone());
        self.write("record a new projection", move |conn| {
            projections::create(conn, &name, &built_by, policy)
        })
        .await
    }

    async fn add_generation(&self, name: &str, built_by: &BuiltBy) -> Result<Generation> {
        let (name, built_by) = (name.to_owned(), built_by.clone());
        self.write("start a projection generation", move |conn| {
            projections::add_generation(conn, &name, &built_by)
        })
        .await
    }

    async fn resume(&self, name: &str, generation: u64, built_by: &BuiltBy) -> Result<()> {
        let (name, built_by) = (name.to_owned(), built_by.clone());
        self.write("resume a projection generation", move |conn| {
            projections::resume(conn, &name, generation, &built_by)
        })
        .await
    }

    async fn set_policy(&self, name: &str, policy: FailurePolicy) -> Result<()> {
        let name = name.to_owned();
        self.write("record a projection's policy", move |conn| {
            projections::set_policy(conn, &name, policy)
        })
        .await
    }

    async fn drop_rebuild(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write("drop a projection rebuild", move |conn| {
            projections::drop_rebuilds(conn, &name)
        })
        .await
    }

    async fn record_fault(
        &self,
        name: &str,
        generation: u64,
        position: u64,
        error: &str,
    ) -> Result<()> {
        let (name, error) = (name.to_owned(), error.to_owned());
        self.write("record a projection fault", move |conn| {
            projections::record_fault(conn, &name, generation, position, &error)
        })
        .await
    }

    async fn commit(&self, batch: DocumentBatch) -> Result<Committed> {
        self.write("commit a projection batch", move |conn| {
            projections::commit(conn, &batch, super::rules::now_ms())
        })
        .await
    }

    async fn document(
        &self,
        name: &str,
        generation: u64,
        key: &DocumentKey,
    ) -> Result<Option<String>> {
        self.readers.read("read a document", |conn| {
            projections::document(conn, name, generation, key)
        })
    }

    async fn get(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>> {
        self.readers
            .read_checked(|conn| projections::get(conn, name, partition, collection, id))
    }

    async fn list(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        query: &ListQuery,
    ) -> Result<Page> {
        self.readers
            .read_checked(|conn| projections::list(conn, name, partition, collection, query))
    }

    async fn count(&self, name: &str, partition: &str, collection: &str) -> Result<u64> {
        self.readers
            .read_checked(|conn| projections::count(conn, name, partition, collection))
    }

    async fn skipped(&self, name: &str, after: u64, limit: usize) -> Result<Vec<SkippedEvent>> {
        self.readers
            .read_checked(|conn| projections::skipped(conn, name, after, limit))
    }
}

#[async_trait]
impl ModuleStore for SqliteStore {
    async fn record(&self, module: NewModule<'_>) -> Result<ModuleRecord> {
        let module = modules::Owned::from(module);
        self.write_checked(move |conn| modules::record(conn, &module))
            .await
    }

    async fn current(&self) -> Result<Vec<(ModuleRecord, Vec<u8>)>> {
        self.readers
            .read("read the deployed modules", modules::current)
    }

    async fn history(&self, name: &str) -> Result<Vec<ModuleRecord>> {
        self.readers.read("read a module's deploys", |conn| {
            modules::history(conn, name)
        })
    }

    async fn version(&self, name: &str, version: u64) -> Result<Option<(ModuleRecord, Vec<u8>)>> {
        self.readers.read("read a module version", |conn| {
            modules::version(conn, name, version)
        })
    }

    async fn deploys(&self) -> Result<u64> {
        self.readers.read("count the deploys", modules::deploys)
    }

    async fn record_snapshot(&self, snapshot: &SnapshotProjection) -> Result<()> {
        let snapshot = snapshot.clone();
        self.write("record a snapshot projection", move |conn| {
            modules::record_snapshot(conn, &snapshot)
        })
        .await
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotProjection>> {
        self.readers
            .read("read the snapshot projections", modules::snapshots)
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write("take a lease", move |conn| {
            leases::acquire(conn, &name, &owner, ttl, super::rules::now_ms())
        })
        .await
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let lease = lease.clone();
        self.write("release a lease", move |conn| leases::release(conn, &lease))
            .await
    }

    async fn leases(&self) -> Result<Vec<Lease>> {
        self.readers.read("read the leases", leases::all)
    }
}

impl Drop for SqliteStore {
    /// Close the writer's inbox, let it commit what it already accepted, and wait for it.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.config.path.display(), "the event store's writer thread panicked");
        }
    }
}
