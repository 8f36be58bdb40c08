//! Deployed modules in PostgreSQL: each deploy is a row, the component bytes are kept
//! once per content hash (`bytea`), as on SQLite. Deploys from several nodes take turns
//! on a transaction-scoped advisory lock, so each gets the next version of its name.

use super::errors::{During, commit_failed};
use super::{int, unsigned};
use crate::Result;
use crate::store::{FailurePolicy, ModuleRecord, NewModule, SnapshotProjection};
use deadpool_postgres::GenericClient;
use std::time::SystemTime;
use tokio_postgres::Row;

/// Record `module` as the next version of its name, in one transaction.
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
    let last: Option<i64> = tx
        .query_one(
            "SELECT MAX(version) FROM modules WHERE name = $1",
            &[&module.name],
        )
        .await
        .during(DOING)?
        .get(0);
    let record = ModuleRecord {
        name: module.name.to_owned(),
        version: last.map_or(0, unsigned) + 1,
        hash: module.hash.to_owned(),
        world: module.world.to_owned(),
        policy: module.policy,
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
            "SELECT m.name, m.version, m.hash, m.world, m.policy, m.deployed_at, b.bytes
             FROM modules m JOIN module_blobs b ON b.hash = m.hash
             WHERE m.version = (SELECT MAX(version) FROM modules WHERE name = m.name)
             ORDER BY m.deployed_at, m.name",
            &[],
        )
        .await?
        .iter()
        .map(|row| (module(row), row.get(6)))
        .collect())
}

/// Every deploy of `name`, oldest first.
pub(super) async fn history(
    client: &impl GenericClient,
    name: &str,
) -> Result<Vec<ModuleRecord>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT name, version, hash, world, policy, deployed_at FROM modules
             WHERE name = $1 ORDER BY version",
            &[&name],
        )
        .await?
        .iter()
        .map(module)
        .collect())
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
        deployed_at: row.get(5),
    }
}

/// A stored policy name; this build writes only the names it reads.
fn policy(name: &str) -> FailurePolicy {
    FailurePolicy::from_name(name).unwrap_or_default()
}
