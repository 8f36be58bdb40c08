//! Deployed modules in PostgreSQL: each deploy is a row, the component bytes are kept
//! once per content hash (`bytea`), as on SQLite. Deploys from several nodes take turns
//! on a transaction-scoped advisory lock, so each gets the next version of its name.

use super::errors::{During, commit_failed};
use super::{int, unsigned};
use crate::Result;
use crate::store::rules::check_world;
use crate::store::{FailurePolicy, ModuleRecord, NewModule, SnapshotProjection};
use deadpool_postgres::GenericClient;
use std::time::SystemTime;
use tokio_postgres::Row;

/// The columns [`module`] reads, `m` being `modules` and `b` its `module_blobs` row.
const RECORD: &str =
    "m.name, m.version, m.hash, m.world, m.policy, octet_length(b.bytes), m.deployed_at";

/// Record `module` as the next version of its name, in one transaction, unless it
/// changes the name's world without saying so.
pub(super) async fn record(
    client: &mut deadpool_postgres::Client,
    module: NewModule<'_>,
) -> Result<ModuleRecord> {
    const DOING: &str = "record a deploy";
    let tx = client.transaction().await.during(DOING)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('refold.modules.' || current_schema()))",
        &[],
    )
    .await
    .during(DOING)?;
    let newest: Option<(u64, String)> = tx
        .query_opt(
            "SELECT version, world FROM modules WHERE name = $1 ORDER BY version DESC LIMIT 1",
            &[&module.name],
        )
        .await
        .during(DOING)?
        .map(|row| (unsigned(row.get(0)), row.get(1)));
    let newest = newest.as_ref().map(|(v, w)| (*v, w.as_str()));
    check_world(module.name, newest, module.world, module.replace_world)?;
    let record = ModuleRecord {
        name: module.name.to_owned(),
        version: newest.map_or(0, |(version, _)| version) + 1,
        hash: module.hash.to_owned(),
        world: module.world.to_owned(),
        policy: module.policy,
        size: module.bytes.len() as u64,
        deployed_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    };
    tx.execute(
        "INSERT INTO module_blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
        &[&module.hash, &module.bytes],
    )
    .await
    .during(DOING)?;
    tx.execute(
        "INSERT INTO modules (name, version, hash, world, policy, deployed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &record.name,
            &int(record.version),
            &record.hash,
            &record.world,
            &record.policy.map(FailurePolicy::as_str),
            &record.deployed_at,
        ],
    )
    .await
    .during(DOING)?;
    tx.commit().await.map_err(commit_failed)?;
    Ok(record)
}

/// The newest deploy of every name, with its bytes, oldest deploy first.
pub(super) async fn current(
    client: &impl GenericClient,
) -> Result<Vec<(ModuleRecord, Vec<u8>)>, tokio_postgres::Error> {
    Ok(client
        .query(
            &format!(
                "SELECT {RECORD}, b.bytes
                 FROM modules m JOIN module_blobs b ON b.hash = m.hash
                 WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
                 ORDER BY m.deployed_at, m.name"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (module(row), row.get(7)))
        .collect())
}

/// Every deploy of `name`, oldest first.
pub(super) async fn history(
    client: &impl GenericClient,
    name: &str,
) -> Result<Vec<ModuleRecord>, tokio_postgres::Error> {
    Ok(client
        .query(
            &format!(
                "SELECT {RECORD} FROM modules m JOIN module_blobs b ON b.hash = m.hash
                 WHERE m.name = $1 ORDER BY m.version"
            ),
            &[&name],
        )
        .await?
        .iter()
        .map(module)
        .collect())
}

/// Deploy `version` of `name`, with its bytes.
pub(super) async fn version(
    client: &impl GenericClient,
    name: &str,
    version: u64,
) -> Result<Option<(ModuleRecord, Vec<u8>)>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT {RECORD}, b.bytes FROM modules m JOIN module_blobs b ON b.hash = m.hash
                 WHERE m.name = $1 AND m.version = $2"
            ),
            &[&name, &int(version)],
        )
        .await?
        .map(|row| (module(&row), row.get(7))))
}

/// How many deploys were recorded.
pub(super) async fn deploys(client: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    let row = client
        .query_one("SELECT count(*) FROM modules", &[])
        .await?;
    Ok(unsigned(row.get(0)))
}

/// Record a snapshot projection, or update its policy.
pub(super) async fn record_snapshot(
    client: &impl GenericClient,
    snapshot: &SnapshotProjection,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO snapshot_projections (decider, category, policy) VALUES ($1, $2, $3)
             ON CONFLICT (decider, category) DO UPDATE SET policy = excluded.policy",
            &[
                &snapshot.decider,
                &snapshot.category,
                &snapshot.policy.as_str(),
            ],
        )
        .await
        .map(drop)
}

/// Every recorded snapshot projection, by decider and category.
pub(super) async fn snapshots(
    client: &impl GenericClient,
) -> Result<Vec<SnapshotProjection>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT decider, category, policy FROM snapshot_projections
             ORDER BY decider, category",
            &[],
        )
        .await?
        .iter()
        .map(|row| SnapshotProjection {
            decider: row.get(0),
            category: row.get(1),
            policy: policy(row.get(2)),
        })
        .collect())
}

fn module(row: &Row) -> ModuleRecord {
    ModuleRecord {
        name: row.get(0),
        version: unsigned(row.get(1)),
        hash: row.get(2),
        world: row.get(3),
        policy: row.get::<_, Option<&str>>(4).map(policy),
        size: unsigned(row.get::<_, i32>(5).into()),
        deployed_at: row.get(6),
    }
}

/// A stored policy name; this build writes only the names it reads.
fn policy(name: &str) -> FailurePolicy {
    FailurePolicy::from_name(name).unwrap_or_default()
}
