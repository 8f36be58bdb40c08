//! The queries of command records: read one by its id, write one (the writer's, inside
//! the transaction of the command's events).

use crate::store::{CommandRecord, RecordedOutcome};
use rusqlite::{Connection, OptionalExtension, params};

/// The record of `command_id` in `partition`, if stored.
pub(super) fn load(
    conn: &Connection,
    partition: &str,
    command_id: &str,
) -> rusqlite::Result<Option<CommandRecord>> {
    conn.prepare_cached(
        "SELECT decider, stream, fingerprint, module_version, attempts, outcome,
                stream_version, first_position, last_position, message, recorded_at
         FROM commands WHERE partition = ?1 AND command_id = ?2",
    )?
    .query_row(params![partition, command_id], |row| {
        let kind: String = row.get(5)?;
        let outcome = RecordedOutcome::from_columns(
            &kind,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
            row.get(9)?,
        )
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("a command record of outcome '{kind}' with columns that do not fit it")
                    .into(),
            )
        })?;
        Ok(CommandRecord {
            partition: partition.to_owned(),
            command_id: command_id.to_owned(),
            decider: row.get(0)?,
            stream: row.get(1)?,
            fingerprint: row.get(2)?,
            module_version: row.get(3)?,
            attempts: row.get(4)?,
            outcome,
            recorded_at: row.get(10)?,
        })
    })
    .optional()
}

/// Write `record` (its id not stored yet).
pub(super) fn insert(conn: &Connection, record: &CommandRecord) -> rusqlite::Result<()> {
    let (kind, stream_version, first, last, message) = record.outcome.columns();
    conn.prepare_cached(
        "INSERT INTO commands (partition, command_id, decider, stream, fingerprint,
            module_version, attempts, outcome, stream_version, first_position, last_position,
            message, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        record.partition,
        record.command_id,
        record.decider,
        record.stream,
        record.fingerprint,
        record.module_version,
        record.attempts,
        kind,
        stream_version,
        first,
        last,
        message,
        record.recorded_at,
    ])
    .map(drop)
}
