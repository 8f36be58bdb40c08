//! The tables of a Refold database, how connections to them are set up, and the
//! migrations that create and upgrade them.
//!
//! The engine owns its schema: opening a file brings it to the newest version this build
//! knows, one migration step at a time inside one transaction, and a file written by a
//! newer build is refused ([`Error::SchemaTooNew`]) rather than misread. Versions live in
//! the `refold_schema` table, one row per component (`store`, `projections`, `modules`,
//! `leases`, `commands`), so each part's tables are versioned on their own.
//!
//! - `streams`, `events`, `snapshots`: the event store. `category` is the stream id up
//!   to its first `-`, kept as a column so category filters can use an index.
//!   `append_index`/`append_size` place each event in the append that wrote it, which
//!   is what tells an exact retry from a reused event id. `tags` holds an event's tags
//!   as appended (joined by U+001F; `NULL` for none).
//! - `event_tags`: one row per tag of an event, keyed (tag, global position): the
//!   B-tree that query reads and append conditions seek (version 2 of `store`).
//! - `projections`: one row per projection: its failure policy, the generation queries
//!   read (`active_generation`) and the last generation number handed out (numbers are
//!   never reused, so a stopped build can never write into a newer one).
//! - `projection_generations`: one row per generation being kept: the module version
//!   that builds it, its checkpoint, and the fault that stopped it, if any. Two rows
//!   exist while a new version is rebuilt beside the active one.
//! - `projection_skipped`: events a `skip` projection could not apply, with the error.
//! - `projection_documents`: the documents, keyed by projection, generation, partition,
//!   collection and id; listing a collection walks the primary key in id order.
//! - `module_blobs`, `modules`, `snapshot_projections`: deployed components (bytes once
//!   per hash), every deploy, and the snapshot projections to run.
//! - `leases`: who holds each lease, until when, and its fencing token.
//! - `commands`: one row per command sent with an id, keyed by partition and id: the
//!   decider and stream it was for, the hash of its body, and its outcome (the global
//!   positions of its events, or the decider's rejection).

use super::config::{StoreConfig, Synchronous};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Each component's migrations: entry 0 of a list makes version 1 of that component.
const COMPONENTS: &[(&str, &[&str])] = &[
    ("store", STORE),
    ("projections", PROJECTIONS),
    ("modules", MODULES),
    ("leases", LEASES),
    ("commands", COMMANDS),
];

/// The event store's tables.
///
/// `category` is the stream id up to its first `-`, kept as a column so category
/// filters can use an index. `append_index`/`append_size` place each event in the append
/// that wrote it, which is what tells an exact retry from a reused event id. Version 2
/// adds tags: `events.tags` and the `event_tags` index (see the module docs).
const STORE: &[&str] = &[
    "
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
",
    "
ALTER TABLE events ADD COLUMN tags TEXT;

CREATE TABLE event_tags (
    tag TEXT NOT NULL,
    global_position INTEGER NOT NULL,
    PRIMARY KEY (tag, global_position)
) WITHOUT ROWID;
",
];

const PROJECTIONS: &[&str] = &[
    "
CREATE TABLE projections (
    name TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    active_generation INTEGER NOT NULL,
    last_generation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE projection_generations (
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    module TEXT NOT NULL,
    module_version INTEGER NOT NULL,
    identity TEXT NOT NULL,
    checkpoint INTEGER NOT NULL,
    faulted_at INTEGER,
    fault TEXT,
    PRIMARY KEY (projection, generation)
) WITHOUT ROWID;

CREATE TABLE projection_skipped (
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    position INTEGER NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (projection, generation, position)
) WITHOUT ROWID;

CREATE TABLE projection_documents (
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    partition TEXT NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (projection, generation, partition, collection, id)
) WITHOUT ROWID;
",
    // 2: the upcaster set each generation was started under.
    "ALTER TABLE projection_generations ADD COLUMN upcasters TEXT NOT NULL DEFAULT '';",
];

const MODULES: &[&str] = &["
CREATE TABLE module_blobs (
    hash TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE modules (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL REFERENCES module_blobs (hash),
    world TEXT NOT NULL,
    policy TEXT,
    deployed_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

CREATE TABLE snapshot_projections (
    decider TEXT NOT NULL,
    category TEXT NOT NULL,
    policy TEXT NOT NULL,
    PRIMARY KEY (decider, category)
) WITHOUT ROWID;
"];

const LEASES: &[&str] = &["
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
"];

/// The records of commands sent with an id. `outcome` is `decided` (with
/// `stream_version`, and `first_position`/`last_position` when it appended events) or
/// `rejected` (with `message`).
const COMMANDS: &[&str] = &["
CREATE TABLE commands (
    partition TEXT NOT NULL,
    command_id TEXT NOT NULL,
    decider TEXT NOT NULL,
    stream TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    module_version INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    stream_version INTEGER,
    first_position INTEGER,
    last_position INTEGER,
    message TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (partition, command_id)
) WITHOUT ROWID;
"];

/// Open a connection to the store's file with the store's settings: WAL journal, the
/// configured `synchronous` level and busy timeout.
pub(super) fn connect(config: &StoreConfig) -> rusqlite::Result<Connection> {
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

/// Bring every component's tables to the newest version, or refuse a file that is newer.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    for (component, migrations) in COMPONENTS {
        migrate_component(conn, path, component, migrations)?;
    }
    Ok(())
}

/// Bring the tables of one `component` to the newest of its `migrations`, or refuse a
/// file whose version of them is newer than this build knows.
fn migrate_component(
    conn: &mut Connection,
    path: &Path,
    component: &str,
    migrations: &[&str],
) -> Result<()> {
    let failed = super::errors::failed("upgrade the database's tables");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS refold_schema (
            component TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        ) WITHOUT ROWID;",
    )
    .map_err(failed)?;
    let found: i64 = tx
        .query_row(
            "SELECT version FROM refold_schema WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .optional()
        .map_err(failed)?
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
        tx.execute_batch(step).map_err(failed)?;
    }
    tx.execute(
        "INSERT INTO refold_schema (component, version) VALUES (?1, ?2)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        rusqlite::params![component, supported],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)
}
