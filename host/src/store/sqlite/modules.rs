//! Deployed modules in SQL: each deploy is a row (name, version, hash, world, failure
//! policy for projections, time); the component bytes are kept once per content hash,
//! however often they are deployed. Snapshot projections are recorded too.

use crate::store::{FailurePolicy, ModuleRecord, NewModule, SnapshotProjection};
use rusqlite::{Connection, Row, params};
use std::time::SystemTime;

/// A [`NewModule`] the writer thread can own.
pub(super) struct Owned {
    name: String,
    hash: String,
    world: String,
    policy: Option<FailurePolicy>,
    bytes: Vec<u8>,
}

impl From<NewModule<'_>> for Owned {
    fn from(module: NewModule<'_>) -> Self {
        Owned {
            name: module.name.to_owned(),
            hash: module.hash.to_owned(),
            world: module.world.to_owned(),
            policy: module.policy,
            bytes: module.bytes.to_owned(),
        }
    }
}

/// Record `module` as the next version of its name.
pub(super) fn record(conn: &Connection, module: &Owned) -> rusqlite::Result<ModuleRecord> {
    let last: Option<u64> = conn.query_row(
        "SELECT MAX(version) FROM modules WHERE name = ?1",
        [&module.name],
        |row| row.get(0),
    )?;
    let record = ModuleRecord {
        name: module.name.clone(),
        version: last.unwrap_or(0) + 1,
        hash: module.hash.clone(),
        world: module.world.clone(),
        policy: module.policy,
        deployed_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    };
    conn.execute(
        "INSERT INTO module_blobs (hash, bytes) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
        params![module.hash, module.bytes],
    )?;
    conn.execute(
        "INSERT INTO modules (name, version, hash, world, policy, deployed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.name,
            record.version,
            record.hash,
            record.world,
            record.policy.map(FailurePolicy::as_str),
            record.deployed_at
        ],
    )?;
    Ok(record)
}

/// The newest deploy of every name, with its bytes, oldest deploy first.
pub(super) fn current(conn: &Connection) -> rusqlite::Result<Vec<(ModuleRecord, Vec<u8>)>> {
    conn.prepare(
        "SELECT m.name, m.version, m.hash, m.world, m.policy, m.deployed_at, b.bytes
         FROM modules m JOIN module_blobs b ON b.hash = m.hash
         WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
         ORDER BY m.deployed_at, m.name",
    )?
    .query_map([], |row| Ok((module(row)?, row.get(6)?)))?
    .collect()
}

/// Every deploy of `name`, oldest first.
pub(super) fn history(conn: &Connection, name: &str) -> rusqlite::Result<Vec<ModuleRecord>> {
    conn.prepare(
        "SELECT name, version, hash, world, policy, deployed_at FROM modules
         WHERE name = ?1 ORDER BY version",
    )?
    .query_map([name], module)?
    .collect()
}

/// How many deploys were recorded.
pub(super) fn deploys(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM modules", [], |row| row.get(0))
}

/// Record a snapshot projection, or update its policy.
pub(super) fn record_snapshot(
    conn: &Connection,
    snapshot: &SnapshotProjection,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO snapshot_projections (decider, category, policy) VALUES (?1, ?2, ?3)
         ON CONFLICT (decider, category) DO UPDATE SET policy = excluded.policy",
        params![
            snapshot.decider,
            snapshot.category,
            snapshot.policy.as_str()
        ],
    )
    .map(drop)
}

/// Every recorded snapshot projection, by decider and category.
pub(super) fn snapshots(conn: &Connection) -> rusqlite::Result<Vec<SnapshotProjection>> {
    conn.prepare(
        "SELECT decider, category, policy FROM snapshot_projections ORDER BY decider, category",
    )?
    .query_map([], |row| {
        Ok(SnapshotProjection {
            decider: row.get(0)?,
            category: row.get(1)?,
            policy: policy(&row.get::<_, String>(2)?),
        })
    })?
    .collect()
}

fn module(row: &Row<'_>) -> rusqlite::Result<ModuleRecord> {
    Ok(ModuleRecord {
        name: row.get(0)?,
        version: row.get(1)?,
        hash: row.get(2)?,
        world: row.get(3)?,
        policy: row.get::<_, Option<String>>(4)?.as_deref().map(policy),
        deployed_at: row.get(5)?,
    })
}

/// A stored policy name; this build writes only the names it reads.
fn policy(name: &str) -> FailurePolicy {
    FailurePolicy::from_name(name).unwrap_or_default()
}
