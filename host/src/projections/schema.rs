//! The projections' tables in the event store's SQLite file, and their migrations.
//!
//! Read models live in the same file as the events so a projection's documents and
//! its checkpoint commit in one transaction. The tables are versioned as the
//! `projections` component of `refold_schema`, beside the store's own.
//!
//! - `projections`: one row per projection: its failure policy, the generation queries
//!   read (`active_generation`) and the last generation number handed out (numbers are
//!   never reused, so a stopped build can never write into a newer one).
//! - `projection_generations`: one row per generation being kept: the module version
//!   that builds it, its checkpoint, and the fault that stopped it, if any. Two rows
//!   exist while a new version is rebuilt beside the active one.
//! - `projection_skipped`: events a `skip` projection could not apply, with the error.
//! - `projection_documents`: the documents, keyed by projection, generation, partition,
//!   collection and id; listing a collection walks the primary key in id order.

use crate::Result;
use crate::store::StoreConfig;
use crate::store::schema::migrate_component;

pub(super) use crate::store::schema::connect;
use rusqlite::Connection;

/// The projections' row in `refold_schema`.
const COMPONENT: &str = "projections";

/// Each entry upgrades the projections' tables by one version: entry 0 makes version 1.
const MIGRATIONS: &[&str] = &["
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
"];

/// A connection to the store's file with the projections' tables brought to the
/// newest version.
pub(super) fn migrate(config: &StoreConfig) -> Result<Connection> {
    let mut conn = connect(config)?;
    migrate_component(&mut conn, &config.path, COMPONENT, MIGRATIONS)?;
    Ok(conn)
}
