//! The single writer: one thread owns the write connection and commits the writes
//! waiting at each moment together (group commit).
//!
//! SQLite takes one writer at a time, and with `synchronous=FULL` each commit waits for
//! the disk. Funnelling every write through one thread that commits everything waiting as
//! one transaction pays that wait once per group instead of once per append. Each write
//! runs in its own savepoint, so a conflict or a reused event id undoes that append alone
//! and fails it alone while the rest of the group commits. Callers hear back only after
//! `COMMIT` returned, and subscribers learn the new head right before that.

use super::sqlite::Counters;
use super::{AppendOutcome, AppendRequest, ExpectedVersion, Snapshot, category};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::SystemTime;
use tokio::sync::watch;

/// Where the writer sends a job's result.
pub(super) type Reply<T> = SyncSender<Result<T>>;

/// One write for the writer thread.
pub(super) enum Job {
    /// Append events to a stream (already checked by `validate`).
    Append(AppendRequest, Reply<AppendOutcome>),
    /// Store a snapshot.
    SaveSnapshot(Snapshot, Reply<()>),
}

/// A job done inside the open transaction, waiting for `COMMIT` to be answered.
enum Done {
    /// An append's result; `written` is how many events it added (0 for an exact retry).
    Append {
        reply: Reply<AppendOutcome>,
        result: Result<AppendOutcome>,
        written: u64,
    },
    /// A snapshot save's result.
    Snapshot {
        reply: Reply<()>,
        result: Result<()>,
    },
}

impl Done {
    /// Tell the caller its result: the group committed.
    fn send(self) {
        // A caller that stopped waiting has nobody to tell; its write stands.
        match self {
            Done::Append { reply, result, .. } => drop(reply.send(result)),
            Done::Snapshot { reply, result } => drop(reply.send(result)),
        }
    }

    /// Tell the caller the group's transaction failed: a job that had succeeded inside it
    /// now fails with `cause`; one that had failed keeps its own error.
    fn fail(self, cause: &Arc<rusqlite::Error>) {
        let failed = || Error::CommitFailed(Arc::clone(cause));
        match self {
            Done::Append { reply, result, .. } => {
                drop(reply.send(result.and_then(|_| Err(failed()))))
            }
            Done::Snapshot { reply, result } => {
                drop(reply.send(result.and_then(|()| Err(failed()))))
            }
        }
    }
}

impl Job {
    /// Tell the caller its job was never tried because the group's transaction failed.
    fn fail(self, cause: &Arc<rusqlite::Error>) {
        let failed = Error::CommitFailed(Arc::clone(cause));
        match self {
            Job::Append(_, reply) => drop(reply.send(Err(failed))),
            Job::SaveSnapshot(_, reply) => drop(reply.send(Err(failed))),
        }
    }
}

/// Why an append attempt inside its savepoint did not go through.
enum Refusal {
    /// The stream's version did not match; it is at this version.
    Conflict(u64),
    /// An insert hit a unique constraint: maybe an event id is stored already.
    Unique(rusqlite::Error),
    /// Anything else.
    Failed(Error),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        let unique = e.sqlite_error().is_some_and(|f| {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        });
        if unique {
            Refusal::Unique(e)
        } else {
            Refusal::Failed(e.into())
        }
    }
}

/// Where an event id is stored, as far as a retry check needs to know.
struct Stored {
    position: u64,
    partition: String,
    stream: String,
    stream_position: u64,
    append_index: u64,
    append_size: u64,
    recorded_at: String,
}

/// The writer thread's state: the write connection and the log head it has committed.
pub(super) struct Writer {
    conn: Connection,
    /// Global position of the last event written, including the open transaction.
    head: u64,
    head_tx: Arc<watch::Sender<u64>>,
    counters: Arc<Counters>,
}

/// The log head as the database has it.
pub(super) fn load_head(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(global_position), 0) FROM events",
        [],
        |row| row.get(0),
    )?)
}

impl Writer {
    /// A writer over `conn`, whose log head is `head`.
    pub(super) fn new(
        conn: Connection,
        head: u64,
        head_tx: Arc<watch::Sender<u64>>,
        counters: Arc<Counters>,
    ) -> Writer {
        Writer {
            conn,
            head,
            head_tx,
            counters,
        }
    }

    /// Serve jobs until every sender is gone: wait for one, take all that are waiting
    /// besides, commit them as one group. Jobs already sent when the store is dropped
    /// are still committed.
    pub(super) fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut group = vec![first];
            group.extend(jobs.try_iter());
            // Release: whoever sees this count knows the group's members are fixed.
            self.counters
                .writes_grouped
                .fetch_add(group.len() as u64, Release);
            self.commit_group(group);
        }
    }

    fn commit_group(&mut self, group: Vec<Job>) {
        let head_before = self.head;
        let mut done = Vec::with_capacity(group.len());
        let mut waiting = group.into_iter();
        match self.write_group(&mut waiting, &mut done) {
            Ok(()) => {
                self.counters.commits.fetch_add(1, Relaxed);
                for job in &done {
                    if let Done::Append {
                        result: Ok(_),
                        written,
                        ..
                    } = job
                        && *written > 0
                    {
                        self.counters.appends.fetch_add(1, Relaxed);
                        self.counters.events_appended.fetch_add(*written, Relaxed);
                    }
                }
                if self.head != head_before {
                    self.head_tx.send_replace(self.head);
                }
                done.into_iter().for_each(Done::send);
            }
            Err(cause) => {
                tracing::error!(error = %cause, "the event store's group transaction failed");
                if !self.conn.is_autocommit()
                    && let Err(e) = self.conn.execute_batch("ROLLBACK")
                {
                    tracing::error!(error = %e, "cannot roll back the failed group transaction");
                }
                self.head = load_head(&self.conn).unwrap_or(head_before);
                let cause = Arc::new(cause);
                done.into_iter().for_each(|d| d.fail(&cause));
                waiting.for_each(|job| job.fail(&cause));
            }
        }
    }

    /// Run the group's jobs in one transaction, each in its own savepoint. An error
    /// returned here fails the whole group (the transaction itself broke).
    fn write_group(
        &mut self,
        waiting: &mut impl Iterator<Item = Job>,
        done: &mut Vec<Done>,
    ) -> rusqlite::Result<()> {
        self.exec("BEGIN IMMEDIATE")?;
        let recorded_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        for job in waiting {
            done.push(match job {
                Job::Append(request, reply) => {
                    let (result, written) = self.append(&request, &recorded_at)?;
                    Done::Append {
                        reply,
                        result,
                        written,
                    }
                }
                Job::SaveSnapshot(snapshot, reply) => {
                    let result = self.in_savepoint(|w| w.save_snapshot(&snapshot))?;
                    Done::Snapshot { reply, result }
                }
            });
        }
        self.exec("COMMIT")
    }

    fn exec(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(drop)
    }

    /// Run `write` in a savepoint, undoing it (and the head it moved) if it fails.
    fn in_savepoint<T, E>(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> rusqlite::Result<Result<T, E>> {
        let head_before = self.head;
        self.exec("SAVEPOINT write")?;
        let result = write(self);
        if result.is_err() {
            self.exec("ROLLBACK TO write")?;
            self.head = head_before;
        }
        self.exec("RELEASE write")?;
        Ok(result)
    }

    /// Append in a savepoint; resolve a conflict or a taken id once it is rolled back.
    /// Gives the result and how many events were written.
    fn append(
        &mut self,
        request: &AppendRequest,
        recorded_at: &str,
    ) -> rusqlite::Result<(Result<AppendOutcome>, u64)> {
        let attempt = self.in_savepoint(|w| w.try_append(request, recorded_at))?;
        let written = request.events.len() as u64;
        Ok(match attempt {
            Ok(outcome) => (Ok(outcome), written),
            Err(Refusal::Failed(e)) => (Err(e), 0),
            Err(Refusal::Conflict(actual)) => match self.original_outcome(request) {
                Ok(Some(outcome)) => (Ok(outcome), 0),
                Ok(None) => {
                    self.counters.conflicts.fetch_add(1, Relaxed);
                    let conflict = Error::Conflict {
                        partition: request.partition.clone(),
                        stream: request.stream.clone(),
                        expected: request.expected,
                        actual,
                    };
                    (Err(conflict), 0)
                }
                Err(e) => (Err(e), 0),
            },
            Err(Refusal::Unique(cause)) => match self.original_outcome(request) {
                Ok(Some(outcome)) => (Ok(outcome), 0),
                Ok(None) => (Err(Error::Sqlite(cause)), 0),
                Err(e) => (Err(e), 0),
            },
        })
    }

    /// Check the stream's version and write the events and the new version.
    fn try_append(
        &mut self,
        request: &AppendRequest,
        recorded_at: &str,
    ) -> Result<AppendOutcome, Refusal> {
        let actual: Option<u64> = self
            .conn
            .prepare_cached("SELECT version FROM streams WHERE partition = ?1 AND stream = ?2")?
            .query_row(params![request.partition, request.stream], |row| row.get(0))
            .optional()?;
        let version = actual.unwrap_or(0);
        let accepted = match request.expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => version == 0,
            ExpectedVersion::Exists => version > 0,
            ExpectedVersion::Exact(expected) => version == expected,
        };
        if !accepted {
            return Err(Refusal::Conflict(version));
        }
        let size = request.events.len() as u64;
        let category = category(&request.stream);
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO events (global_position, partition, stream, category, stream_position,
                event_id, event_type, data, metadata, recorded_at, append_index, append_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for (index, event) in (0u64..).zip(&request.events) {
            insert.execute(params![
                self.head + 1 + index,
                request.partition,
                request.stream,
                category,
                version + 1 + index,
                event.id.as_bytes(),
                event.event_type,
                event.data,
                event.metadata,
                recorded_at,
                index,
                size,
            ])?;
        }
        let new_version = version + size;
        let sql = if actual.is_some() {
            "UPDATE streams SET version = ?3 WHERE partition = ?1 AND stream = ?2"
        } else {
            "INSERT INTO streams (partition, stream, version) VALUES (?1, ?2, ?3)"
        };
        self.conn.prepare_cached(sql)?.execute(params![
            request.partition,
            request.stream,
            new_version
        ])?;
        let first_position = self.head + 1;
        self.head += size;
        Ok(AppendOutcome {
            stream_version: new_version,
            first_position,
            last_position: self.head,
            recorded_at: recorded_at.to_owned(),
        })
    }

    /// If some of the request's event ids are stored already: the outcome of the
    /// original append when the request is an exact resend of it (same stream, same ids
    /// in the same order, same count), else [`Error::DuplicateEventId`]. `None` when
    /// none of its ids is stored.
    fn original_outcome(&self, request: &AppendRequest) -> Result<Option<AppendOutcome>> {
        let mut lookup = self.conn.prepare_cached(
            "SELECT global_position, partition, stream, stream_position, append_index, append_size,
                    recorded_at
             FROM events WHERE event_id = ?1",
        )?;
        let mut stored = Vec::with_capacity(request.events.len());
        for event in &request.events {
            let found = lookup
                .query_row([event.id.as_bytes()], |row| {
                    Ok(Stored {
                        position: row.get(0)?,
                        partition: row.get(1)?,
                        stream: row.get(2)?,
                        stream_position: row.get(3)?,
                        append_index: row.get(4)?,
                        append_size: row.get(5)?,
                        recorded_at: row.get(6)?,
                    })
                })
                .optional()?;
            stored.push(found);
        }
        let Some((index, first)) = stored
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.as_ref().map(|s| (i, s)))
        else {
            return Ok(None);
        };
        let size = request.events.len() as u64;
        let exact = (0u64..).zip(&stored).all(|(k, s)| {
            s.as_ref().is_some_and(|s| {
                s.partition == request.partition
                    && s.stream == request.stream
                    && s.position == first.position + k
                    && s.stream_position == first.stream_position + k
                    && s.append_index == k
                    && s.append_size == size
            })
        });
        if exact {
            return Ok(Some(AppendOutcome {
                stream_version: first.stream_position + size - 1,
                first_position: first.position,
                last_position: first.position + size - 1,
                recorded_at: first.recorded_at.clone(),
            }));
        }
        Err(Error::DuplicateEventId {
            event_id: request.events[index].id,
            position: first.position,
            stored_stream: first.stream.clone(),
        })
    }

    /// Store `snapshot` unless a snapshot of a newer stream version is stored already.
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO snapshots (partition, stream, module, version, state)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (partition, stream, module) DO UPDATE
                 SET version = excluded.version, state = excluded.state
                 WHERE excluded.version >= snapshots.version",
            )?
            .execute(params![
                snapshot.partition,
                snapshot.stream,
                snapshot.module,
                snapshot.version,
                snapshot.state,
            ])?;
        Ok(())
    }
}
