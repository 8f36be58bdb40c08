//! [`SqliteStore`]: the [`EventStore`] on one SQLite file.
//!
//! This module ties the parts together: it opens and migrates the file
//! ([`schema`](super::schema)), checks appends on the caller's thread
//! ([`validate`](super::validate)), hands writes to the one writer thread
//! ([`writer`](super::writer)) and serves reads from a small pool of read connections
//! ([`reads`](super::reads)).

use super::writer::{self, Job, Writer};
use super::{
    AppendOutcome, AppendRequest, Direction, EventStore, LogFilter, RecordedEvent, Snapshot,
    StoreMetrics, reads, schema, validate,
};
use crate::{Error, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// How long a connection waits for a lock held by another connection (e.g. a projection
/// writing its read model in the same file) before giving up.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many idle read connections the store keeps open for reuse.
const IDLE_READERS: usize = 8;

/// How durable a committed write is: SQLite's `synchronous` setting, in WAL mode.
///
/// An append is acknowledged only after its transaction committed; this setting decides
/// what "committed" survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=FULL`: every commit waits until the write-ahead log is flushed to the
    /// disk (`fdatasync`). An acknowledged append survives a process crash, an operating
    /// system crash and a power loss. Costs one disk flush per commit, which group
    /// commit shares among all the appends of a group.
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits are written to the write-ahead log without waiting
    /// for the disk; the log is flushed at checkpoints. An acknowledged append survives a
    /// process crash, but the last commits before an operating system crash or a power
    /// loss may be lost (the database itself stays consistent: whole transactions go).
    Normal,
}

/// Where and how to open a [`SqliteStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The database file; created if missing.
    pub path: PathBuf,
    /// Durability of commits. Default: [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// The largest event accepted, in bytes of type + data + metadata. Default: 1 MiB.
    pub max_event_size: usize,
    /// How long to wait for a lock held by another connection to the file. Default: 5 s.
    pub busy_timeout: Duration,
}

impl StoreConfig {
    /// The default settings for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            synchronous: Synchronous::default(),
            max_event_size: 1024 * 1024,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

    /// The same settings with another durability.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
}

/// The store's counters, shared by the writer and the readers.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) appends: AtomicU64,
    pub(super) events_appended: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) conflicts: AtomicU64,
    pub(super) events_read: AtomicU64,
    pub(super) writes_submitted: AtomicU64,
    pub(super) writes_grouped: AtomicU64,
}

/// The SQLite settings a store observed on its write connection when it opened.
#[derive(Debug)]
struct Observed {
    journal_mode: String,
    synchronous: String,
    sqlite_version: String,
}

/// An [`EventStore`] on one SQLite file in WAL mode.
///
/// One writer thread owns the write connection and commits the appends waiting at each
/// moment as one transaction (group commit); reads use their own connections and never
/// wait for it. Dropping the store commits every append already handed to the writer,
/// then stops it.
#[derive(Debug)]
pub struct SqliteStore {
    config: StoreConfig,
    /// `None` only while dropping.
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
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
        let mut conn = schema::connect(&config)?;
        schema::migrate(&mut conn, &config.path)?;
        let observed = Observed {
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
        };
        let head = writer::load_head(&conn)?;
        let (head_tx, _) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let counters = Arc::new(Counters::default());
        let (jobs, inbox) = mpsc::channel();
        let writer = Writer::new(conn, head, Arc::clone(&head_tx), Arc::clone(&counters));
        let writer = std::thread::Builder::new()
            .name("refold-store-writer".to_owned())
            .spawn(move || writer.run(inbox))
            .map_err(|source| Error::Io {
                path: config.path.clone(),
                source,
            })?;
        Ok(SqliteStore {
            config,
            jobs: Some(jobs),
            writer: Some(writer),
            readers: Mutex::new(Vec::new()),
            head: head_tx,
            counters,
            observed,
        })
    }

    /// The database file. Other parts of the engine (projections) open their own
    /// connections to it.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// A new connection to the store's file with the store's settings, with the tables
    /// of `component` brought up to date by its `migrations`: for the parts of the
    /// engine that keep their own tables beside the events (deployed modules, read
    /// models).
    pub(crate) fn connect_component(
        &self,
        component: &str,
        migrations: &[&str],
    ) -> Result<Connection> {
        let mut conn = schema::connect(&self.config)?;
        schema::migrate_component(&mut conn, &self.config.path, component, migrations)?;
        Ok(conn)
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
    fn submit<T>(&self, job: impl FnOnce(writer::Reply<T>) -> Job) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or(Error::StoreClosed)?;
        jobs.send(job(reply)).map_err(|_| Error::StoreClosed)?;
        // Counted once sent, with Release (and read with Acquire): a reader of the
        // metrics who sees the count knows the job is in the inbox.
        self.counters.writes_submitted.fetch_add(1, Release);
        answer.recv().map_err(|_| Error::StoreClosed)?
    }

    /// Run `read` on an idle read connection, opening one if none is idle.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = schema::connect(&self.config)?;
                conn.pragma_update(None, "query_only", true)?;
                conn
            }
        };
        let result = read(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Run an event read and count what it returned.
    fn read_events(
        &self,
        read: impl FnOnce(&Connection) -> Result<Vec<RecordedEvent>>,
    ) -> Result<Vec<RecordedEvent>> {
        let events = self.read(read)?;
        self.counters
            .events_read
            .fetch_add(events.len() as u64, Relaxed);
        Ok(events)
    }
}

impl EventStore for SqliteStore {
    fn append(&self, request: AppendRequest) -> Result<AppendOutcome> {
        validate::check_append(&request, self.config.max_event_size)?;
        self.submit(|reply| Job::Append(request, reply))
    }

    fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_events(|conn| reads::read_stream(conn, partition, stream, from, direction, limit))
    }

    fn read_log(&self, after: u64, filter: &LogFilter, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.read_events(|conn| reads::read_log(conn, after, filter, limit))
    }

    fn stream_version(&self, partition: &str, stream: &str) -> Result<Option<u64>> {
        self.read(|conn| reads::stream_version(conn, partition, stream))
    }

    fn head(&self) -> u64 {
        *self.head.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.submit(|reply| Job::SaveSnapshot(snapshot, reply))
    }

    fn load_snapshot(
        &self,
        partition: &str,
        stream: &str,
        module: &str,
    ) -> Result<Option<Snapshot>> {
        self.read(|conn| reads::load_snapshot(conn, partition, stream, module))
    }

    fn metrics(&self) -> StoreMetrics {
        StoreMetrics {
            appends: self.counters.appends.load(Relaxed),
            events_appended: self.counters.events_appended.load(Relaxed),
            commits: self.counters.commits.load(Relaxed),
            conflicts: self.counters.conflicts.load(Relaxed),
            events_read: self.counters.events_read.load(Relaxed),
            writes_submitted: self.counters.writes_submitted.load(Acquire),
            writes_grouped: self.counters.writes_grouped.load(Acquire),
        }
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
