//! The single writer: one thread owns the write connection and commits the writes
//! waiting at each moment together (group commit).
//!
//! SQLite takes one writer at a time, and with `synchronous=FULL` each commit waits for
//! the disk. Funnelling every write of the process (appends, snapshots, projection
//! batches, catalog and deploy records, leases) through one thread that commits
//! everything waiting as one transaction pays that wait once per group instead of once
//! per write, and no two connections of the process ever wait on each other's lock.
//! Each write runs in its own savepoint, so a conflict or a reused event id undoes that
//! write alone and fails it alone while the rest of the group commits; an append alone
//! in its group (a single client) skips the savepoint and rolls the transaction back. Callers hear
//! back only after `COMMIT` returned, and subscribers learn the new head right then.

use super::commands;
use super::errors::{During, failed};
use super::events::{self, EVENT_COLUMNS};
use crate::store::counters::Counters;
use crate::store::rules::{self, AppendRefusal, Placement, StoredId};
use crate::store::{
    AppendCondition, AppendOutcome, AppendRequest, Appends, CommandWrite, Decision, ImportOutcome,
    NewCommand, RecordedEvent, RecordedOutcome, category, tagged,
};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, watch};

/// How often an idle writer looks for commits of other processes to the same file.
const FOREIGN_CHECK: Duration = Duration::from_millis(50);

/// Where the writer sends a job's result.
pub(super) type Reply<T> = oneshot::Sender<Result<T>>;

/// Why a group's transaction failed as a whole, shared by every write of the group.
pub(super) struct GroupFailure {
    cause: Arc<rusqlite::Error>,
    /// How long SQLite waited for the write lock before giving up.
    busy_timeout: Duration,
}

/// One write for the writer thread.
pub(super) enum Job {
    /// Append events to one or more streams, all or nothing, if their condition holds
    /// (already checked by `validate`).
    Append(Appends, Reply<Vec<AppendOutcome>>),
    /// Write events exactly as given, all or nothing (their shapes already checked by
    /// `validate`), skipping those stored already.
    Import(Vec<RecordedEvent>, Reply<ImportOutcome>),
    /// Record a command sent with an id and append its events, unless its id is
    /// recorded already (its append already checked by `validate`).
    Command(Box<NewCommand>, Reply<CommandWrite>),
    /// Any other write: run inside the group's transaction in a savepoint.
    Write(Box<dyn WriteJob>),
}

impl Job {
    /// A job that runs `work` on the write connection and answers `reply` with what it
    /// returned once the group committed.
    pub(super) fn write<T: Send + 'static>(
        work: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
        reply: Reply<T>,
    ) -> Job {
        Job::Write(Box::new(Closure {
            work: Some(work),
            result: None,
            reply,
        }))
    }

    /// Tell the caller its job was never tried because the group's transaction failed.
    fn fail(self, cause: &GroupFailure) {
        match self {
            Job::Append(_, reply) => drop(reply.send(Err(commit_failed(cause)))),
            Job::Import(_, reply) => drop(reply.send(Err(commit_failed(cause)))),
            Job::Command(_, reply) => drop(reply.send(Err(commit_failed(cause)))),
            Job::Write(job) => job.answer(Some(cause)),
        }
    }
}

/// A write other than an append, as the writer runs it.
pub(super) trait WriteJob: Send {
    /// Do the write on the connection (inside a savepoint); whether it succeeded. Its
    /// result is kept for [`answer`](Self::answer).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answer the caller: after `COMMIT` (`failure` is `None`), or with the failure of
    /// the group's transaction.
    fn answer(self: Box<Self>, failure: Option<&GroupFailure>);
}

struct Closure<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: Reply<T>,
}

impl<T: Send, F: FnOnce(&Connection) -> Result<T> + Send> WriteJob for Closure<T, F> {
    fn run(&mut self, conn: &Connection) -> bool {
        let result = self.work.take().map(|work| work(conn));
        let ok = matches!(result, Some(Ok(_)));
        self.result = result;
        ok
    }

    fn answer(self: Box<Self>, failure: Option<&GroupFailure>) {
        let result = match (self.result, failure) {
            (Some(Err(refused)), _) => Err(refused),
            (Some(Ok(done)), None) => Ok(done),
            (_, Some(cause)) => Err(commit_failed(cause)),
            (None, None) => Err(Error::StoreClosed),
        };
        // A caller that stopped waiting has nobody to tell; its write stands.
        drop(self.reply.send(result));
    }
}

/// What a write of a group that failed as a whole is told: that another process held
/// the file's write lock too long, or that the transaction failed.
fn commit_failed(failure: &GroupFailure) -> Error {
    if failure.cause.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        return Error::Locked {
            waited: failure.busy_timeout,
        };
    }
    Error::CommitFailed {
        source: Arc::clone(&failure.cause) as _,
    }
}

/// A job done inside the open transaction, waiting for `COMMIT` to be answered.
enum Done {
    /// An append's result, and how many appends and events it wrote (none for an exact
    /// retry).
    Append {
        reply: Reply<Vec<AppendOutcome>>,
        result: Result<Vec<AppendOutcome>>,
        written: Written,
    },
    /// An import's result (which says how many events it wrote).
    Import {
        reply: Reply<ImportOutcome>,
        result: Result<ImportOutcome>,
    },
    /// A command record's result, and how many appends and events it wrote.
    Command {
        reply: Reply<CommandWrite>,
        result: Result<CommandWrite>,
        written: Written,
    },
    /// Any other write, its result kept inside.
    Write(Box<dyn WriteJob>),
}

impl Done {
    /// Tell the caller its result: the group committed.
    fn send(self) {
        match self {
            // A caller that stopped waiting has nobody to tell; its write stands.
            Done::Append { reply, result, .. } => drop(reply.send(result)),
            Done::Import { reply, result } => drop(reply.send(result)),
            Done::Command { reply, result, .. } => drop(reply.send(result)),
            Done::Write(job) => job.answer(None),
        }
    }

    /// Tell the caller the group's transaction failed: a job that had succeeded inside it
    /// now fails with `cause`; one that had failed keeps its own error.
    fn fail(self, cause: &GroupFailure) {
        match self {
            Done::Append { reply, result, .. } => {
                drop(reply.send(result.and_then(|_| Err(commit_failed(cause)))))
            }
            Done::Import { reply, result } => {
                drop(reply.send(result.and_then(|_| Err(commit_failed(cause)))))
            }
            Done::Command { reply, result, .. } => {
                drop(reply.send(result.and_then(|_| Err(commit_failed(cause)))))
            }
            Done::Write(job) => job.answer(Some(cause)),
        }
    }
}

/// Why an append attempt inside its savepoint did not go through.
enum Refusal {
    /// The stream's version did not match; it is at this version.
    Conflict(u64),
    /// The appends' condition failed at the event at this global position.
    Condition(u64),
    /// An insert hit a unique constraint: maybe an event id is stored already.
    Unique(rusqlite::Error),
    /// Anything else.
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        if is_unique(&e) {
            Refusal::Unique(e)
        } else {
            Refusal::Failed(e)
        }
    }
}

/// Whether `e` is a unique (or primary key) constraint failing.
fn is_unique(e: &rusqlite::Error) -> bool {
    e.sqlite_error().is_some_and(|f| {
        f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    })
}

/// The writer thread's state: the write connection and the log head it has committed.
pub(super) struct Writer {
    conn: Connection,
    /// Global position of the last event written, including the open transaction.
    head: u64,
    head_tx: Arc<watch::Sender<u64>>,
    counters: Arc<Counters>,
    /// `PRAGMA data_version` when the writer last looked: it changes when another
    /// connection to the file commits.
    data_version: i64,
    /// How long the connection waits for another process's write lock.
    busy_timeout: Duration,
}

impl Writer {
    /// A writer over `conn`, whose log head is `head`.
    pub(super) fn new(
        conn: Connection,
        head: u64,
        head_tx: Arc<watch::Sender<u64>>,
        counters: Arc<Counters>,
        busy_timeout: Duration,
    ) -> Writer {
        Writer {
            conn,
            head,
            head_tx,
            counters,
            data_version: 0,
            busy_timeout,
        }
    }

    /// Serve jobs until every sender is gone: wait for one, take all that are waiting
    /// besides, commit them as one group. Jobs already sent when the store is dropped
    /// are still committed.
    ///
    /// While idle, the writer looks every [`FOREIGN_CHECK`] for commits another process
    /// made to the file, so subscribers learn of their events too.
    pub(super) fn run(mut self, jobs: Receiver<Job>) {
        loop {
            let first = match jobs.recv_timeout(FOREIGN_CHECK) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(error) = self.notice_foreign_commits() {
                        tracing::warn!(%error, "cannot check the database for other processes' commits");
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut group = vec![first];
            group.extend(jobs.try_iter());
            // Release: whoever sees this count knows the group's members are fixed.
            self.counters
                .writes_grouped
                .fetch_add(group.len() as u64, Release);
            self.counters.grouped(group.len());
            self.commit_group(group);
        }
    }

    /// If another connection (another process: every write of this one is the
    /// writer's) committed since the last look, read the log head again and publish it.
    /// Inside the writer's transaction the head read is exact: the write lock is held.
    fn notice_foreign_commits(&mut self) -> rusqlite::Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "data_version", |row| row.get(0))?;
        if version == self.data_version {
            return Ok(());
        }
        self.data_version = version;
        let head = events::load_head(&self.conn)?;
        if head != self.head {
            self.head = head;
            self.head_tx.send_replace(head);
        }
        Ok(())
    }

    fn commit_group(&mut self, group: Vec<Job>) {
        let head_before = self.head;
        let mut done = Vec::with_capacity(group.len());
        let mut waiting = group.into_iter();
        match self.write_group(&mut waiting, &mut done) {
            Ok(committed) => {
                if committed {
                    self.counters.commits.fetch_add(1, Relaxed);
                }
                for job in &done {
                    match job {
                        Done::Append {
                            result: Ok(_),
                            written,
                            ..
                        }
                        | Done::Command {
                            result: Ok(_),
                            written,
                            ..
                        } => {
                            self.counters.appends.fetch_add(written.appends, Relaxed);
                            self.counters
                                .events_appended
                                .fetch_add(written.events, Relaxed);
                        }
                        Done::Import {
                            result: Ok(outcome),
                            ..
                        } => {
                            self.counters
                                .events_appended
                                .fetch_add(outcome.imported, Relaxed);
                        }
                        _ => {}
                    }
                }
                if self.head != head_before {
                    self.head_tx.send_replace(self.head);
                }
                done.into_iter().for_each(Done::send);
            }
            Err(cause) => {
                tracing::error!(error = %cause, "the store's group transaction failed");
                if !self.conn.is_autocommit()
                    && let Err(e) = self.conn.execute_batch("ROLLBACK")
                {
                    tracing::error!(error = %e, "cannot roll back the failed group transaction");
                }
                self.head = events::load_head(&self.conn).unwrap_or(head_before);
                let failure = GroupFailure {
                    cause: Arc::new(cause),
                    busy_timeout: self.busy_timeout,
                };
                done.into_iter().for_each(|d| d.fail(&failure));
                waiting.for_each(|job| job.fail(&failure));
            }
        }
    }

    /// Run the group's jobs in one transaction, each in its own savepoint; an append
    /// alone in its group needs none, since undoing it is rolling the transaction back.
    /// Whether a transaction was committed; an error returned here fails the whole
    /// group (the transaction itself broke).
    fn write_group(
        &mut self,
        waiting: &mut impl ExactSizeIterator<Item = Job>,
        done: &mut Vec<Done>,
    ) -> rusqlite::Result<bool> {
        self.exec("BEGIN IMMEDIATE")?;
        self.notice_foreign_commits()?;
        let recorded_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let alone = waiting.len() == 1;
        for job in waiting {
            done.push(match job {
                Job::Append(appends, reply) => {
                    let (result, written) = if alone {
                        self.append_alone(appends, &recorded_at)?
                    } else {
                        self.append(appends, &recorded_at)?
                    };
                    Done::Append {
                        reply,
                        result,
                        written,
                    }
                }
                Job::Import(events, reply) => {
                    let result = self.in_savepoint(|w| w.import(&events))?;
                    Done::Import { reply, result }
                }
                Job::Command(command, reply) => {
                    let (result, written) = self.command(&command, &recorded_at)?;
                    Done::Command {
                        reply,
                        result,
                        written,
                    }
                }
                Job::Write(mut job) => {
                    // The job keeps its own result, for its answer after COMMIT.
                    let _undone_if_failed =
                        self.in_savepoint(|w| if job.run(&w.conn) { Ok(()) } else { Err(()) })?;
                    Done::Write(job)
                }
            });
        }
        if self.conn.is_autocommit() {
            // The group's one append was refused and rolled back.
            return Ok(false);
        }
        self.exec("COMMIT").map(|()| true)
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

    /// Append every request in one savepoint, all or nothing; resolve a conflict or a
    /// taken id once it is rolled back. Gives the result and what was written.
    fn append(
        &mut self,
        appends: Appends,
        recorded_at: &str,
    ) -> rusqlite::Result<(Result<Vec<AppendOutcome>>, Written)> {
        let attempt = self.in_savepoint(|w| w.try_appends(&appends, recorded_at))?;
        Ok(self.appended(appends, attempt, recorded_at))
    }

    /// [`append`](Self::append) for the only job of its group, in the group's
    /// transaction itself: refused, it rolls the transaction back.
    fn append_alone(
        &mut self,
        appends: Appends,
        recorded_at: &str,
    ) -> rusqlite::Result<(Result<Vec<AppendOutcome>>, Written)> {
        let head_before = self.head;
        let attempt = self.try_appends(&appends, recorded_at);
        if attempt.is_err() {
            // An error SQLite answered by rolling back already left no transaction.
            if !self.conn.is_autocommit() {
                self.exec("ROLLBACK")?;
            }
            self.head = head_before;
        }
        Ok(self.appended(appends, attempt, recorded_at))
    }

    /// Check the condition, then try every request in order; the index of the first
    /// refused (0 for the condition), and why.
    fn try_appends(
        &mut self,
        appends: &Appends,
        recorded_at: &str,
    ) -> Result<Vec<(u64, u64)>, (usize, Refusal)> {
        if let Some(condition) = &appends.condition {
            self.check_condition(condition)
                .map_err(|refusal| (0, refusal))?;
        }
        appends
            .appends
            .iter()
            .enumerate()
            .map(|(index, request)| {
                self.try_append(request, recorded_at)
                    .map_err(|refusal| (index, refusal))
            })
            .collect()
    }

    /// Refuse the appends if an event matching `condition` is stored after its
    /// position: in the writer's transaction, the events of every append before
    /// these (of this group too) count.
    fn check_condition(&self, condition: &AppendCondition) -> Result<(), Refusal> {
        let first = events::first_match(
            &self.conn,
            &condition.fail_if_events_match,
            condition.partition.as_deref(),
            condition.after.unwrap_or(0),
        )?;
        match first {
            Some(position) => Err(Refusal::Condition(position)),
            None => Ok(()),
        }
    }

    /// The result of an append attempt (already undone if refused), and what it wrote.
    fn appended(
        &self,
        appends: Appends,
        attempt: Result<Vec<(u64, u64)>, (usize, Refusal)>,
        recorded_at: &str,
    ) -> (Result<Vec<AppendOutcome>>, Written) {
        let Appends {
            appends: requests,
            condition,
        } = appends;
        let written = Written {
            appends: requests.len() as u64,
            events: requests.iter().map(|r| r.events.len() as u64).sum(),
        };
        match attempt {
            Ok(positions) => (
                Ok(requests
                    .into_iter()
                    .zip(positions)
                    .map(|(request, (stream_version, first_position))| {
                        rules::recorded(request, stream_version, first_position, recorded_at)
                    })
                    .collect()),
                written,
            ),
            Err((index, refusal)) => {
                let after = condition.and_then(|c| c.after);
                let refused = self.refused(requests, index, refusal, after);
                (refused, Written::NOTHING)
            }
        }
    }

    /// The answer to appends refused at `requests[index]` (and rolled back): the
    /// original outcomes when every request is an exact resend of one already stored,
    /// else why they were refused.
    fn refused(
        &self,
        requests: Vec<AppendRequest>,
        index: usize,
        refusal: Refusal,
        after: Option<u64>,
    ) -> Result<Vec<AppendOutcome>> {
        let refusal = match refusal {
            Refusal::Failed(e) => return Err(failed("append")(e)),
            Refusal::Conflict(actual) => AppendRefusal::Conflict(actual),
            Refusal::Condition(position) => AppendRefusal::Condition {
                position,
                after,
                head: self.head,
            },
            Refusal::Unique(e) => AppendRefusal::Failed(failed("append")(e)),
        };
        let originals = requests
            .iter()
            .map(|request| self.original_outcome(request))
            .collect::<Result<Vec<_>>>()?;
        let conflict = matches!(
            refusal,
            AppendRefusal::Conflict(_) | AppendRefusal::Condition { .. }
        );
        if conflict && originals.iter().any(Option::is_none) {
            self.counters.conflicts.fetch_add(1, Relaxed);
        }
        rules::refused_appends(requests, index, refusal, originals)
    }

    /// Check the stream's version and write the events and the new version. Gives the
    /// stream's new version and the global position of the first event.
    fn try_append(
        &mut self,
        request: &AppendRequest,
        recorded_at: &str,
    ) -> Result<(u64, u64), Refusal> {
        let actual: Option<u64> = self
            .conn
            .prepare_cached("SELECT version FROM streams WHERE partition = ?1 AND stream = ?2")?
            .query_row(params![request.partition, request.stream], |row| row.get(0))
            .optional()?;
        let version = actual.unwrap_or(0);
        if !rules::accepts(request.expected, version) {
            return Err(Refusal::Conflict(version));
        }
        let size = request.events.len() as u64;
        let category = category(&request.stream);
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO events (global_position, partition, stream, category, stream_position,
                event_id, event_type, data, metadata, recorded_at, append_index, append_size,
                tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for (index, event) in (0u64..).zip(&request.events) {
            let position = self.head + 1 + index;
            insert.execute(params![
                position,
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
                tagged::joined(&event.tags),
            ])?;
            events::insert_tags(&self.conn, position, &event.tags)?;
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
        Ok((new_version, first_position))
    }

    /// If some of the request's event ids are stored already: the outcome of the
    /// original append when the request is an exact resend of it (same stream, same ids
    /// in the same order, same count), else [`Error::DuplicateEventId`]. `None` when
    /// none of its ids is stored.
    fn original_outcome(&self, request: &AppendRequest) -> Result<Option<AppendOutcome>> {
        let lookup = || -> rusqlite::Result<Vec<Option<StoredId>>> {
            let mut lookup = self.conn.prepare_cached(
                "SELECT global_position, partition, stream, stream_position, append_index,
                        append_size
                 FROM events WHERE event_id = ?1",
            )?;
            request
                .events
                .iter()
                .map(|event| {
                    lookup
                        .query_row([event.id.as_bytes()], |row| {
                            Ok(StoredId {
                                position: row.get(0)?,
                                partition: row.get(1)?,
                                stream: row.get(2)?,
                                stream_position: row.get(3)?,
                                append_index: row.get(4)?,
                                append_size: row.get(5)?,
                            })
                        })
                        .optional()
                })
                .collect()
        };
        let stored = lookup().during("look up the ids of an append")?;
        let Some(first) = rules::resend_of(request, &stored)? else {
            return Ok(None);
        };
        let events: Vec<RecordedEvent> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE global_position >= ?1 AND global_position < ?1 + ?2
                 ORDER BY global_position"
            ))
            .and_then(|mut read| {
                read.query_map(params![first.position, first.append_size], events::event)?
                    .collect()
            })
            .during("read the original append")?;
        Ok(Some(rules::original_outcome(first, events)))
    }
}

impl Writer {
    /// Record `command` and append its events, in one savepoint, all or nothing;
    /// unless its id is recorded already: then the record stored, and nothing written.
    /// Gives the result and what was appended.
    fn command(
        &mut self,
        command: &NewCommand,
        recorded_at: &str,
    ) -> rusqlite::Result<(Result<CommandWrite>, Written)> {
        let mut written = Written::NOTHING;
        let result = self.in_savepoint(|w| {
            let found = commands::load(&w.conn, &command.partition, &command.command_id)
                .during("look up a command")?;
            if let Some(found) = found {
                return Ok(CommandWrite::Found(found));
            }
            let (outcome, appended) = match &command.decision {
                Decision::Append(appends) => {
                    let (result, wrote) = w
                        .append(appends.clone(), recorded_at)
                        .during("append a command's events")?;
                    let appended = result?;
                    written = wrote;
                    (RecordedOutcome::appended(&appended), appended)
                }
                Decision::Outcome(outcome) => (outcome.clone(), Vec::new()),
            };
            let record = command.record(outcome, recorded_at);
            commands::insert(&w.conn, &record).during("record a command")?;
            Ok(CommandWrite::Written { record, appended })
        })?;
        if result.is_err() {
            written = Written::NOTHING;
        }
        Ok((result, written))
    }

    /// Write `events` as given, in order: skip each stored already at its position,
    /// refuse any other that does not continue the log. Run in a savepoint, so a
    /// refusal undoes the events written before it.
    fn import(&mut self, events: &[RecordedEvent]) -> Result<ImportOutcome> {
        let (mut imported, mut skipped) = (0, 0);
        for event in events {
            let position = event.global_position;
            let stored = position <= self.head && self.is_stored(event).during("import events")?;
            if rules::place_import(event, self.head, stored)? == Placement::Skip {
                skipped += 1;
                continue;
            }
            let actual: Option<u64> = self
                .conn
                .prepare_cached("SELECT version FROM streams WHERE partition = ?1 AND stream = ?2")
                .and_then(|mut read| {
                    read.query_row(params![event.partition, event.stream], |row| row.get(0))
                        .optional()
                })
                .during("import events")?;
            rules::continues_stream(event, actual.unwrap_or(0))?;
            // Each event is recorded as an append of its own: the appends that first
            // wrote them are not part of what is imported.
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT INTO events (global_position, partition, stream, category,
                        stream_position, event_id, event_type, data, metadata, recorded_at,
                        append_index, append_size, tags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 1, ?11)",
                )
                .and_then(|mut insert| {
                    insert.execute(params![
                        position,
                        event.partition,
                        event.stream,
                        category(&event.stream),
                        event.stream_position,
                        event.id.as_bytes(),
                        event.event_type,
                        event.data,
                        event.metadata,
                        event.recorded_at,
                        tagged::joined(&event.tags),
                    ])
                });
            if let Err(error) = inserted {
                return Err(self.id_taken(event, error));
            }
            events::insert_tags(&self.conn, position, &event.tags).during("import events")?;
            let sql = if actual.is_some() {
                "UPDATE streams SET version = ?3 WHERE partition = ?1 AND stream = ?2"
            } else {
                "INSERT INTO streams (partition, stream, version) VALUES (?1, ?2, ?3)"
            };
            self.conn
                .prepare_cached(sql)
                .and_then(|mut write| {
                    write.execute(params![
                        event.partition,
                        event.stream,
                        event.stream_position
                    ])
                })
                .during("import events")?;
            self.head = position;
            imported += 1;
        }
        Ok(ImportOutcome {
            imported,
            skipped,
            head: self.head,
        })
    }

    /// Why the insert of `event` failed with `error`: its id is stored already as the
    /// event this names, or the store failed.
    fn id_taken(&self, event: &RecordedEvent, error: rusqlite::Error) -> Error {
        if !is_unique(&error) {
            return failed("import events")(error);
        }
        let stored_at = self
            .conn
            .prepare_cached("SELECT global_position FROM events WHERE event_id = ?1")
            .and_then(|mut lookup| {
                lookup
                    .query_row([event.id.as_bytes()], |row| row.get(0))
                    .optional()
            });
        match stored_at {
            Ok(Some(stored_at)) => Error::ImportIdTaken {
                position: event.global_position,
                event_id: event.id,
                stored_at,
            },
            Ok(None) => failed("import events")(error),
            Err(e) => failed("look up the id of an imported event")(e),
        }
    }

    /// Whether the event stored at `event`'s global position is `event`: the same id,
    /// in the same stream at the same stream position.
    fn is_stored(&self, event: &RecordedEvent) -> rusqlite::Result<bool> {
        let stored = self
            .conn
            .prepare_cached(
                "SELECT event_id, partition, stream, stream_position FROM events
                 WHERE global_position = ?1",
            )?
            .query_row([event.global_position], |row| {
                Ok((
                    row.get::<_, [u8; 16]>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u64>(3)?,
                ))
            })
            .optional()?;
        Ok(
            stored.is_some_and(|(id, partition, stream, stream_position)| {
                id == *event.id.as_bytes()
                    && partition == event.partition
                    && stream == event.stream
                    && stream_position == event.stream_position
            }),
        )
    }
}

/// What a committed append wrote, for the counters.
#[derive(Debug, Clone, Copy)]
struct Written {
    appends: u64,
    events: u64,
}

impl Written {
    /// An exact retry or a refusal writes nothing.
    const NOTHING: Written = Written {
        appends: 0,
        events: 0,
    };
}
