//! Deployed modules in SQL: each deploy is a row (name, version, hash, world, failure
//! policy for projections, time); the component bytes are kept once per content hash,
//! however often they are deployed. Snapshot projections are recorded too.

use super::errors::During;
use crate::Result;
use crate::store::rules::check_world;
use crate::store::{FailurePolicy, ModuleRecord, NewModule, SnapshotProjection};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::time::SystemTime;

/// The columns [`module`] reads, `m` being `modules` and `b` its `module_blobs` row.
const RECORD: &str = "m.name, m.version, m.hash, m.world, m.policy, length(b.bytes), m.deployed_at";

/// A [`NewModule`] the writer thread can own.
pub(super) struct Owned {
    name: String,
    hash: String,
    world: String,
    policy: Option<FailurePolicy>,
    bytes: Vec<u8>,
    replace_world: bool,
}

impl From<NewModule<'_>> for Owned {
    fn from(module: NewModule<'_>) -> Self {
        Owned {
            name: module.name.to_owned(),
            hash: module.hash.to_owned(),
            world: module.world.to_owned(),
            policy: module.policy,
            bytes: module.bytes.to_owned(),
            replace_world: module.replace_world,
        }
    }
}

/// Record `module` as the next version of its name, unless it changes the name's world
/// without saying so.
pub(super) fn record(conn: &Connection, module: &Owned) -> Result<ModuleRecord> {
    const DOING: &str = "record a deploy";
    let newest: Option<(u64, String)> = conn
        .query_row(
            "SELECT version, world FROM modules WHERE name = ?1 ORDER BY version DESC LIMIT 1",
            [&module.name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .during(DOING)?;
    let newest = newest.as_ref().map(|(v, w)| (*v, w.as_str()));
    check_world(&module.name, newest, &module.world, module.replace_world)?;
    let record = ModuleRecord {
        name: module.name.clone(),
        version: newest.map_or(0, |(version, _)| version) + 1,
        hash: module.hash.clone(),
        world: module.world.clone(),
        policy: module.policy,
        size: module.bytes.len() as u64,
        deployed_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    };
    conn.execute(
        "INSERT INTO module_blobs (hash, bytes) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
        params![module.hash, module.bytes],
    )
    .during(DOING)?;
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
    )
    .during(DOING)?;
    Ok(record)
}

/// The newest deploy of every name, with its bytes, oldest deploy first.
pub(super) fn current(conn: &Connection) -> rusqlite::Result<Vec<(ModuleRecord, Vec<u8>)>> {
    conn.prepare(&format!(
        "SELECT {RECORD}, b.bytes
         FROM modules m JOIN module_blobs b ON b.hash = m.hash
         WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
         ORDER BY m.deployed_at, m.name"
    ))?
    .query_map([], |row| Ok((module(row)?, row.get(7)?)))?
    .collect()
}

/// Every deploy of `name`, oldest first.
pub(super) fn history(conn: &Connection, name: &str) -> rusqlite::Result<Vec<ModuleRecord>> {
    conn.prepare(&format!(
        "SELECT {RECORD} FROM modules m JOIN module_blobs b ON b.hash = m.hash
         WHERE m.name = ?1 ORDER BY m.version"
    ))?
    .query_map([name], module)?
    .collect()
}

/// Deploy `version` of `name`, with its bytes.
pub(super) fn version(
    conn: &Connection,
    name: &str,
    version: u64,
) -> rusqlite::Result<Option<(ModuleRecord, Vec<u8>)>> {
    conn.query_row(
        &format!(
            "SELECT {RECORD}, b.bytes FROM modules m JOIN module_blobs b ON b.hash = m.hash
             WHERE m.name = ?1 AND m.version = ?2"
        ),
        params![name, version],
        |row| Ok((module(row)?, row.get(7)?)),
    )
    .optional()
}

/// How many deploys are recorded.
pub(super) fn deploys(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM modules", [], |row| row.get(0))
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
        size: row.get(5)?,
        deployed_at: row.get(6)?,
    })
}

/// A stored policy name; this build writes only the names it reads.
fn policy(name: &str) -> FailurePolicy {
    FailurePolicy::from_name(name).unwrap_or_default()
}
