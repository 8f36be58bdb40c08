//! Deployed modules, kept in the database beside the events, so a restarted engine
//! comes back with the same modules at the same versions.
//!
//! Each deploy is a row (name, version, hash, world, time); the component bytes are
//! kept once per content hash, however often they are deployed.

use crate::Result;
use crate::runtime::{ModuleInfo, World};
use crate::store::SqliteStore;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Mutex;
use std::time::SystemTime;

const COMPONENT: &str = "modules";

const MIGRATIONS: &[&str] = &["
CREATE TABLE module_blobs (
    hash TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE modules (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL REFERENCES module_blobs (hash),
    world TEXT NOT NULL,
    deployed_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
"];

/// One recorded deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deployment {
    /// The module's name.
    pub name: String,
    /// Its version under that name.
    pub version: u64,
    /// Hex SHA-256 of its bytes.
    pub hash: String,
    /// The world it implements.
    pub world: World,
    /// When it was deployed (RFC 3339, UTC).
    pub deployed_at: String,
}

pub(crate) struct Deployments {
    conn: Mutex<Connection>,
}

impl Deployments {
    pub(crate) fn open(store: &SqliteStore) -> Result<Self> {
        Ok(Deployments {
            conn: Mutex::new(store.connect_component(COMPONENT, MIGRATIONS)?),
        })
    }

    /// The version the next deploy of `name` gets.
    pub(crate) fn next_version(&self, name: &str) -> Result<u64> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        let last: Option<u64> = conn
            .query_row(
                "SELECT MAX(version) FROM modules WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        Ok(last.unwrap_or(0) + 1)
    }

    /// Record that `info` (with its version set) was deployed from `bytes`.
    pub(crate) fn record(&self, info: &ModuleInfo, bytes: &[u8]) -> Result<()> {
        let mut conn = self.conn.lock().expect("deployments connection poisoned");
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO module_blobs (hash, bytes) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
            params![info.hash, bytes],
        )?;
        tx.execute(
            "INSERT INTO modules (name, version, hash, world, deployed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                info.name,
                info.version,
                info.hash,
                info.world.name(),
                humantime::format_rfc3339_millis(SystemTime::now()).to_string()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The newest deploy of every name, with its bytes, oldest deploy first.
    pub(crate) fn current(&self) -> Result<Vec<(Deployment, Vec<u8>)>> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        let mut query = conn.prepare(
            "SELECT m.name, m.version, m.hash, m.world, m.deployed_at, b.bytes
             FROM modules m JOIN module_blobs b ON b.hash = m.hash
             WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
             ORDER BY m.deployed_at, m.name",
        )?;
        let rows = query.query_map([], |row| Ok((deployment(row)?, row.get::<_, Vec<u8>>(5)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every deploy of `name`, oldest first.
    pub(crate) fn history(&self, name: &str) -> Result<Vec<Deployment>> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        let mut query = conn.prepare(
            "SELECT name, version, hash, world, deployed_at FROM modules WHERE name = ?1 ORDER BY version",
        )?;
        let rows = query.query_map([name], deployment)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn deployment(row: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    let world: String = row.get(3)?;
    Ok(Deployment {
        name: row.get(0)?,
        version: row.get(1)?,
        hash: row.get(2)?,
        world: if world == World::Projection.name() {
            World::Projection
        } else {
            World::Decider
        },
        deployed_at: row.get(4)?,
    })
}
