//! Node-local group commit of appends.
//!
//! Appends to one database are serialised by the log lock (see `events`), so what a node
//! can do is hold it for as little as possible per append: one task per store takes
//! every append waiting at that moment and writes them in one transaction, one lock and
//! one `COMMIT` for the group, each append in its own savepoint so a conflict or a
//! reused event id fails that append alone. An append alone skips the savepoint.
//! Callers hear back only after `COMMIT` returned; the head watch moves right then.
//!
//! Command records are written here too, each with its command's events, so that the
//! look-up of a command's id and the write of its record happen under the log lock:
//! two nodes racing to record one id take turns, and the second finds the first's.

use super::events::{self, LOG_LOCK, NOTIFY, Refusal};
use super::{commands, listen};
use crate::store::counters::Counters;
use crate::store::rules::{self, AppendRefusal};
use crate::store::{
    AppendCondition, AppendOutcome, AppendRequest, Appends, CommandWrite, Decision, NewCommand,
    RecordedOutcome,
};
use crate::{Error, Result};
use deadpool_postgres::Pool;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot, watch};

/// The most appends one group takes.
const MAX_GROUP: usize = 256;

/// A write waiting for the committer.
pub(super) enum Pending {
    /// One `append_all` (already checked by `validate`).
    Append {
        /// The appends, all or nothing, and their condition.
        appends: Appends,
        /// Where the outcomes go.
        reply: oneshot::Sender<Result<Vec<AppendOutcome>>>,
    },
    /// One `record_command` (its appends already checked by `validate`).
    Command {
        /// The record and its decision.
        command: Box<NewCommand>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<CommandWrite>>,
    },
}

impl Pending {
    /// Tell the caller the group's transaction failed.
    fn fail(self, failure: &GroupFailure) {
        match self {
            Pending::Append { reply, .. } => drop(reply.send(Err(failure.error()))),
            Pending::Command { reply, .. } => drop(reply.send(Err(failure.error()))),
        }
    }
}

/// What the committer shares with its store.
pub(super) struct Shared {
    /// Connections.
    pub(super) pool: Pool,
    /// The store's notification channel.
    pub(super) channel: String,
    /// The head watch.
    pub(super) head: Arc<watch::Sender<u64>>,
    /// The store's counters.
    pub(super) counters: Arc<Counters>,
}

/// Commit the appends of `jobs` in groups until every sender is gone; appends sent
/// before the store dropped are still committed.
pub(super) async fn run(shared: Shared, mut jobs: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP
            && let Ok(more) = jobs.try_recv()
        {
            group.push(more);
        }
        shared
            .counters
            .writes_grouped
            .fetch_add(group.len() as u64, Release);
        shared.counters.grouped(group.len());
        commit_group(&shared, group).await;
    }
}

/// How one `append_all` went inside the transaction: each stream's new version and
/// first position, or the index of the request refused (0 for the condition), why,
/// and the log head it was refused at.
type Appended = Result<Vec<(u64, u64)>, (usize, Refusal, u64)>;

/// How one write of a group went inside the transaction.
enum Attempt {
    /// An `append_all`, its refusal resolved after the transaction.
    Append(Appended),
    /// A command record, resolved inside the transaction, and how many appends and
    /// events it wrote.
    Command(Result<CommandWrite>, (u64, u64)),
}

/// What a group's transaction did.
struct GroupWritten {
    /// Each write's attempt, in the group's order.
    attempts: Vec<Attempt>,
    /// Whether it committed (it rolls back when it wrote nothing).
    committed: bool,
    /// The new head, when it wrote events.
    head: Option<u64>,
}

/// Why a group's transaction failed as a whole.
struct GroupFailure {
    /// `COMMIT` itself failed (else an earlier statement of the group did).
    at_commit: bool,
    cause: Arc<dyn std::error::Error + Send + Sync>,
}

impl GroupFailure {
    fn error(&self) -> Error {
        if self.at_commit {
            Error::CommitFailed {
                source: Arc::clone(&self.cause),
            }
        } else {
            Error::Storage {
                operation: "append",
                source: Arc::clone(&self.cause),
            }
        }
    }
}

/// Write `group` in one transaction, then answer each write.
async fn commit_group(shared: &Shared, group: Vec<Pending>) {
    let recorded_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let mut client = match shared.pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let failure = GroupFailure {
                at_commit: false,
                cause: Arc::new(error),
            };
            group.into_iter().for_each(|job| job.fail(&failure));
            return;
        }
    };
    let written = write_group(shared, &mut client, &group, &recorded_at).await;
    let attempts = match written {
        Ok(written) => {
            if written.committed {
                shared.counters.commits.fetch_add(1, Relaxed);
            }
            if let Some(head) = written.head {
                listen::advance(&shared.head, head);
            }
            written.attempts
        }
        Err(failure) => {
            tracing::error!(error = %failure.cause, "a group of appends failed as a whole");
            group.into_iter().for_each(|job| job.fail(&failure));
            return;
        }
    };
    let counters = &shared.counters;
    for (job, attempt) in group.into_iter().zip(attempts) {
        match (job, attempt) {
            (Pending::Append { appends, reply }, Attempt::Append(attempt)) => {
                let Appends {
                    appends: requests,
                    condition,
                } = appends;
                let answer = match attempt {
                    Ok(written) => {
                        counters.appends.fetch_add(requests.len() as u64, Relaxed);
                        let events: u64 = requests.iter().map(|r| r.events.len() as u64).sum();
                        counters.events_appended.fetch_add(events, Relaxed);
                        Ok(recorded(requests, written, &recorded_at))
                    }
                    Err((index, refusal, head)) => {
                        let after = condition.and_then(|c| c.after);
                        let refusal = Refused {
                            index,
                            refusal,
                            after,
                            head,
                        };
                        refused(counters, &client, requests, refusal).await
                    }
                };
                // A caller that stopped waiting has nobody to tell; its append stands.
                drop(reply.send(answer));
            }
            (Pending::Command { reply, .. }, Attempt::Command(answer, (appends, events))) => {
                counters.appends.fetch_add(appends, Relaxed);
                counters.events_appended.fetch_add(events, Relaxed);
                drop(reply.send(answer));
            }
            _ => unreachable!("write_group gives each write an attempt of its own kind"),
        }
    }
}

/// The outcomes of `requests` written as `written` says (each stream's new version and
/// first position).
fn recorded(
    requests: Vec<AppendRequest>,
    written: Vec<(u64, u64)>,
    recorded_at: &str,
) -> Vec<AppendOutcome> {
    requests
        .into_iter()
        .zip(written)
        .map(|(request, (version, first))| rules::recorded(request, version, first, recorded_at))
        .collect()
}

/// The group's transaction: every write in order, under the log lock; the attempts,
/// whether it committed, and the new head when it wrote events.
async fn write_group(
    shared: &Shared,
    client: &mut deadpool_postgres::Client,
    group: &[Pending],
    recorded_at: &str,
) -> Result<GroupWritten, GroupFailure> {
    let tx = client.transaction().await.map_err(failed)?;
    super::execute(&tx, LOG_LOCK, &[]).await.map_err(failed)?;
    let head = events::head(&tx).await.map_err(failed)?;
    let grouped = group.len() > 1;
    let mut next = head + 1;
    let mut records = false;
    let mut attempts = Vec::with_capacity(group.len());
    for job in group {
        let attempt = match job {
            Pending::Append { appends, .. } => {
                Attempt::Append(append(&tx, appends, &mut next, grouped, recorded_at).await?)
            }
            Pending::Command { command, .. } => {
                let (answer, written) =
                    record(&shared.counters, &tx, command, &mut next, recorded_at).await?;
                records |= matches!(answer, Ok(CommandWrite::Written { .. }));
                Attempt::Command(answer, written)
            }
        };
        attempts.push(attempt);
    }
    if next == head + 1 && !records {
        tx.rollback().await.map_err(failed)?;
        return Ok(GroupWritten {
            attempts,
            committed: false,
            head: None,
        });
    }
    let new_head = (next != head + 1).then(|| next - 1);
    if let Some(head) = new_head {
        super::execute(&tx, NOTIFY, &[&shared.channel, &head.to_string()])
            .await
            .map_err(failed)?;
    }
    tx.commit().await.map_err(|error| GroupFailure {
        at_commit: true,
        cause: Arc::new(error),
    })?;
    Ok(GroupWritten {
        attempts,
        committed: true,
        head: new_head,
    })
}

/// A statement of the group's transaction failed: the transaction is lost.
fn failed(error: tokio_postgres::Error) -> GroupFailure {
    GroupFailure {
        at_commit: false,
        cause: Arc::new(error),
    }
}

/// Check the condition of one `append_all`, then write its appends from global
/// position `next` (moved past them), all or nothing; in a savepoint of its own when
/// `savepoint` says so, else the caller undoes a refusal.
async fn append(
    tx: &deadpool_postgres::Transaction<'_>,
    appends: &Appends,
    next: &mut u64,
    savepoint: bool,
    recorded_at: &str,
) -> Result<Appended, GroupFailure> {
    if savepoint {
        super::execute(tx, "SAVEPOINT append", &[])
            .await
            .map_err(failed)?;
    }
    let start = *next;
    let requests = &appends.appends;
    let mut written = Vec::with_capacity(requests.len());
    let mut refusal = match &appends.condition {
        Some(condition) => check_condition(tx, condition)
            .await
            .map_err(failed)?
            .map(|position| (0, Refusal::Condition(position))),
        None => None,
    };
    for (index, request) in requests.iter().enumerate() {
        if refusal.is_some() {
            break;
        }
        match events::try_append(tx, request, *next, recorded_at).await {
            Ok(version) => {
                written.push((version, *next));
                *next += request.events.len() as u64;
            }
            Err(refused) => {
                refusal = Some((index, refused));
                break;
            }
        }
    }
    if refusal.is_some() {
        *next = start;
        if savepoint {
            super::execute(tx, "ROLLBACK TO SAVEPOINT append", &[])
                .await
                .map_err(failed)?;
        }
    }
    if savepoint {
        super::execute(tx, "RELEASE SAVEPOINT append", &[])
            .await
            .map_err(failed)?;
    }
    Ok(match refusal {
        None => Ok(written),
        Some((index, refusal)) => Err((index, refusal, start - 1)),
    })
}

/// Record `command` and append its events from global position `next` (moved past
/// them), in a savepoint, all or nothing; unless its id is recorded already: then the
/// stored record, and nothing written. A refused append is resolved here, inside the
/// transaction: an exact resend of events stored already is recorded with them. Gives
/// the answer, and how many appends and events were written.
async fn record(
    counters: &Counters,
    tx: &deadpool_postgres::Transaction<'_>,
    command: &NewCommand,
    next: &mut u64,
    recorded_at: &str,
) -> Result<(Result<CommandWrite>, (u64, u64)), GroupFailure> {
    let found = commands::load(tx, &command.partition, &command.command_id)
        .await
        .map_err(|error| GroupFailure {
            at_commit: false,
            cause: Arc::new(error),
        })?;
    if let Some(found) = found {
        return Ok((Ok(CommandWrite::Found(found)), (0, 0)));
    }
    super::execute(tx, "SAVEPOINT command", &[])
        .await
        .map_err(failed)?;
    let (outcome, appended, written) = match &command.decision {
        Decision::Outcome(outcome) => (outcome.clone(), Vec::new(), (0, 0)),
        Decision::Append(appends) => match append(tx, appends, next, false, recorded_at).await? {
            Ok(written) => {
                let requests = &appends.appends;
                let events = requests.iter().map(|r| r.events.len() as u64).sum();
                let appended = recorded(requests.clone(), written, recorded_at);
                let written = (requests.len() as u64, events);
                (RecordedOutcome::appended(&appended), appended, written)
            }
            Err((index, refusal, head)) => {
                super::execute(tx, "ROLLBACK TO SAVEPOINT command", &[])
                    .await
                    .map_err(failed)?;
                let refusal = Refused {
                    index,
                    refusal,
                    after: appends.condition.as_ref().and_then(|c| c.after),
                    head,
                };
                match refused(counters, tx, appends.appends.clone(), refusal).await {
                    Ok(originals) => (RecordedOutcome::appended(&originals), originals, (0, 0)),
                    Err(refused) => {
                        super::execute(tx, "RELEASE SAVEPOINT command", &[])
                            .await
                            .map_err(failed)?;
                        return Ok((Err(refused), (0, 0)));
                    }
                }
            }
        },
    };
    let record = command.record(outcome, recorded_at);
    commands::insert(tx, &record).await.map_err(failed)?;
    super::execute(tx, "RELEASE SAVEPOINT command", &[])
        .await
        .map_err(failed)?;
    Ok((Ok(CommandWrite::Written { record, appended }), written))
}

/// Whether `condition` refuses an append: the position of the first event after its
/// position that its query matches. Under the log lock, every append committed before
/// counts, and inside the group's transaction so do the group's appends before it.
async fn check_condition(
    tx: &deadpool_postgres::Transaction<'_>,
    condition: &AppendCondition,
) -> Result<Option<u64>, tokio_postgres::Error> {
    events::first_match(
        tx,
        &condition.fail_if_events_match,
        condition.partition.as_deref(),
        condition.after.unwrap_or(0),
    )
    .await
}

/// Why one `append_all` of a group was refused (and rolled back).
struct Refused {
    /// The request refused (0 for the condition).
    index: usize,
    refusal: Refusal,
    /// The condition's position, if it has one.
    after: Option<u64>,
    /// The log head when it was refused.
    head: u64,
}

/// The answer to appends refused (and rolled back): the original outcomes when every
/// request is an exact resend, else why they were refused.
async fn refused(
    counters: &Counters,
    client: &impl deadpool_postgres::GenericClient,
    requests: Vec<AppendRequest>,
    refused: Refused,
) -> Result<Vec<AppendOutcome>> {
    let Refused {
        index,
        refusal,
        after,
        head,
    } = refused;
    let refusal = match refusal {
        Refusal::Conflict(actual) => AppendRefusal::Conflict(actual),
        Refusal::Condition(position) => AppendRefusal::Condition {
            position,
            after,
            head,
        },
        Refusal::Unique(e) => AppendRefusal::Failed(Error::Storage {
            operation: "append",
            source: Arc::new(e),
        }),
        Refusal::Failed(e) => return Err(e),
    };
    let mut originals = Vec::with_capacity(requests.len());
    for request in &requests {
        originals.push(events::original_outcome(client, request).await?);
    }
    let conflict = matches!(
        refusal,
        AppendRefusal::Conflict(_) | AppendRefusal::Condition { .. }
    );
    if conflict && originals.iter().any(Option::is_none) {
        counters.conflicts.fetch_add(1, Relaxed);
    }
    rules::refused_appends(requests, index, refusal, originals)
}
