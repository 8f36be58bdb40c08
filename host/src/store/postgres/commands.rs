//! The queries of command records: read one by its id, write one (the committer's,
//! inside the transaction of the command's events, under the log lock).

use super::errors::During;
use super::{int, unsigned};
use crate::store::{CommandRecord, RecordedOutcome};
use deadpool_postgres::GenericClient;
use std::sync::Arc;

/// The record of `command_id` in `partition`, if stored.
pub(super) async fn load(
    client: &impl GenericClient,
    partition: &str,
    command_id: &str,
) -> crate::Result<Option<CommandRecord>> {
    const DOING: &str = "look up a command";
    let row = super::query_opt(
        client,
        "SELECT decider, stream, fingerprint, module_version, attempts, outcome,
                stream_version, first_position, last_position, message, recorded_at
         FROM commands WHERE partition = $1 AND command_id = $2",
        &[&partition, &command_id],
    )
    .await
    .during(DOING)?;
    let Some(row) = row else { return Ok(None) };
    let position = |index: usize| row.get::<_, Option<i64>>(index).map(unsigned);
    let kind: String = row.get(5);
    let outcome =
        RecordedOutcome::from_columns(&kind, position(6), position(7), position(8), row.get(9))
            .ok_or_else(|| crate::Error::Storage {
                operation: DOING,
                source: Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(format!(
                    "the record of command '{command_id}' has outcome '{kind}' with columns that do not fit it"
                ))),
            })?;
    Ok(Some(CommandRecord {
        partition: partition.to_owned(),
        command_id: command_id.to_owned(),
        decider: row.get(0),
        stream: row.get(1),
        fingerprint: row.get(2),
        module_version: unsigned(row.get(3)),
        attempts: u32::try_from(row.get::<_, i64>(4)).unwrap_or(u32::MAX),
        outcome,
        recorded_at: row.get(10),
    }))
}

/// Write `record` (its id not stored yet).
pub(super) async fn insert(
    client: &impl GenericClient,
    record: &CommandRecord,
) -> Result<(), tokio_postgres::Error> {
    let (kind, stream_version, first, last, message) = record.outcome.columns();
    let (stream_version, first, last) = (stream_version.map(int), first.map(int), last.map(int));
    super::execute(
        client,
        "INSERT INTO commands (partition, command_id, decider, stream, fingerprint,
            module_version, attempts, outcome, stream_version, first_position, last_position,
            message, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &record.partition,
            &record.command_id,
            &record.decider,
            &record.stream,
            &record.fingerprint,
            &int(record.module_version),
            &i64::from(record.attempts),
            &kind,
            &stream_version,
            &first,
            &last,
            &message,
            &record.recorded_at,
        ],
    )
    .await
    .map(drop)
}
