//! The projection catalog and the read-model documents in PostgreSQL.
//!
//! The same catalog as on SQLite (see its `projections` module). A runner's batch is
//! one transaction ([`commit`]): the fence is checked with the lease row locked `FOR
//! SHARE`, so a lease cannot pass to another node between the check and the commit;
//! the projection's row and the generation's are locked next (in that order, as every
//! catalog change takes them), so a batch, a rebuild's switch-over and a new
//! generation take turns without deadlocking. Documents are `jsonb`, written in one statement per batch for upserts
//! and one for deletes.
//!
//! Every query reads the active generation and its documents in one statement, so it
//! sees one snapshot: the old model or the new one, never a mix.

use super::errors::{During, commit_failed};
use super::{int, unsigned};
use crate::store::validate::{self, Scalar};
use crate::store::{
    BuiltBy, Committed, Definition, Document, DocumentBatch, DocumentKey, FailurePolicy,
    Generation, ListQuery, Page, SkippedEvent,
};
use crate::{Error, Result};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

/// The stored definition of `name`, if any, read in one statement.
pub(super) async fn definition(
    client: &impl GenericClient,
    name: &str,
) -> Result<Option<Definition>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT p.policy, p.active_generation, g.generation, g.module, g.module_version,
                    g.identity, g.checkpoint, g.faulted_at, g.fault,
                    (SELECT count(*) FROM projection_skipped s
                      WHERE s.projection = g.projection AND s.generation = g.generation),
                    g.upcasters
             FROM projections p JOIN projection_generations g ON g.projection = p.name
             WHERE p.name = $1 ORDER BY g.generation",
            &[&name],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let policy: String = first.get(0);
    let active_generation = unsigned(first.get(1));
    let generations: Vec<Generation> = rows
        .iter()
        .map(|row| {
            let faulted_at: Option<i64> = row.get(7);
            let fault: Option<String> = row.get(8);
            Generation {
                generation: unsigned(row.get(2)),
                built_by: BuiltBy {
                    module: row.get(3),
                    version: unsigned(row.get(4)),
                    identity: row.get(5),
                    upcasters: row.get(10),
                },
                checkpoint: unsigned(row.get(6)),
                fault: faulted_at.map(unsigned).zip(fault),
                skipped: unsigned(row.get(9)),
            }
        })
        .collect();
    let Some(active) = generations
        .iter()
        .find(|g| g.generation == active_generation)
        .cloned()
    else {
        return Ok(None);
    };
    let building = generations
        .into_iter()
        .find(|g| g.generation > active_generation);
    Ok(Some(Definition {
        policy: FailurePolicy::from_name(&policy).unwrap_or_default(),
        active,
        building,
    }))
}

/// Store a new projection whose first generation `built_by` builds from position 0.
pub(super) async fn create(
    client: &mut deadpool_postgres::Client,
    name: &str,
    built_by: &BuiltBy,
    policy: FailurePolicy,
) -> Result<Generation> {
    const DOING: &str = "record a new projection";
    let tx = client.transaction().await.during(DOING)?;
    tx.execute(
        "INSERT INTO projections (name, policy, active_generation, last_generation)
         VALUES ($1, $2, 1, 1)",
        &[&name, &policy.as_str()],
    )
    .await
    .during(DOING)?;
    let generation = insert_generation(&tx, name, built_by, 1)
        .await
        .during(DOING)?;
    tx.commit().await.map_err(commit_failed)?;
    Ok(generation)
}

/// Start a new generation of `name` from position 0, dropping any other generation
/// being rebuilt.
pub(super) async fn add_generation(
    client: &mut deadpool_postgres::Client,
    name: &str,
    built_by: &BuiltBy,
) -> Result<Generation> {
    const DOING: &str = "start a projection generation";
    let tx = client.transaction().await.during(DOING)?;
    let last = tx
        .query_one(
            "SELECT last_generation FROM projections WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .during(DOING)?;
    let next = unsigned(last.get(0)) + 1;
    drop_rebuilds_in(&tx, name).await.during(DOING)?;
    tx.execute(
        "UPDATE projections SET last_generation = $2 WHERE name = $1",
        &[&name, &int(next)],
    )
    .await
    .during(DOING)?;
    let generation = insert_generation(&tx, name, built_by, next)
        .await
        .during(DOING)?;
    tx.commit().await.map_err(commit_failed)?;
    Ok(generation)
}

async fn insert_generation(
    client: &impl GenericClient,
    name: &str,
    built_by: &BuiltBy,
    generation: u64,
) -> Result<Generation, tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO projection_generations
               (projection, generation, module, module_version, identity, checkpoint, upcasters)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
            &[
                &name,
                &int(generation),
                &built_by.module,
                &int(built_by.version),
                &built_by.identity,
                &built_by.upcasters,
            ],
        )
        .await?;
    Ok(Generation {
        generation,
        built_by: built_by.clone(),
        checkpoint: 0,
        fault: None,
        skipped: 0,
    })
}

/// Remove a generation with its documents and skipped events.
async fn drop_generation(
    client: &impl GenericClient,
    projection: &str,
    generation: u64,
) -> Result<(), tokio_postgres::Error> {
    for table in [
        "projection_documents",
        "projection_skipped",
        "projection_generations",
    ] {
        client
            .execute(
                &format!("DELETE FROM {table} WHERE projection = $1 AND generation = $2"),
                &[&projection, &int(generation)],
            )
            .await?;
    }
    Ok(())
}

/// Let `built_by` go on building `generation` from its checkpoint.
pub(super) async fn resume(
    client: &impl GenericClient,
    name: &str,
    generation: u64,
    built_by: &BuiltBy,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE projection_generations
             SET module = $3, module_version = $4, identity = $5, faulted_at = NULL, fault = NULL
             WHERE projection = $1 AND generation = $2",
            &[
                &name,
                &int(generation),
                &built_by.module,
                &int(built_by.version),
                &built_by.identity,
            ],
        )
        .await
        .map(drop)
}

/// Record the projection's failure policy.
pub(super) async fn set_policy(
    client: &impl GenericClient,
    name: &str,
    policy: FailurePolicy,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE projections SET policy = $2 WHERE name = $1",
            &[&name, &policy.as_str()],
        )
        .await
        .map(drop)
}

/// Drop every generation of `name` newer than the active one, in one transaction.
pub(super) async fn drop_rebuilds(
    client: &mut deadpool_postgres::Client,
    name: &str,
) -> Result<()> {
    const DOING: &str = "drop a projection rebuild";
    let tx = client.transaction().await.during(DOING)?;
    tx.execute(
        "SELECT 1 FROM projections WHERE name = $1 FOR UPDATE",
        &[&name],
    )
    .await
    .during(DOING)?;
    drop_rebuilds_in(&tx, name).await.during(DOING)?;
    tx.commit().await.map_err(commit_failed)
}

async fn drop_rebuilds_in(
    client: &impl GenericClient,
    name: &str,
) -> Result<(), tokio_postgres::Error> {
    let building = client
        .query(
            "SELECT g.generation FROM projection_generations g JOIN projections p
               ON p.name = g.projection
             WHERE g.projection = $1 AND g.generation > p.active_generation",
            &[&name],
        )
        .await?;
    for row in building {
        drop_generation(client, name, unsigned(row.get(0))).await?;
    }
    Ok(())
}

/// Record that `generation` stopped at the event at `position` because of `error`.
pub(super) async fn record_fault(
    client: &impl GenericClient,
    projection: &str,
    generation: u64,
    position: u64,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE projection_generations SET faulted_at = $3, fault = $4
             WHERE projection = $1 AND generation = $2",
            &[&projection, &int(generation), &int(position), &error],
        )
        .await
        .map(drop)
}

/// Store `batch` in one transaction, checking its fence in it; switch queries to its
/// generation when it is a rebuild that has caught up with the head and with the
/// active generation.
pub(super) async fn commit(
    client: &mut deadpool_postgres::Client,
    batch: &DocumentBatch,
) -> Result<Committed> {
    const DOING: &str = "commit a projection batch";
    let tx = client.transaction().await.during(DOING)?;
    if let Some(fence) = &batch.fence
        && !super::leases::holds(&tx, fence).await.during(DOING)?
    {
        tx.rollback().await.during(DOING)?;
        return Ok(Committed::Fenced);
    }
    // Locks in one order everywhere: lease, projection, generation. A batch that may
    // switch generations takes the projection's row for update, as starting a new
    // generation does; others share it.
    let projection_lock = if batch.caught_up {
        "SELECT 1 FROM projections WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT 1 FROM projections WHERE name = $1 FOR SHARE"
    };
    super::execute(&tx, projection_lock, &[&batch.projection])
        .await
        .during(DOING)?;
    let generation = int(batch.generation);
    let exists = super::query_opt(
        &tx,
        "SELECT 1 FROM projection_generations
         WHERE projection = $1 AND generation = $2 FOR UPDATE",
        &[&batch.projection, &generation],
    )
    .await
    .during(DOING)?;
    if exists.is_none() {
        tx.rollback().await.during(DOING)?;
        return Ok(Committed::Superseded);
    }
    let (mut put, mut gone): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (key, document) in &batch.changes {
        match document {
            Some(document) => put.push((key, document.as_str())),
            None => gone.push(key),
        }
    }
    if !put.is_empty() {
        let partitions: Vec<&str> = put.iter().map(|(k, _)| k.partition.as_str()).collect();
        let collections: Vec<&str> = put.iter().map(|(k, _)| k.collection.as_str()).collect();
        let ids: Vec<&str> = put.iter().map(|(k, _)| k.id.as_str()).collect();
        let documents: Vec<&str> = put.iter().map(|(_, d)| *d).collect();
        let upsert = tx
            .prepare_cached(
                "INSERT INTO projection_documents
                   (projection, generation, partition, collection, id, document)
                 SELECT $1, $2, d.p, d.c, d.i, d.d::jsonb
                 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS d(p, c, i, d)
                 ON CONFLICT (projection, generation, partition, collection, id)
                 DO UPDATE SET document = excluded.document",
            )
            .await
            .during(DOING)?;
        tx.execute(
            &upsert,
            &[
                &batch.projection,
                &generation,
                &partitions,
                &collections,
                &ids,
                &documents,
            ],
        )
        .await
        .during(DOING)?;
    }
    if !gone.is_empty() {
        let partitions: Vec<&str> = gone.iter().map(|k| k.partition.as_str()).collect();
        let collections: Vec<&str> = gone.iter().map(|k| k.collection.as_str()).collect();
        let ids: Vec<&str> = gone.iter().map(|k| k.id.as_str()).collect();
        let delete = tx
            .prepare_cached(
                "DELETE FROM projection_documents d
                 USING unnest($3::text[], $4::text[], $5::text[]) AS g(p, c, i)
                 WHERE d.projection = $1 AND d.generation = $2
                   AND d.partition = g.p AND d.collection = g.c AND d.id = g.i",
            )
            .await
            .during(DOING)?;
        tx.execute(
            &delete,
            &[
                &batch.projection,
                &generation,
                &partitions,
                &collections,
                &ids,
            ],
        )
        .await
        .during(DOING)?;
    }
    super::execute(
        &tx,
        "UPDATE projection_generations SET checkpoint = $3
         WHERE projection = $1 AND generation = $2",
        &[&batch.projection, &generation, &int(batch.checkpoint)],
    )
    .await
    .during(DOING)?;
    if let Some((position, error)) = &batch.skipped {
        tx.execute(
            "INSERT INTO projection_skipped (projection, generation, position, error)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (projection, generation, position) DO UPDATE SET error = excluded.error",
            &[&batch.projection, &generation, &int(*position), error],
        )
        .await
        .during(DOING)?;
    }
    let mut committed = Committed::Stored;
    if batch.caught_up {
        let row = super::query_one(
            &tx,
            "SELECT p.active_generation, g.checkpoint FROM projections p
                 JOIN projection_generations g
                   ON g.projection = p.name AND g.generation = p.active_generation
                 WHERE p.name = $1",
            &[&batch.projection],
        )
        .await
        .during(DOING)?;
        let (active, active_checkpoint) = (unsigned(row.get(0)), unsigned(row.get(1)));
        if active < batch.generation && active_checkpoint <= batch.checkpoint {
            tx.execute(
                "UPDATE projections SET active_generation = $2 WHERE name = $1",
                &[&batch.projection, &generation],
            )
            .await
            .during(DOING)?;
            drop_generation(&tx, &batch.projection, active)
                .await
                .during(DOING)?;
            committed = Committed::Promoted;
        }
    }
    tx.commit().await.map_err(commit_failed)?;
    Ok(committed)
}

/// A committed document of one generation.
pub(super) async fn document(
    client: &impl GenericClient,
    projection: &str,
    generation: u64,
    key: &DocumentKey,
) -> Result<Option<String>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "SELECT document::text FROM projection_documents
             WHERE projection = $1 AND generation = $2 AND partition = $3
               AND collection = $4 AND id = $5",
        )
        .await?;
    Ok(client
        .query_opt(
            &statement,
            &[
                &projection,
                &int(generation),
                &key.partition,
                &key.collection,
                &key.id,
            ],
        )
        .await?
        .map(|row| row.get(0)))
}

/// The document `id` of `collection`, from the active generation.
pub(super) async fn get(
    client: &impl GenericClient,
    projection: &str,
    partition: &str,
    collection: &str,
    id: &str,
) -> Result<Option<String>> {
    let statement = client
        .prepare_cached(
            "SELECT d.document::text FROM projections p
             LEFT JOIN projection_documents d
               ON d.projection = p.name AND d.generation = p.active_generation
              AND d.partition = $2 AND d.collection = $3 AND d.id = $4
             WHERE p.name = $1",
        )
        .await
        .during("read a document")?;
    let row = client
        .query_opt(&statement, &[&projection, &partition, &collection, &id])
        .await
        .during("read a document")?
        .ok_or_else(|| Error::UnknownProjection(projection.to_owned()))?;
    Ok(row.get(0))
}

/// How many documents `collection` holds in the active generation.
pub(super) async fn count(
    client: &impl GenericClient,
    projection: &str,
    partition: &str,
    collection: &str,
) -> Result<u64> {
    let row = client
        .query_opt(
            "SELECT (SELECT count(*) FROM projection_documents d
                      WHERE d.projection = p.name AND d.generation = p.active_generation
                        AND d.partition = $2 AND d.collection = $3)
             FROM projections p WHERE p.name = $1",
            &[&projection, &partition, &collection],
        )
        .await
        .during("count documents")?
        .ok_or_else(|| Error::UnknownProjection(projection.to_owned()))?;
    Ok(unsigned(row.get(0)))
}

/// Refuse `projection` as unknown unless it is in the catalog.
async fn known(client: &impl GenericClient, projection: &str, doing: &'static str) -> Result<()> {
    let known = client
        .query_opt("SELECT 1 FROM projections WHERE name = $1", &[&projection])
        .await
        .during(doing)?;
    match known {
        Some(_) => Ok(()),
        None => Err(Error::UnknownProjection(projection.to_owned())),
    }
}

/// The events the active generation of `projection` skipped after `after`.
pub(super) async fn skipped(
    client: &impl GenericClient,
    projection: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<SkippedEvent>> {
    const DOING: &str = "read skipped events";
    known(client, projection, DOING).await?;
    let rows = client
        .query(
            "SELECT s.position, s.error FROM projection_skipped s
             JOIN projections p ON p.name = s.projection AND p.active_generation = s.generation
             WHERE s.projection = $1 AND s.position > $2
             ORDER BY s.position LIMIT $3",
            &[&projection, &int(after), &int(limit as u64)],
        )
        .await
        .during(DOING)?;
    Ok(rows
        .iter()
        .map(|row| SkippedEvent {
            position: unsigned(row.get(0)),
            error: row.get(1),
        })
        .collect())
}

/// A page of `collection` as `query` asks, from the active generation.
pub(super) async fn list(
    client: &impl GenericClient,
    projection: &str,
    partition: &str,
    collection: &str,
    query: &ListQuery,
) -> Result<Page> {
    const DOING: &str = "list documents";
    let filter = validate::check_list(query)?;
    let limit = int(query.limit);
    let mut sql = "SELECT d.id, d.document::text FROM projections p
                   JOIN projection_documents d
                     ON d.projection = p.name AND d.generation = p.active_generation
                   WHERE p.name = $1 AND d.partition = $2 AND d.collection = $3"
        .to_owned();
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&projection, &partition, &collection];
    if let Some(after) = &query.after {
        args.push(after);
        sql.push_str(&format!(" AND d.id > ${}", args.len()));
    }
    let compared;
    if let Some((field, value)) = &filter {
        compared = (*field, scalar_json(*value));
        args.push(&compared.0);
        args.push(&compared.1);
        sql.push_str(&format!(
            " AND d.document -> ${}::text = ${}::text::jsonb",
            args.len() - 1,
            args.len()
        ));
    }
    args.push(&limit);
    sql.push_str(&format!(" ORDER BY d.id LIMIT ${}", args.len()));
    let rows = client.query(&sql, &args).await.during(DOING)?;
    if rows.is_empty() {
        known(client, projection, DOING).await?;
    }
    let documents: Vec<Document> = rows
        .iter()
        .map(|row| Document {
            id: row.get(0),
            document: row.get(1),
        })
        .collect();
    let next = (documents.len() == query.limit)
        .then(|| documents.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Page { documents, next })
}

/// A filter's scalar as JSON text, to compare with a `jsonb` field.
fn scalar_json(value: Scalar<'_>) -> String {
    match value {
        Scalar::Null => "null".to_owned(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Integer(i) => i.to_string(),
        Scalar::Real(r) => serde_json::Value::from(r).to_string(),
        Scalar::Text(t) => serde_json::Value::from(t).to_string(),
    }
}
