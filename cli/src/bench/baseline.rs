//! The raw-SQLite baselines: the same work as Refold's, written directly with rusqlite
//! and prepared statements, on the same tables and at the same durability.
//!
//! A baseline database is made by opening (and closing) a Refold store on it, so its
//! schema and indexes are exactly the store's; after that only raw statements touch
//! it. These are what "how much does Refold add over SQLite" is measured against.

use super::{Result, Setup, check, verify_error};
use refold::store::EventData;
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use rusqlite::{Connection, TransactionBehavior, params};
use std::path::Path;

/// Every column of an event, as the store's reads select them.
const EVENT_COLUMNS: &str = "global_position, partition, stream, category, stream_position, \
    event_id, event_type, data, metadata, recorded_at, append_index, append_size";

/// A raw connection to `path` in WAL mode at `setup`'s durability, checked to have
/// taken those settings.
pub(super) fn connect(path: &Path, synchronous: Synchronous) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let level = match synchronous {
        Synchronous::Full => ("FULL", 2),
        Synchronous::Normal => ("NORMAL", 1),
    };
    conn.pragma_update(None, "synchronous", level.0)?;
    let journal: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    let observed: i64 = conn.pragma_query_value(None, "synchronous", |row| row.get(0))?;
    check(
        journal == "wal" && observed == level.1,
        "raw-sqlite",
        || {
            format!(
                "the raw connection runs journal_mode={journal}, synchronous={observed}; expected wal, {}",
                level.1
            )
        },
    )?;
    Ok(conn)
}

/// A fresh database at `path` with the store's schema, connected raw.
pub(super) fn fresh(setup: &Setup, path: &Path) -> Result<Connection> {
    drop(SqliteStore::open(
        StoreConfig::new(path).with_synchronous(setup.synchronous),
    )?);
    connect(path, setup.synchronous)
}

/// The time as the store records it.
fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Insert `rows` (stream, version, event) 1,000 per transaction with no version check,
/// the way a bulk loader would (the BULK ceiling).
pub(super) fn insert_bulk(conn: &mut Connection, rows: &[(String, u64, EventData)]) -> Result<()> {
    for (chunk_index, chunk) in rows.chunks(1000).enumerate() {
        let tx = conn.transaction()?;
        let recorded_at = now();
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO events ({EVENT_COLUMNS})
                 VALUES (?1, 'default', ?2, 'cart', ?3, ?4, ?5, ?6, ?7, ?8, 0, 1)"
            ))?;
            for (row, (stream, version, event)) in chunk.iter().enumerate() {
                insert.execute(params![
                    (chunk_index * 1000 + row + 1) as u64,
                    stream,
                    version,
                    event.id.as_bytes(),
                    event.event_type,
                    event.data,
                    event.metadata,
                    recorded_at,
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

/// Append `appends` — (stream, expected version, events) — in one transaction, each
/// only if its stream is at its expected version: what a hand-written event store does
/// per call (read each stream's version, insert its events, move its version).
pub(super) fn append(conn: &mut Connection, appends: &[(&str, u64, &[EventData])]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut position: u64 = tx
        .prepare_cached("SELECT COALESCE(MAX(global_position), 0) FROM events")?
        .query_row([], |row| row.get(0))?;
    let recorded_at = now();
    for &(stream, expected, events) in appends {
        let version: u64 = tx
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM streams WHERE partition = 'default' AND stream = ?1")?
            .query_row([stream], |row| row.get(0))?;
        check(version == expected, "raw-sqlite", || {
            format!("{stream} is at version {version}, expected {expected}")
        })?;
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO events ({EVENT_COLUMNS})
             VALUES (?1, 'default', ?2, 'cart', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?;
        for (index, event) in (0u64..).zip(events) {
            position += 1;
            insert.execute(params![
                position,
                stream,
                expected + 1 + index,
                event.id.as_bytes(),
                event.event_type,
                event.data,
                event.metadata,
                recorded_at,
                index,
                events.len() as u64,
            ])?;
        }
        tx.prepare_cached(
            "INSERT INTO streams (partition, stream, version) VALUES ('default', ?1, ?2)
             ON CONFLICT (partition, stream) DO UPDATE SET version = excluded.version",
        )?
        .execute(params![stream, expected + events.len() as u64])?;
    }
    tx.commit()?;
    Ok(())
}

/// A decision across streams by hand (DCB), in one write transaction: read the type
/// and data of every event carrying either of `tags`, in log order; let `decide` make
/// an event of them; insert it as the first of `stream` with its tags, in its row
/// (joined by U+001F, as the store keeps them) and in the tag index. Nothing can commit
/// between the read and the insert, so no condition is checked.
pub(super) fn conditional_insert(
    conn: &mut Connection,
    stream: &str,
    tags: [&str; 2],
    decide: impl FnOnce(&[(String, String)]) -> Result<EventData>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let read: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT event_type, data FROM events WHERE global_position IN (
                 SELECT global_position FROM event_tags WHERE tag = ?1
                 UNION SELECT global_position FROM event_tags WHERE tag = ?2)
             ORDER BY global_position",
        )?
        .query_map(tags, |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let event = decide(&read)?;
    let position: u64 = tx
        .prepare_cached("SELECT COALESCE(MAX(global_position), 0) + 1 FROM events")?
        .query_row([], |row| row.get(0))?;
    tx.prepare_cached(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}, tags)
         VALUES (?1, 'default', ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, 0, 1, ?9)"
    ))?
    .execute(params![
        position,
        stream,
        refold::store::category(stream),
        event.id.as_bytes(),
        event.event_type,
        event.data,
        event.metadata,
        now(),
        event.tags.join("\u{1f}"),
    ])?;
    let mut index =
        tx.prepare_cached("INSERT INTO event_tags (tag, global_position) VALUES (?1, ?2)")?;
    for tag in &event.tags {
        index.execute(params![tag, position])?;
    }
    drop(index);
    tx.prepare_cached(
        "INSERT INTO streams (partition, stream, version) VALUES ('default', ?1, 1)",
    )?
    .execute([stream])?;
    tx.commit()?;
    Ok(())
}

/// Read every column of `rows` into owned values; returns how many rows there were.
fn read_rows(mut rows: rusqlite::Rows<'_>) -> Result<u64> {
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let event = (
            row.get::<_, u64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, u64>(4)?,
            row.get::<_, Vec<u8>>(5)?,
            row.get::<_, String>(6)?,
            row.get::<_, String>(7)?,
            row.get::<_, String>(8)?,
            row.get::<_, String>(9)?,
            row.get::<_, u64>(10)?,
            row.get::<_, u64>(11)?,
        );
        std::hint::black_box(event);
        count += 1;
    }
    Ok(count)
}

/// Every event of `stream`, every column, in stream order; returns how many.
pub(super) fn read_stream(conn: &Connection, stream: &str) -> Result<u64> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE partition = 'default' AND stream = ?1 ORDER BY stream_position"
    ))?;
    read_rows(statement.query([stream])?)
}

/// Every event of the log, every column, in global order (READ-ALL); returns how many.
pub(super) fn read_all(conn: &Connection) -> Result<u64> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events ORDER BY global_position"
    ))?;
    read_rows(statement.query([])?)
}

/// W5 by hand: the `cart_summary` table of `docs/workloads.md`, maintained from the
/// log 500 events per transaction, each transaction also moving the checkpoint.
pub(super) fn project_cart_summary(conn: &mut Connection, events: u64) -> Result<()> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CartEvent<'a> {
        cart_id: &'a str,
        #[serde(default)]
        quantity: u64,
        #[serde(default)]
        unit_price: u64,
    }
    conn.execute_batch(
        "CREATE TABLE cart_summary (cart_id TEXT PRIMARY KEY, item_count INTEGER NOT NULL,
             total INTEGER NOT NULL, status TEXT NOT NULL);
         CREATE TABLE raw_checkpoint (id INTEGER PRIMARY KEY, position INTEGER NOT NULL);
         INSERT INTO raw_checkpoint VALUES (1, 0);",
    )?;
    let mut checkpoint = 0u64;
    while checkpoint < events {
        let before = checkpoint;
        let tx = conn.transaction()?;
        {
            let mut read = tx.prepare_cached(
                "SELECT global_position, event_type, data FROM events
                 WHERE global_position > ?1 ORDER BY global_position LIMIT 500",
            )?;
            let mut open =
                tx.prepare_cached("INSERT INTO cart_summary VALUES (?1, 0, 0, 'open')")?;
            let mut add = tx.prepare_cached(
                "UPDATE cart_summary SET item_count = item_count + ?2, total = total + ?3
                 WHERE cart_id = ?1",
            )?;
            let mut confirm = tx.prepare_cached(
                "UPDATE cart_summary SET status = 'confirmed' WHERE cart_id = ?1",
            )?;
            let mut rows = read.query([checkpoint])?;
            while let Some(row) = rows.next()? {
                checkpoint = row.get(0)?;
                let event_type = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                let data = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
                let event: CartEvent<'_> = serde_json::from_str(data).map_err(|e| {
                    verify_error(
                        "raw-sqlite W5",
                        format!("unreadable event {checkpoint}: {e}"),
                    )
                })?;
                match event_type {
                    "CartOpened" => open.execute([event.cart_id])?,
                    "ItemAdded" => add.execute(params![
                        event.cart_id,
                        event.quantity,
                        event.quantity * event.unit_price
                    ])?,
                    "CartConfirmed" => confirm.execute([event.cart_id])?,
                    _ => 0,
                };
            }
        }
        tx.execute("UPDATE raw_checkpoint SET position = ?1", [checkpoint])?;
        tx.commit()?;
        if checkpoint == before {
            break;
        }
    }
    Ok(())
}

/// The rows, Σ item_count, Σ total and confirmed rows of the raw `cart_summary` table.
pub(super) fn cart_summary_sums(conn: &Connection) -> Result<(u64, u64, u64, u64)> {
    Ok(conn.query_row(
        "SELECT COUNT(*), SUM(item_count), SUM(total), SUM(status = 'confirmed') FROM cart_summary",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )?)
}
