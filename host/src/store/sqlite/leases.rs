//! Leases in SQL: one row per lease with its owner, fencing token and expiry.
//!
//! Acquiring runs in the writer's transaction, so two processes on one file take turns
//! on SQLite's write lock and never both win. Time is the host's clock in milliseconds
//! since the Unix epoch; every process on one file shares that clock.

use crate::store::rules::{lease_expiry, lease_token};
use crate::store::{Fence, Lease};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::time::Duration;

fn lease(row: &Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease {
        name: row.get(0)?,
        owner: row.get(1)?,
        token: row.get(2)?,
        expires_at_ms: row.get(3)?,
    })
}

/// Take or renew `name` for `owner` until `ttl` after `now`, unless another owner holds
/// it unexpired. A lease passing to a new owner gets the next token.
pub(super) fn acquire(
    conn: &Connection,
    name: &str,
    owner: &str,
    ttl: Duration,
    now: u64,
) -> rusqlite::Result<Option<Lease>> {
    let current = conn
        .prepare_cached("SELECT name, owner, token, expires_at_ms FROM leases WHERE name = ?1")?
        .query_row([name], lease)
        .optional()?;
    let expires_at_ms = lease_expiry(now, ttl);
    let Some(token) = lease_token(current.as_ref(), owner, now) else {
        return Ok(None);
    };
    conn.prepare_cached(
        "INSERT INTO leases (name, owner, token, expires_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE
         SET owner = excluded.owner, token = excluded.token, expires_at_ms = excluded.expires_at_ms",
    )?
    .execute(params![name, owner, token, expires_at_ms])?;
    Ok(Some(Lease {
        name: name.to_owned(),
        owner: owner.to_owned(),
        token,
        expires_at_ms,
    }))
}

/// Give `lease` up if it is still held with its token: it expires now.
pub(super) fn release(conn: &Connection, lease: &Lease) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE leases SET expires_at_ms = 0 WHERE name = ?1 AND owner = ?2 AND token = ?3",
        params![lease.name, lease.owner, lease.token],
    )
    .map(drop)
}

/// Whether the lease of `fence` is still held, unexpired at `now`, with its token.
pub(super) fn holds(conn: &Connection, fence: &Fence, now: u64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT token, expires_at_ms FROM leases WHERE name = ?1")?
        .query_row([&fence.lease], |row| {
            Ok((row.get::<_, u64>(0)?, row.get::<_, u64>(1)?))
        })
        .optional()
        .map(|held| held.is_some_and(|(token, expires)| token == fence.token && expires > now))
}

/// Every lease, by name.
pub(super) fn all(conn: &Connection) -> rusqlite::Result<Vec<Lease>> {
    conn.prepare("SELECT name, owner, token, expires_at_ms FROM leases ORDER BY name")?
        .query_map([], lease)?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn, std::path::Path::new(":memory:")).unwrap();
        conn
    }

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn a_free_lease_is_granted_and_renewed_by_its_owner_with_the_same_token() {
        let conn = database();
        let first = acquire(&conn, "job", "a", TTL, 1_000).unwrap().unwrap();
        assert_eq!(
            (first.owner.as_str(), first.token, first.expires_at_ms),
            ("a", 1, 11_000)
        );
        let renewed = acquire(&conn, "job", "a", TTL, 5_000).unwrap().unwrap();
        assert_eq!((renewed.token, renewed.expires_at_ms), (1, 15_000));
    }

    #[test]
    fn another_owner_waits_for_expiry_and_then_gets_the_next_token() {
        let conn = database();
        let held = acquire(&conn, "job", "a", TTL, 0).unwrap().unwrap();
        assert_eq!(acquire(&conn, "job", "b", TTL, 9_999).unwrap(), None);
        let taken = acquire(&conn, "job", "b", TTL, 10_000).unwrap().unwrap();
        assert_eq!((taken.owner.as_str(), taken.token), ("b", 2));
        assert!(!holds(&conn, &held.fence(), 10_000).unwrap());
        assert!(holds(&conn, &taken.fence(), 10_000).unwrap());
        // The old owner cannot take it back while the new one holds it.
        assert_eq!(acquire(&conn, "job", "a", TTL, 15_000).unwrap(), None);
    }

    #[test]
    fn a_released_lease_passes_at_once_and_an_expired_fence_no_longer_holds() {
        let conn = database();
        let held = acquire(&conn, "job", "a", TTL, 0).unwrap().unwrap();
        assert!(holds(&conn, &held.fence(), 9_999).unwrap());
        assert!(!holds(&conn, &held.fence(), 10_000).unwrap());
        release(&conn, &held).unwrap();
        let taken = acquire(&conn, "job", "b", TTL, 1).unwrap().unwrap();
        assert_eq!(taken.token, 2);
        assert_eq!(all(&conn).unwrap(), vec![taken]);
    }

    #[test]
    fn leases_are_independent_by_name() {
        let conn = database();
        let a = acquire(&conn, "one", "a", TTL, 0).unwrap().unwrap();
        let b = acquire(&conn, "two", "b", TTL, 0).unwrap().unwrap();
        assert_eq!((a.token, b.token), (1, 1));
        assert!(
            !holds(
                &conn,
                &Fence {
                    lease: "three".into(),
                    token: 1
                },
                0
            )
            .unwrap()
        );
    }
}
