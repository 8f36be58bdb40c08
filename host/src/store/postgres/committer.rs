//! Node-local group commit of appends.
//!
//! Appends to one database are serialised by the log lock (see `events`), so what a node
//! can do is hold it for as little as possible per append: one task per store takes
//! every append waiting at that moment and writes them in one transaction, one lock and
//! one `COMMIT` for the group, each append in its own savepoint so a conflict or a
//! reused event id fails that append alone. An append alone skips the savepoint.
//! Callers hear back only after `COMMIT` returned; the head watch moves right then.

use super::events::{self, LOG_LOCK, NOTIFY, Refusal};
use super::listen;
use crate::store::counters::Counters;
use crate::store::rules::{self, AppendRefusal};
use crate::store::{AppendCondition, AppendOutcome, AppendRequest, Appends};
use crate::{Error, Result};
use deadpool_postgres::Pool;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot, watch};

/// The most appends one group takes.
const MAX_GROUP: usize = 256;

/// One `append_all` waiting for the committer (already checked by `validate`).
pub(super) struct Pending {
    /// The appends, all or nothing, and their condition.
    pub(super) appends: Appends,
    /// Where the outcomes go.
    pub(super) reply: oneshot::Sender<Result<Vec<AppendOutcome>>>,
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
        commit_group(&shared, group).await;
    }
}

/// How one append of a group went inside the transaction: each stream's new version
/// and first position, or the index of the request refused (0 for the condition), why,
/// and the log head it was refused at.
type Attempt = Result<Vec<(u64, u64)>, (usize, Refusal, u64)>;

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

/// Write `group` in one transaction, then answer each append.
async fn commit_group(shared: &Shared, group: Vec<Pending>) {
    let recorded_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let mut client = match shared.pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let failure = GroupFailure {
                at_commit: false,
                cause: Arc::new(error),
            };
            for job in group {
                drop(job.reply.send(Err(failure.error())));
            }
            return;
        }
    };
    let written = write_group(&mut client, &group, &recorded_at, &shared.channel).await;
    let attempts = match written {
        Ok((attempts, head)) => {
            if let Some(head) = head {
                shared.counters.commits.fetch_add(1, Relaxed);
                listen::advance(&shared.head, head);
            }
            attempts
        }
        Err(failure) => {
            tracing::error!(error = %failure.cause, "a group of appends failed as a whole");
            for job in group {
                drop(job.reply.send(Err(failure.error())));
            }
            return;
        }
    };
    for (job, attempt) in group.into_iter().zip(attempts) {
        let Appends {
            appends: requests,
            condition,
        } = job.appends;
        let answer = match attempt {
            Ok(written) => {
                let counters = &shared.counters;
                counters.appends.fetch_add(requests.len() as u64, Relaxed);
                let events: u64 = requests.iter().map(|r| r.events.len() as u64).sum();
                counters.events_appended.fetch_add(events, Relaxed);
                Ok(requests
                    .into_iter()
                    .zip(written)
                    .map(|(request, (version, first))| {
                        rules::recorded(request, version, first, &recorded_at)
                    })
                    .collect())
            }
            Err((index, refusal, head)) => {
                let after = condition.and_then(|c| c.after);
                let refusal = Refused {
                    index,
                    refusal,
                    after,
                    head,
                };
                refused(shared, &client, requests, refusal).await
            }
        };
        // A caller that stopped waiting has nobody to tell; its append stands.
        drop(job.reply.send(answer));
    }
}

/// The group's transaction: every append in order, under the log lock; the attempts
/// and the new head when something was written (then committed).
async fn write_group(
    client: &mut deadpool_postgres::Client,
    group: &[Pending],
    recorded_at: &str,
    channel: &str,
) -> Result<(Vec<Attempt>, Option<u64>), GroupFailure> {
    let failed = |error: tokio_postgres::Error| GroupFailure {
        at_commit: false,
        cause: Arc::new(error),
    };
    let tx = client.transaction().await.map_err(failed)?;
    super::execute(&tx, LOG_LOCK, &[]).await.map_err(failed)?;
    let head = events::head(&tx).await.map_err(failed)?;
    let grouped = group.len() > 1;
    let mut next = head + 1;
    let mut attempts = Vec::with_capacity(group.len());
    for job in group {
        if grouped {
            super::execute(&tx, "SAVEPOINT append", &[])
                .await
                .map_err(failed)?;
        }
        let start = next;
        let requests = &job.appends.appends;
        let mut written = Vec::with_capacity(requests.len());
        let mut refusal = match &job.appends.condition {
            Some(condition) => check_condition(&tx, condition)
                .await
                .map_err(failed)?
                .map(|position| (0, Refusal::Condition(position))),
            None => None,
        };
        for (index, request) in requests.iter().enumerate() {
            if refusal.is_some() {
                break;
            }
            match events::try_append(&tx, request, next, recorded_at).await {
                Ok(version) => {
                    written.push((version, next));
                    next += request.events.len() as u64;
                }
                Err(refused) => {
                    refusal = Some((index, refused));
                    break;
                }
            }
        }
        if refusal.is_some() {
            next = start;
            if grouped {
                super::execute(&tx, "ROLLBACK TO SAVEPOINT append", &[])
                    .await
                    .map_err(failed)?;
            }
        }
        if grouped {
            super::execute(&tx, "RELEASE SAVEPOINT append", &[])
                .await
                .map_err(failed)?;
        }
        attempts.push(match refusal {
            None => Ok(written),
            Some((index, refusal)) => Err((index, refusal, start - 1)),
        });
    }
    if next == head + 1 {
        tx.rollback().await.map_err(failed)?;
        return Ok((attempts, None));
    }
    let head = next - 1;
    super::execute(&tx, NOTIFY, &[&channel, &head.to_string()])
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(|error| GroupFailure {
        at_commit: true,
        cause: Arc::new(error),
    })?;
    Ok((attempts, Some(head)))
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
    shared: &Shared,
    client: &deadpool_postgres::Client,
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
        shared.counters.conflicts.fetch_add(1, Relaxed);
    }
    rules::refused_appends(requests, index, refusal, originals)
}
