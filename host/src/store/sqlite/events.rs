//! The event store's queries besides appends (those are the writer's): reads of streams
//! and the log, the head, snapshots.
//!
//! Each read is one `SELECT`, so it sees one consistent moment of the log. The queries
//! are shaped for the indexes made in [`schema`](super::schema).

use super::{Direction, LogFilter, Query, RecordedEvent, Snapshot, tagged};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

/// The columns [`event`] maps, in its order.
pub(super) const EVENT_COLUMNS: &str = "global_position, partition, stream, stream_position, event_id, \
                             event_type, data, metadata, recorded_at, tags";

/// An SQL integer for a position or limit; values past `i64::MAX` mean "no bound".
fn bound<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

pub(super) fn event(row: &Row<'_>) -> rusqlite::Result<RecordedEvent> {
    let id: [u8; 16] = row.get(4)?;
    Ok(RecordedEvent {
        global_position: row.get(0)?,
        partition: row.get(1)?,
        stream: row.get(2)?,
        stream_position: row.get(3)?,
        id: Uuid::from_bytes(id),
        event_type: row.get(5)?,
        data: row.get(6)?,
        metadata: row.get(7)?,
        recorded_at: row.get(8)?,
        tags: tagged::split(row.get(9)?),
    })
}

/// Events of one stream from stream position `from` (inclusive), at most `limit`.
pub(super) fn read_stream(
    conn: &Connection,
    partition: &str,
    stream: &str,
    from: u64,
    direction: Direction,
    limit: usize,
) -> rusqlite::Result<Vec<RecordedEvent>> {
    let sql = match direction {
        Direction::Forward => format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE partition = ?1 AND stream = ?2 AND stream_position >= ?3
             ORDER BY stream_position LIMIT ?4"
        ),
        Direction::Backward => format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE partition = ?1 AND stream = ?2 AND stream_position <= ?3
             ORDER BY stream_position DESC LIMIT ?4"
        ),
    };
    let mut statement = conn.prepare_cached(&sql)?;
    statement
        .query_map(params![partition, stream, bound(from), bound(limit)], event)?
        .collect()
}

/// Events of the global log after position `after` that pass `filter`, at most `limit`.
pub(super) fn read_log(
    conn: &Connection,
    after: u64,
    filter: &LogFilter,
    limit: usize,
) -> rusqlite::Result<Vec<RecordedEvent>> {
    let after = bound(after);
    let limit = bound(limit);
    if filter.query.as_ref().is_some_and(|q| !q.matches_all()) {
        let select = tagged::read(EVENT_COLUMNS, after, filter, limit, '?');
        let mut statement = conn.prepare_cached(&select.sql)?;
        return statement
            .query_map(args(&select.args).as_slice(), event)?
            .collect();
    }
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ?");
    let mut args: Vec<&dyn ToSql> = vec![&after];
    if let Some(partition) = &filter.partition {
        sql.push_str(" AND partition = ?");
        args.push(partition);
    }
    if let Some(category) = &filter.category {
        sql.push_str(" AND category = ?");
        args.push(category);
    }
    match filter.event_types.as_slice() {
        [] => {}
        [one] => {
            // The (event_type, global_position) index serves one type in log order.
            sql.push_str(" AND event_type = ?");
            args.push(one);
        }
        many => {
            // With several types the type index would need a sort of every match after
            // `after`; walking the log in order and filtering stops at `limit` instead.
            sql.push_str(" AND +event_type IN (?");
            sql.push_str(&", ?".repeat(many.len() - 1));
            sql.push(')');
            args.extend(many.iter().map(|t| t as &dyn ToSql));
        }
    }
    sql.push_str(" ORDER BY global_position LIMIT ?");
    args.push(&limit);
    let mut statement = conn.prepare_cached(&sql)?;
    statement.query_map(args.as_slice(), event)?.collect()
}

/// The values of a statement's placeholders as rusqlite binds them.
fn args<'a>(args: &'a [tagged::Arg<'a>]) -> Vec<&'a dyn ToSql> {
    args.iter()
        .map(|arg| match arg {
            tagged::Arg::Text(text) => text as &dyn ToSql,
            tagged::Arg::Int(int) => int as &dyn ToSql,
        })
        .collect()
}

/// The global position of the first event after `after` (in `partition`, if given)
/// that `query` matches.
pub(super) fn first_match(
    conn: &Connection,
    query: &Query,
    partition: Option<&str>,
    after: u64,
) -> rusqlite::Result<Option<u64>> {
    let select = tagged::first_match(query, partition, bound(after), '?');
    conn.prepare_cached(&select.sql)?
        .query_row(args(&select.args).as_slice(), |row| row.get(0))
}

/// Record the tags of the event at `position` in the tag index (its row holds them
/// already).
pub(super) fn insert_tags(
    conn: &Connection,
    position: u64,
    tags: &[String],
) -> rusqlite::Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT INTO event_tags (tag, global_position) VALUES (?1, ?2)")?;
    for tag in tags {
        insert.execute(params![tag, position])?;
    }
    Ok(())
}

/// The stream's version, or `None` if it has no events.
pub(super) fn stream_version(
    conn: &Connection,
    partition: &str,
    stream: &str,
) -> rusqlite::Result<Option<u64>> {
    conn.prepare_cached("SELECT version FROM streams WHERE partition = ?1 AND stream = ?2")?
        .query_row(params![partition, stream], |row| row.get(0))
        .optional()
}

/// The stored snapshot of a stream made by `module`.
pub(super) fn load_snapshot(
    conn: &Connection,
    partition: &str,
    stream: &str,
    module: &str,
) -> rusqlite::Result<Option<Snapshot>> {
    conn.prepare_cached(
        "SELECT version, state FROM snapshots WHERE partition = ?1 AND stream = ?2 AND module = ?3",
    )?
    .query_row(params![partition, stream, module], |row| {
        Ok(Snapshot {
            partition: partition.to_owned(),
            stream: stream.to_owned(),
            module: module.to_owned(),
            version: row.get(0)?,
            state: row.get(1)?,
        })
    })
    .optional()
}

/// The log head as the database has it.
pub(super) fn load_head(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COALESCE(MAX(global_position), 0) FROM events",
        [],
        |row| row.get(0),
    )
}

/// Store `snapshot` unless a snapshot of a newer stream version is stored already.
pub(super) fn save_snapshot(conn: &Connection, snapshot: &Snapshot) -> rusqlite::Result<()> {
    conn.prepare_cached(
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
    ])
    .map(drop)
}
