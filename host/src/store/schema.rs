//! The event store's tables, how connections to them are set up, and the migrations
//! that create and upgrade them.
//!
//! The engine owns its schema: opening a file brings it to the newest version this build
//! knows, one migration step at a time inside one transaction, and a file written by a
//! newer build is refused ([`Error::SchemaTooNew`]) rather than misread. Versions live in
//! the `refold_schema` table, one row per component, so other parts of the engine (read
//! models in the same file) can version their own tables without touching the store's.

use super::sqlite::{StoreConfig, Synchronous};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// The store's row in `refold_schema`.
const COMPONENT: &str = "store";

/// Each entry upgrades the store's tables by one version: entry 0 makes version 1.
///
/// `category` is the stream id up to its first `-`, kept as a column so category
/// filters can use an index. `append_index`/`append_size` place each event in the append
/// that wrote it, which is what tells an exact retry from a reused event id.
const MIGRATIONS: &[&str] = &["
CREATE TABLE streams (
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (partition, stream)
) WITHOUT ROWID;

CREATE TABLE events (
    global_position INTEGER PRIMARY KEY,
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    category TEXT NOT NULL,
    stream_position INTEGER NOT NULL,
    event_id BLOB NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    append_index INTEGER NOT NULL,
    append_size INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_by_stream ON events (partition, stream, stream_position);
CREATE INDEX events_by_type ON events (event_type, global_position);
CREATE INDEX events_by_category ON events (category, global_position);
CREATE INDEX events_by_partition ON events (partition, global_position);

CREATE TABLE snapshots (
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    module TEXT NOT NULL,
    version INTEGER NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (partition, stream, module)
) WITHOUT ROWID;
"];

/// Open a connection to the store's file with the store's settings: WAL journal, the
/// configured `synchronous` level and busy timeout.
pub(crate) fn connect(config: &StoreConfig) -> Result<Connection> {
    let conn = Connection::open(&config.path)?;
    conn.busy_timeout(config.busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match config.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(conn)
}

/// Bring the store's tables to the newest version, or refuse a file that is newer.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate_component(conn, path, COMPONENT, MIGRATIONS)
}

/// Bring the tables of one part of the engine (`component`, its row in `refold_schema`)
/// to the newest version of `migrations` (entry 0 makes version 1), in one transaction,
/// or refuse a file that is newer. Read models in the same file version their tables
/// with this too.
pub(crate) fn migrate_component(
    conn: &mut Connection,
    path: &Path,
    component: &str,
    migrations: &[&str],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS refold_schema (
            component TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        ) WITHOUT ROWID;",
    )?;
    let found: i64 = tx
        .query_row(
            "SELECT version FROM refold_schema WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let supported = migrations.len();
    let applied = usize::try_from(found).unwrap_or(0);
    if applied > supported {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: i64::try_from(supported).unwrap_or(i64::MAX),
        });
    }
    if applied == supported {
        return Ok(());
    }
    for step in &migrations[applied..] {
        tx.execute_batch(step)?;
    }
    tx.execute(
        "INSERT INTO refold_schema (component, version) VALUES (?1, ?2)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        rusqlite::params![component, supported],
    )?;
    tx.commit()?;
    Ok(())
}
