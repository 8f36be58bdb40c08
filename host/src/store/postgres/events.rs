//! The event store in PostgreSQL: appends, imports, reads of streams and the log,
//! snapshots.
//!
//! Every append and import takes the log's transaction-scoped advisory lock before it
//! reads the head and inserts, and holds it until its `COMMIT`. PostgreSQL lets
//! concurrent transactions commit in any order, so with positions handed out by a
//! sequence a reader that has seen position 10 could later find a 9 that committed
//! late, and a projection reading after its checkpoint would skip it for good. Under
//! the lock, the transaction that got positions 9 is committed (and visible) before the
//! one after it may even read the head, so the log becomes visible in position order,
//! without gaps. The price is that appends to one database are serialised, across
//! every node; reads never take the lock.

use super::errors::{During, commit_failed, is_unique};
use super::{int, unsigned};
use crate::store::rules::{self, Placement, StoredId};
use crate::store::{
    AppendOutcome, AppendRequest, Direction, ImportOutcome, LogFilter, Query, RecordedEvent,
    Snapshot, category, tagged,
};
use crate::{Error, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The columns [`event`] maps, in its order.
const EVENT_COLUMNS: &str = "global_position, partition, stream, stream_position, event_id, \
                             event_type, data::text, metadata::text, recorded_at, tags";

/// The advisory lock every write of the log holds until it commits: one per schema.
pub(super) const LOG_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('refold.log.' || current_schema()))";

/// Tell the listeners of a channel (`$1`) the new head (`$2`), once committed.
pub(super) const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// The log head as the database has it.
pub(super) const HEAD: &str = "SELECT COALESCE(MAX(global_position), 0) FROM events";

fn event(row: &Row) -> RecordedEvent {
    RecordedEvent {
        global_position: unsigned(row.get(0)),
        partition: row.get(1),
        stream: row.get(2),
        stream_position: unsigned(row.get(3)),
        id: row.get(4),
        event_type: row.get(5),
        data: row.get(6),
        metadata: row.get(7),
        recorded_at: row.get(8),
        tags: tagged::split(row.get(9)),
    }
}

/// The log head, read now.
pub(super) async fn head(client: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    let row = super::query_one(client, HEAD, &[]).await?;
    Ok(unsigned(row.get(0)))
}

/// Why an append attempt did not go through.
pub(super) enum Refusal {
    /// The stream's version did not match; it is at this version.
    Conflict(u64),
    /// The appends' condition failed at the event at this global position.
    Condition(u64),
    /// An insert hit a unique constraint: maybe an event id is stored already.
    Unique(tokio_postgres::Error),
    /// Anything else.
    Failed(Error),
}

/// The stream's version in `client`'s view, or `None` if it has no events.
pub(super) async fn stream_version(
    client: &impl GenericClient,
    partition: &str,
    stream: &str,
) -> Result<Option<u64>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached("SELECT version FROM streams WHERE partition = $1 AND stream = $2")
        .await?;
    Ok(client
        .query_opt(&statement, &[&partition, &stream])
        .await?
        .map(|row| unsigned(row.get(0))))
}

/// Check the stream's version and write the events from global position `first` and
/// the stream's new version, which it gives.
pub(super) async fn try_append(
    tx: &deadpool_postgres::Transaction<'_>,
    request: &AppendRequest,
    first: u64,
    recorded_at: &str,
) -> Result<u64, Refusal> {
    let failed = |e| {
        Refusal::Failed(Error::Storage {
            operation: "append",
            source: std::sync::Arc::new(e),
        })
    };
    let version = stream_version(tx, &request.partition, &request.stream)
        .await
        .map_err(failed)?
        .unwrap_or(0);
    if !rules::accepts(request.expected, version) {
        return Err(Refusal::Conflict(version));
    }
    let size = request.events.len() as u64;
    let ids: Vec<Uuid> = request.events.iter().map(|e| e.id).collect();
    let types: Vec<&str> = request
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    let data: Vec<&str> = request.events.iter().map(|e| e.data.as_str()).collect();
    let metadata: Vec<&str> = request.events.iter().map(|e| e.metadata.as_str()).collect();
    let tags: Vec<Option<String>> = request
        .events
        .iter()
        .map(|e| tagged::joined(&e.tags))
        .collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO events (global_position, partition, stream, category, stream_position,
                event_id, event_type, data, metadata, recorded_at, append_index, append_size,
                tags)
             SELECT $1::bigint + e.i - 1, $2, $3, $4, $5::bigint + e.i - 1, e.id, e.t,
                    e.d::json, e.m::json, $6, e.i - 1, $7, e.g
             FROM unnest($8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[])
                  WITH ORDINALITY AS e(id, t, d, m, g, i)",
        )
        .await
        .map_err(failed)?;
    let params: [&(dyn ToSql + Sync); 12] = [
        &int(first),
        &request.partition,
        &request.stream,
        &category(&request.stream),
        &int(version + 1),
        &recorded_at,
        &int(size),
        &ids,
        &types,
        &data,
        &metadata,
        &tags,
    ];
    if let Err(e) = tx.execute(&insert, &params).await {
        return Err(if is_unique(&e) {
            Refusal::Unique(e)
        } else {
            failed(e)
        });
    }
    insert_tags(tx, first, request.events.iter().map(|e| e.tags.as_slice()))
        .await
        .map_err(failed)?;
    let new_version = version + size;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO streams (partition, stream, version) VALUES ($1, $2, $3)
             ON CONFLICT (partition, stream) DO UPDATE SET version = excluded.version",
        )
        .await
        .map_err(failed)?;
    tx.execute(
        &upsert,
        &[&request.partition, &request.stream, &int(new_version)],
    )
    .await
    .map_err(failed)?;
    Ok(new_version)
}

/// Record the tags of events at the global positions from `first`, in order, in the
/// tag index (their rows hold them already). One statement, none without tags.
async fn insert_tags<'a>(
    client: &impl GenericClient,
    first: u64,
    tags: impl Iterator<Item = &'a [String]>,
) -> Result<(), tokio_postgres::Error> {
    let (mut positions, mut names) = (Vec::new(), Vec::new());
    for (position, tags) in (first..).zip(tags) {
        for tag in tags {
            positions.push(int(position));
            names.push(tag.as_str());
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    super::execute(
        client,
        "INSERT INTO event_tags (tag, global_position)
         SELECT * FROM unnest($1::text[], $2::bigint[])",
        &[&names, &positions],
    )
    .await
    .map(drop)
}

/// The global position of the first event after `after` (in `partition`, if given)
/// that `query` matches, in `client`'s view. The statement is not kept prepared:
/// queries come in as many shapes as clients write them.
pub(super) async fn first_match(
    client: &impl GenericClient,
    query: &Query,
    partition: Option<&str>,
    after: u64,
) -> Result<Option<u64>, tokio_postgres::Error> {
    let select = tagged::first_match(query, partition, int(after), '$');
    let row = client.query_one(&select.sql, &args(&select.args)).await?;
    Ok(row.get::<_, Option<i64>>(0).map(unsigned))
}

/// The values of a statement's placeholders as tokio-postgres binds them.
fn args<'a>(args: &'a [tagged::Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| match arg {
            tagged::Arg::Text(text) => text as &(dyn ToSql + Sync),
            tagged::Arg::Int(int) => int as &(dyn ToSql + Sync),
        })
        .collect()
}

/// The outcome of the original append when `request` is an exact resend of one, `None`
/// when none of its ids is stored, else [`Error::DuplicateEventId`].
pub(super) async fn original_outcome(
    client: &impl GenericClient,
    request: &AppendRequest,
) -> Result<Option<AppendOutcome>> {
    let ids: Vec<Uuid> = request.events.iter().map(|e| e.id).collect();
    let rows = client
        .query(
            "SELECT event_id, global_position, partition, stream, stream_position, append_index,
                    append_size
             FROM events WHERE event_id = ANY($1)",
            &[&ids],
        )
        .await
        .during("look up the ids of an append")?;
    let stored: Vec<Option<StoredId>> = ids
        .iter()
        .map(|id| {
            rows.iter()
                .find(|row| row.get::<_, Uuid>(0) == *id)
                .map(|row| StoredId {
                    position: unsigned(row.get(1)),
                    partition: row.get(2),
                    stream: row.get(3),
                    stream_position: unsigned(row.get(4)),
                    append_index: unsigned(row.get(5)),
                    append_size: unsigned(row.get(6)),
                })
        })
        .collect();
    let Some(first) = rules::resend_of(request, &stored)? else {
        return Ok(None);
    };
    let events = client
        .query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE global_position >= $1 AND global_position < $1 + $2
                 ORDER BY global_position"
            ),
            &[&int(first.position), &int(first.append_size)],
        )
        .await
        .during("read the original append")?
        .iter()
        .map(event)
        .collect();
    Ok(Some(rules::original_outcome(first, events)))
}

/// Write `events` as given, in order, in one transaction under the log lock: skip each
/// stored already at its position, refuse any other that does not continue the log.
pub(super) async fn import(
    client: &mut deadpool_postgres::Client,
    events: &[RecordedEvent],
    channel: &str,
) -> Result<ImportOutcome> {
    const DOING: &str = "import events";
    let tx = client.transaction().await.during(DOING)?;
    super::execute(&tx, LOG_LOCK, &[]).await.during(DOING)?;
    let mut head = head(&tx).await.during(DOING)?;
    let before = head;
    let (mut imported, mut skipped) = (0, 0);
    for event in events {
        let position = event.global_position;
        let stored = position <= head && is_stored(&tx, event).await.during(DOING)?;
        if rules::place_import(event, head, stored)? == Placement::Skip {
            skipped += 1;
            continue;
        }
        let version = stream_version(&tx, &event.partition, &event.stream)
            .await
            .during(DOING)?;
        rules::continues_stream(event, version.unwrap_or(0))?;
        let taken = tx
            .query_opt(
                "SELECT global_position FROM events WHERE event_id = $1",
                &[&event.id],
            )
            .await
            .during("look up the id of an imported event")?;
        if let Some(row) = taken {
            return Err(Error::ImportIdTaken {
                position,
                event_id: event.id,
                stored_at: unsigned(row.get(0)),
            });
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO events (global_position, partition, stream, category,
                    stream_position, event_id, event_type, data, metadata, recorded_at,
                    append_index, append_size, tags)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::json, $9::text::json, $10, 0, 1,
                         $11)",
            )
            .await
            .during(DOING)?;
        tx.execute(
            &insert,
            &[
                &int(position),
                &event.partition,
                &event.stream,
                &category(&event.stream),
                &int(event.stream_position),
                &event.id,
                &event.event_type,
                &event.data,
                &event.metadata,
                &event.recorded_at,
                &tagged::joined(&event.tags),
            ],
        )
        .await
        .during(DOING)?;
        insert_tags(&tx, position, std::iter::once(event.tags.as_slice()))
            .await
            .during(DOING)?;
        tx.execute(
            "INSERT INTO streams (partition, stream, version) VALUES ($1, $2, $3)
             ON CONFLICT (partition, stream) DO UPDATE SET version = excluded.version",
            &[&event.partition, &event.stream, &int(event.stream_position)],
        )
        .await
        .during(DOING)?;
        head = position;
        imported += 1;
    }
    if head != before {
        super::execute(&tx, NOTIFY, &[&channel, &head.to_string()])
            .await
            .during(DOING)?;
    }
    tx.commit().await.map_err(commit_failed)?;
    Ok(ImportOutcome {
        imported,
        skipped,
        head,
    })
}

/// Whether the event stored at `event`'s global position is `event`: the same id, in
/// the same stream at the same stream position.
async fn is_stored(
    client: &impl GenericClient,
    event: &RecordedEvent,
) -> Result<bool, tokio_postgres::Error> {
    let stored = client
        .query_opt(
            "SELECT event_id, partition, stream, stream_position FROM events
             WHERE global_position = $1",
            &[&int(event.global_position)],
        )
        .await?;
    Ok(stored.is_some_and(|row| {
        row.get::<_, Uuid>(0) == event.id
            && row.get::<_, &str>(1) == event.partition
            && row.get::<_, &str>(2) == event.stream
            && unsigned(row.get(3)) == event.stream_position
    }))
}

/// Events of one stream from stream position `from` (inclusive), at most `limit`.
pub(super) async fn read_stream(
    client: &impl GenericClient,
    partition: &str,
    stream: &str,
    from: u64,
    direction: Direction,
    limit: usize,
) -> Result<Vec<RecordedEvent>, tokio_postgres::Error> {
    let sql = match direction {
        Direction::Forward => format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE partition = $1 AND stream = $2 AND stream_position >= $3
             ORDER BY stream_position LIMIT $4"
        ),
        Direction::Backward => format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE partition = $1 AND stream = $2 AND stream_position <= $3
             ORDER BY stream_position DESC LIMIT $4"
        ),
    };
    let statement = client.prepare_cached(&sql).await?;
    let rows = client
        .query(&statement, &[&partition, &stream, &int(from), &int(limit)])
        .await?;
    Ok(rows.iter().map(event).collect())
}

/// Events of the global log after position `after` that pass `filter`, at most `limit`.
pub(super) async fn read_log(
    client: &impl GenericClient,
    after: u64,
    filter: &LogFilter,
    limit: usize,
) -> Result<Vec<RecordedEvent>, tokio_postgres::Error> {
    let after = int(after);
    let limit = int(limit);
    if filter.query.as_ref().is_some_and(|q| !q.matches_all()) {
        // Not kept prepared: queries come in as many shapes as clients write them.
        let select = tagged::read(EVENT_COLUMNS, after, filter, limit, '$');
        let rows = client.query(&select.sql, &args(&select.args)).await?;
        return Ok(rows.iter().map(event).collect());
    }
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE global_position > $1");
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after];
    if let Some(partition) = &filter.partition {
        args.push(partition);
        sql.push_str(&format!(" AND partition = ${}", args.len()));
    }
    if let Some(category) = &filter.category {
        args.push(category);
        sql.push_str(&format!(" AND category = ${}", args.len()));
    }
    match filter.event_types.as_slice() {
        [] => {}
        [one] => {
            args.push(one);
            sql.push_str(&format!(" AND event_type = ${}", args.len()));
        }
        _ => {
            args.push(&filter.event_types);
            sql.push_str(&format!(" AND event_type = ANY(${})", args.len()));
        }
    }
    args.push(&limit);
    sql.push_str(&format!(" ORDER BY global_position LIMIT ${}", args.len()));
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &args).await?;
    Ok(rows.iter().map(event).collect())
}

/// The stored snapshot of a stream made by `module`.
pub(super) async fn load_snapshot(
    client: &impl GenericClient,
    partition: &str,
    stream: &str,
    module: &str,
) -> Result<Option<Snapshot>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT version, state FROM snapshots
             WHERE partition = $1 AND stream = $2 AND module = $3",
            &[&partition, &stream, &module],
        )
        .await?;
    Ok(row.map(|row| Snapshot {
        partition: partition.to_owned(),
        stream: stream.to_owned(),
        module: module.to_owned(),
        version: unsigned(row.get(0)),
        state: row.get(1),
    }))
}

/// Store `snapshot` unless a snapshot of a newer stream version is stored already.
pub(super) async fn save_snapshot(
    client: &impl GenericClient,
    snapshot: &Snapshot,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO snapshots (partition, stream, module, version, state)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (partition, stream, module) DO UPDATE
             SET version = excluded.version, state = excluded.state
             WHERE excluded.version >= snapshots.version",
            &[
                &snapshot.partition,
                &snapshot.stream,
                &snapshot.module,
                &int(snapshot.version),
                &snapshot.state,
            ],
        )
        .await
        .map(drop)
}
