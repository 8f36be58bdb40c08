//! What the database knows about each projection, and the transactions that change it.
//!
//! Definitions (policy, generations, the module version building each, checkpoints,
//! faults) are persisted so a restarted engine resumes every projection from its
//! checkpoint. Every change a runner makes goes through [`commit`]: the batch's
//! documents, its checkpoint, a skipped event, and, when a rebuilt generation has
//! caught up, the switch of the generation queries read, all in one transaction.

use super::overlay::Pending;
use super::{FailurePolicy, ProjectionLogic};
use crate::Result;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// One stored generation of a projection.
#[derive(Debug, Clone)]
pub(super) struct Generation {
    pub(super) generation: u64,
    pub(super) module: String,
    pub(super) version: u64,
    pub(super) identity: String,
    pub(super) checkpoint: u64,
    pub(super) fault: Option<(u64, String)>,
    pub(super) skipped: u64,
}

/// A stored projection: the generation queries read and the one being rebuilt, if any.
#[derive(Debug, Clone)]
pub(super) struct Definition {
    pub(super) active: Generation,
    pub(super) building: Option<Generation>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Committed {
    /// The changes and checkpoint are stored.
    Stored,
    /// Stored, and this generation is now the one queries read; the old one is gone.
    Promoted,
    /// Nothing stored: the generation was dropped (a newer build or the switch
    /// retired it), so its runner must stop.
    Superseded,
}

/// The stored definition of `name`, if any.
pub(super) fn load(conn: &Connection, name: &str) -> Result<Option<Definition>> {
    let Some(active_generation) = conn
        .query_row(
            "SELECT active_generation FROM projections WHERE name = ?1",
            [name],
            |row| row.get::<_, u64>(0),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut statement = conn.prepare(
        "SELECT g.generation, g.module, g.module_version, g.identity, g.checkpoint,
                g.faulted_at, g.fault,
                (SELECT count(*) FROM projection_skipped s
                  WHERE s.projection = g.projection AND s.generation = g.generation)
         FROM projection_generations g WHERE g.projection = ?1 ORDER BY g.generation",
    )?;
    let generations = statement
        .query_map([name], |row| {
            let faulted_at: Option<u64> = row.get(5)?;
            let fault: Option<String> = row.get(6)?;
            Ok(Generation {
                generation: row.get(0)?,
                module: row.get(1)?,
                version: row.get(2)?,
                identity: row.get(3)?,
                checkpoint: row.get(4)?,
                fault: faulted_at.zip(fault),
                skipped: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let active = generations
        .iter()
        .find(|g| g.generation == active_generation)
        .cloned()
        .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?;
    let building = generations
        .into_iter()
        .find(|g| g.generation > active_generation);
    Ok(Some(Definition { active, building }))
}

/// Store a new projection whose first generation `logic` builds from position 0.
pub(super) fn create(
    conn: &mut Connection,
    logic: &dyn ProjectionLogic,
    policy: FailurePolicy,
) -> Result<Generation> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO projections (name, policy, active_generation, last_generation)
         VALUES (?1, ?2, 1, 1)",
        params![logic.name(), policy.as_str()],
    )?;
    let generation = insert_generation(&tx, logic, 1)?;
    tx.commit()?;
    Ok(generation)
}

/// Start a new generation of `logic.name()` from position 0, dropping any other
/// generation being rebuilt.
pub(super) fn add_generation(
    conn: &mut Connection,
    logic: &dyn ProjectionLogic,
) -> Result<Generation> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: u64 = tx.query_row(
        "SELECT last_generation FROM projections WHERE name = ?1",
        [logic.name()],
        |row| row.get(0),
    )?;
    drop_rebuilds(&tx, logic.name())?;
    tx.execute(
        "UPDATE projections SET last_generation = ?2 WHERE name = ?1",
        params![logic.name(), last + 1],
    )?;
    let generation = insert_generation(&tx, logic, last + 1)?;
    tx.commit()?;
    Ok(generation)
}

fn insert_generation(
    conn: &Connection,
    logic: &dyn ProjectionLogic,
    generation: u64,
) -> Result<Generation> {
    conn.execute(
        "INSERT INTO projection_generations
           (projection, generation, module, module_version, identity, checkpoint)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        params![
            logic.name(),
            generation,
            logic.module(),
            logic.version(),
            logic.identity()
        ],
    )?;
    Ok(Generation {
        generation,
        module: logic.module().to_owned(),
        version: logic.version(),
        identity: logic.identity().to_owned(),
        checkpoint: 0,
        fault: None,
        skipped: 0,
    })
}

/// Remove a generation with its documents and skipped events.
fn drop_generation(conn: &Connection, projection: &str, generation: u64) -> Result<()> {
    for table in [
        "projection_documents",
        "projection_skipped",
        "projection_generations",
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE projection = ?1 AND generation = ?2"),
            params![projection, generation],
        )?;
    }
    Ok(())
}

/// Let `logic` go on building `generation` from its checkpoint: record the module
/// version now building it and clear its fault.
pub(super) fn resume(
    conn: &Connection,
    logic: &dyn ProjectionLogic,
    generation: u64,
) -> Result<()> {
    conn.execute(
        "UPDATE projection_generations
         SET module = ?3, module_version = ?4, identity = ?5, faulted_at = NULL, fault = NULL
         WHERE projection = ?1 AND generation = ?2",
        params![
            logic.name(),
            generation,
            logic.module(),
            logic.version(),
            logic.identity()
        ],
    )?;
    Ok(())
}

/// Record the projection's failure policy.
pub(super) fn set_policy(conn: &Connection, name: &str, policy: FailurePolicy) -> Result<()> {
    conn.execute(
        "UPDATE projections SET policy = ?2 WHERE name = ?1",
        params![name, policy.as_str()],
    )?;
    Ok(())
}

/// Drop the generation of `name` being rebuilt, if any.
pub(super) fn drop_rebuild(conn: &mut Connection, name: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    drop_rebuilds(&tx, name)?;
    tx.commit()?;
    Ok(())
}

fn drop_rebuilds(conn: &Connection, name: &str) -> Result<()> {
    let building: Vec<u64> = conn
        .prepare(
            "SELECT g.generation FROM projection_generations g JOIN projections p
               ON p.name = g.projection
             WHERE g.projection = ?1 AND g.generation > p.active_generation",
        )?
        .query_map([name], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for generation in building {
        drop_generation(conn, name, generation)?;
    }
    Ok(())
}

/// Record that `generation` stopped at the event at `position` because of `error`.
pub(super) fn record_fault(
    conn: &Connection,
    projection: &str,
    generation: u64,
    position: u64,
    error: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE projection_generations SET faulted_at = ?3, fault = ?4
         WHERE projection = ?1 AND generation = ?2",
        params![projection, generation, position, error],
    )?;
    Ok(())
}

/// What one commit of a runner writes.
pub(super) struct Batch<'a> {
    pub(super) projection: &'a str,
    pub(super) generation: u64,
    /// Document changes to store.
    pub(super) pending: Pending,
    /// The new checkpoint: every event up to it is applied (or skipped).
    pub(super) checkpoint: u64,
    /// An event skipped under the `skip` policy, and why.
    pub(super) skipped: Option<(u64, String)>,
    /// The runner read up to the log's head: a rebuilt generation may take over.
    pub(super) caught_up: bool,
}

/// Store `batch` in one transaction; switch queries to its generation when it is a
/// rebuild that has caught up with the head and with the active generation.
pub(super) fn commit(conn: &mut Connection, batch: Batch<'_>) -> Result<Committed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = tx
        .query_row(
            "SELECT 1 FROM projection_generations WHERE projection = ?1 AND generation = ?2",
            params![batch.projection, batch.generation],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(Committed::Superseded);
    }
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO projection_documents
               (projection, generation, partition, collection, id, document)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (projection, generation, partition, collection, id)
             DO UPDATE SET document = excluded.document",
        )?;
        let mut delete = tx.prepare_cached(
            "DELETE FROM projection_documents
             WHERE projection = ?1 AND generation = ?2 AND partition = ?3
               AND collection = ?4 AND id = ?5",
        )?;
        for ((partition, collection, id), document) in &batch.pending {
            match document {
                Some(document) => upsert.execute(params![
                    batch.projection,
                    batch.generation,
                    partition,
                    collection,
                    id,
                    document
                ])?,
                None => delete.execute(params![
                    batch.projection,
                    batch.generation,
                    partition,
                    collection,
                    id
                ])?,
            };
        }
    }
    tx.prepare_cached(
        "UPDATE projection_generations SET checkpoint = ?3
         WHERE projection = ?1 AND generation = ?2",
    )?
    .execute(params![
        batch.projection,
        batch.generation,
        batch.checkpoint
    ])?;
    if let Some((position, error)) = &batch.skipped {
        tx.execute(
            "INSERT OR REPLACE INTO projection_skipped (projection, generation, position, error)
             VALUES (?1, ?2, ?3, ?4)",
            params![batch.projection, batch.generation, position, error],
        )?;
    }
    let mut committed = Committed::Stored;
    if batch.caught_up {
        let (active, active_checkpoint): (u64, u64) = tx.query_row(
            "SELECT p.active_generation, g.checkpoint FROM projections p
             JOIN projection_generations g
               ON g.projection = p.name AND g.generation = p.active_generation
             WHERE p.name = ?1",
            [batch.projection],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if active < batch.generation && active_checkpoint <= batch.checkpoint {
            tx.execute(
                "UPDATE projections SET active_generation = ?2 WHERE name = ?1",
                params![batch.projection, batch.generation],
            )?;
            drop_generation(&tx, batch.projection, active)?;
            committed = Committed::Promoted;
        }
    }
    tx.commit()?;
    Ok(committed)
}
