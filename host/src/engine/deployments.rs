//! Deployed modules, kept in the database beside the events, so a restarted engine
//! comes back with the same modules at the same versions.
//!
//! Each deploy is a row (name, version, hash, world, failure policy for projections,
//! time); the component bytes are kept once per content hash, however often they are
//! deployed. Snapshot projections (a decider's states as a read model) are recorded
//! too, so they run again after a restart.

use crate::Result;
use crate::projections::FailurePolicy;
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
    /// What the projection does with an event it cannot apply (projections only).
    pub policy: Option<FailurePolicy>,
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
    pub(crate) fn record(
        &self,
        info: &ModuleInfo,
        policy: Option<FailurePolicy>,
        bytes: &[u8],
    ) -> Result<()> {
        let mut conn = self.conn.lock().expect("deployments connection poisoned");
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO module_blobs (hash, bytes) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
            params![info.hash, bytes],
        )?;
        tx.execute(
            "INSERT INTO modules (name, version, hash, world, policy, deployed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                info.name,
                info.version,
                info.hash,
                info.world.name(),
                policy.map(FailurePolicy::as_str),
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
            "SELECT m.name, m.version, m.hash, m.world, m.policy, m.deployed_at, b.bytes
             FROM modules m JOIN module_blobs b ON b.hash = m.hash
             WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
             ORDER BY m.deployed_at, m.name",
        )?;
        let rows = query.query_map([], |row| Ok((deployment(row)?, row.get::<_, Vec<u8>>(6)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record a snapshot projection of `decider` over `category`.
    pub(crate) fn record_snapshot(
        &self,
        decider: &str,
        category: &str,
        policy: FailurePolicy,
    ) -> Result<()> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        conn.execute(
            "INSERT INTO snapshot_projections (decider, category, policy) VALUES (?1, ?2, ?3)
             ON CONFLICT (decider, category) DO UPDATE SET policy = excluded.policy",
            params![decider, category, policy.as_str()],
        )?;
        Ok(())
    }

    /// Every recorded snapshot projection: (decider, category, policy).
    pub(crate) fn snapshots(&self) -> Result<Vec<(String, String, FailurePolicy)>> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        let mut query = conn.prepare(
            "SELECT decider, category, policy FROM snapshot_projections ORDER BY decider, category",
        )?;
        let rows = query.query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                parse_policy(&row.get::<_, String>(2)?),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every deploy of `name`, oldest first.
    pub(crate) fn history(&self, name: &str) -> Result<Vec<Deployment>> {
        let conn = self.conn.lock().expect("deployments connection poisoned");
        let mut query = conn.prepare(
            "SELECT name, version, hash, world, policy, deployed_at FROM modules
             WHERE name = ?1 ORDER BY version",
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
        policy: row
            .get::<_, Option<String>>(4)?
            .as_deref()
            .map(parse_policy),
        deployed_at: row.get(5)?,
    })
}

fn parse_policy(policy: &str) -> FailurePolicy {
    if policy == FailurePolicy::Skip.as_str() {
        FailurePolicy::Skip
    } else {
        FailurePolicy::Stop
    }
}
