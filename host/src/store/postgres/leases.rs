//! Leases in PostgreSQL: one row per lease with its owner, fencing token and expiry.
//!
//! Time is the database server's clock (`clock_timestamp()`, in milliseconds since the
//! Unix epoch), so nodes whose clocks disagree still agree on when a lease expires.
//! Acquiring locks the lease's row `FOR UPDATE` (inserting a never-held placeholder
//! first, so two nodes taking a new lease at once take turns on its row), and a batch's
//! fence is checked with the row locked `FOR SHARE`, so the lease cannot pass to another
//! node between a batch's check and its commit.

use super::errors::{During, commit_failed};
use super::{int, unsigned};
use crate::Result;
use crate::store::rules::{lease_expiry, lease_token};
use crate::store::{Fence, Lease};
use deadpool_postgres::GenericClient;
use std::time::Duration;
use tokio_postgres::Row;

/// The database's clock, in milliseconds since the Unix epoch.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

fn lease(row: &Row) -> Lease {
    Lease {
        name: row.get(0),
        owner: row.get(1),
        token: unsigned(row.get(2)),
        expires_at_ms: unsigned(row.get(3)),
    }
}

/// Take or renew `name` for `owner` until `ttl` from now, unless another owner holds it
/// unexpired. A lease passing to a new owner gets the next token.
pub(super) async fn acquire(
    client: &mut deadpool_postgres::Client,
    name: &str,
    owner: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    const DOING: &str = "take a lease";
    let tx = client.transaction().await.during(DOING)?;
    tx.execute(
        "INSERT INTO leases (name, owner, token, expires_at_ms) VALUES ($1, '', 0, 0)
         ON CONFLICT (name) DO NOTHING",
        &[&name],
    )
    .await
    .during(DOING)?;
    let row = tx
        .query_one(
            &format!(
                "SELECT name, owner, token, expires_at_ms, {NOW_MS} FROM leases
                 WHERE name = $1 FOR UPDATE"
            ),
            &[&name],
        )
        .await
        .during(DOING)?;
    let current = lease(&row);
    let now = unsigned(row.get(4));
    let Some(token) = lease_token(Some(&current), owner, now) else {
        tx.rollback().await.during(DOING)?;
        return Ok(None);
    };
    let expires_at_ms = lease_expiry(now, ttl);
    tx.execute(
        "UPDATE leases SET owner = $2, token = $3, expires_at_ms = $4 WHERE name = $1",
        &[&name, &owner, &int(token), &int(expires_at_ms)],
    )
    .await
    .during(DOING)?;
    tx.commit().await.map_err(commit_failed)?;
    Ok(Some(Lease {
        name: name.to_owned(),
        owner: owner.to_owned(),
        token,
        expires_at_ms,
    }))
}

/// Give `lease` up if it is still held with its token: it expires now.
pub(super) async fn release(
    client: &impl GenericClient,
    lease: &Lease,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE leases SET expires_at_ms = 0 WHERE name = $1 AND owner = $2 AND token = $3",
            &[&lease.name, &lease.owner, &int(lease.token)],
        )
        .await
        .map(drop)
}

/// Whether the lease of `fence` is still held, unexpired now, with its token; the
/// lease's row stays locked `FOR SHARE` until `client`'s transaction ends.
pub(super) async fn holds(
    client: &impl GenericClient,
    fence: &Fence,
) -> Result<bool, tokio_postgres::Error> {
    let held = client
        .query_opt(
            &format!("SELECT token, expires_at_ms, {NOW_MS} FROM leases WHERE name = $1 FOR SHARE"),
            &[&fence.lease],
        )
        .await?;
    Ok(held.is_some_and(|row| {
        unsigned(row.get(0)) == fence.token && unsigned(row.get(1)) > unsigned(row.get(2))
    }))
}

/// Every lease, by name.
pub(super) async fn all(client: &impl GenericClient) -> Result<Vec<Lease>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT name, owner, token, expires_at_ms FROM leases ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(lease)
        .collect())
}
