//! The projection catalog and the read-model documents in SQL.
//!
//! Definitions (policy, generations, the logic building each, checkpoints, faults) are
//! kept so a restarted engine resumes every projection from its checkpoint. A runner's
//! batch goes through [`commit`]: its documents, its checkpoint, a skipped event, and,
//! when a rebuilt generation has caught up, the switch of the generation queries read,
//! all in one transaction (the writer's).
//!
//! Every query first looks up the generation queries read, in the same read
//! transaction, so a query issued while a rebuilt generation takes over sees either
//! the old model or the new one, whole, never a mix or a half-built one. Queries are
//! scoped to one partition, like the documents a projection writes.

use super::leases;
use crate::store::validate::{self, Scalar};
use crate::store::{
    BuiltBy, Committed, Definition, Document, DocumentBatch, DocumentKey, FailurePolicy,
    Generation, ListQuery, Page, SkippedEvent,
};
use crate::{Error, Result};
use rusqlite::types::{ToSql, Value};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

/// The stored definition of `name`, if any.
pub(super) fn definition(conn: &Connection, name: &str) -> rusqlite::Result<Option<Definition>> {
    let tx = conn.unchecked_transaction()?;
    let Some((policy, active_generation)) = tx
        .query_row(
            "SELECT policy, active_generation FROM projections WHERE name = ?1",
            [name],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut statement = tx.prepare(
        "SELECT g.generation, g.module, g.module_version, g.identity, g.checkpoint,
                g.faulted_at, g.fault,
                (SELECT count(*) FROM projection_skipped s
                  WHERE s.projection = g.projection AND s.generation = g.generation),
                g.upcasters
         FROM projection_generations g WHERE g.projection = ?1 ORDER BY g.generation",
    )?;
    let generations = statement
        .query_map([name], |row| {
            let faulted_at: Option<u64> = row.get(5)?;
            let fault: Option<String> = row.get(6)?;
            Ok(Generation {
                generation: row.get(0)?,
                built_by: BuiltBy {
                    module: row.get(1)?,
                    version: row.get(2)?,
                    identity: row.get(3)?,
                    upcasters: row.get(8)?,
                },
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
        .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
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
pub(super) fn create(
    conn: &Connection,
    name: &str,
    built_by: &BuiltBy,
    policy: FailurePolicy,
) -> rusqlite::Result<Generation> {
    conn.execute(
        "INSERT INTO projections (name, policy, active_generation, last_generation)
         VALUES (?1, ?2, 1, 1)",
        params![name, policy.as_str()],
    )?;
    insert_generation(conn, name, built_by, 1)
}

/// Start a new generation of `name` from position 0, dropping any other generation
/// being rebuilt.
pub(super) fn add_generation(
    conn: &Connection,
    name: &str,
    built_by: &BuiltBy,
) -> rusqlite::Result<Generation> {
    let last: u64 = conn.query_row(
        "SELECT last_generation FROM projections WHERE name = ?1",
        [name],
        |row| row.get(0),
    )?;
    drop_rebuilds(conn, name)?;
    conn.execute(
        "UPDATE projections SET last_generation = ?2 WHERE name = ?1",
        params![name, last + 1],
    )?;
    insert_generation(conn, name, built_by, last + 1)
}

fn insert_generation(
    conn: &Connection,
    name: &str,
    built_by: &BuiltBy,
    generation: u64,
) -> rusqlite::Result<Generation> {
    conn.execute(
        "INSERT INTO projection_generations
           (projection, generation, module, module_version, identity, checkpoint, upcasters)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
        params![
            name,
            generation,
            built_by.module,
            built_by.version,
            built_by.identity,
            built_by.upcasters
        ],
    )?;
    Ok(Generation {
        generation,
        built_by: built_by.clone(),
        checkpoint: 0,
        fault: None,
        skipped: 0,
    })
}

/// The parameters `?1`..`?5` of a statement about one generation and the logic
/// building it: projection, generation, module, module version, identity.
fn generation_params<'a>(
    name: &'a &'a str,
    generation: &'a u64,
    built_by: &'a BuiltBy,
) -> [&'a dyn ToSql; 5] {
    [
        name,
        generation,
        &built_by.module,
        &built_by.version,
        &built_by.identity,
    ]
}

/// Remove a generation with its documents and skipped events.
fn drop_generation(conn: &Connection, projection: &str, generation: u64) -> rusqlite::Result<()> {
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

/// Let `built_by` go on building `generation` from its checkpoint: record it as the
/// logic building it and clear its fault.
pub(super) fn resume(
    conn: &Connection,
    name: &str,
    generation: u64,
    built_by: &BuiltBy,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE projection_generations
         SET module = ?3, module_version = ?4, identity = ?5, faulted_at = NULL, fault = NULL
         WHERE projection = ?1 AND generation = ?2",
        generation_params(&name, &generation, built_by).as_slice(),
    )
    .map(drop)
}

/// Record the projection's failure policy.
pub(super) fn set_policy(
    conn: &Connection,
    name: &str,
    policy: FailurePolicy,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE projections SET policy = ?2 WHERE name = ?1",
        params![name, policy.as_str()],
    )
    .map(drop)
}

/// Drop every generation of `name` newer than the active one.
pub(super) fn drop_rebuilds(conn: &Connection, name: &str) -> rusqlite::Result<()> {
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
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE projection_generations SET faulted_at = ?3, fault = ?4
         WHERE projection = ?1 AND generation = ?2",
        params![projection, generation, position, error],
    )
    .map(drop)
}

/// Store `batch`; switch queries to its generation when it is a rebuild that has caught
/// up with the head and with the active generation. `now_ms` judges the batch's fence.
pub(super) fn commit(
    conn: &Connection,
    batch: &DocumentBatch,
    now_ms: u64,
) -> rusqlite::Result<Committed> {
    if let Some(fence) = &batch.fence
        && !leases::holds(conn, fence, now_ms)?
    {
        return Ok(Committed::Fenced);
    }
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM projection_generations WHERE projection = ?1 AND generation = ?2",
        )?
        .query_row(params![batch.projection, batch.generation], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Ok(Committed::Superseded);
    }
    let mut upsert = conn.prepare_cached(
        "INSERT INTO projection_documents
           (projection, generation, partition, collection, id, document)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (projection, generation, partition, collection, id)
         DO UPDATE SET document = excluded.document",
    )?;
    let mut delete = conn.prepare_cached(
        "DELETE FROM projection_documents
         WHERE projection = ?1 AND generation = ?2 AND partition = ?3
           AND collection = ?4 AND id = ?5",
    )?;
    for (key, document) in &batch.changes {
        match document {
            Some(document) => upsert.execute(params![
                batch.projection,
                batch.generation,
                key.partition,
                key.collection,
                key.id,
                document
            ])?,
            None => delete.execute(params![
                batch.projection,
                batch.generation,
                key.partition,
                key.collection,
                key.id
            ])?,
        };
    }
    conn.prepare_cached(
        "UPDATE projection_generations SET checkpoint = ?3
         WHERE projection = ?1 AND generation = ?2",
    )?
    .execute(params![
        batch.projection,
        batch.generation,
        batch.checkpoint
    ])?;
    if let Some((position, error)) = &batch.skipped {
        conn.execute(
            "INSERT OR REPLACE INTO projection_skipped (projection, generation, position, error)
             VALUES (?1, ?2, ?3, ?4)",
            params![batch.projection, batch.generation, position, error],
        )?;
    }
    if !batch.caught_up {
        return Ok(Committed::Stored);
    }
    let (active, active_checkpoint): (u64, u64) = conn.query_row(
        "SELECT p.active_generation, g.checkpoint FROM projections p
         JOIN projection_generations g
           ON g.projection = p.name AND g.generation = p.active_generation
         WHERE p.name = ?1",
        [&batch.projection],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if active < batch.generation && active_checkpoint <= batch.checkpoint {
        conn.execute(
            "UPDATE projections SET active_generation = ?2 WHERE name = ?1",
            params![batch.projection, batch.generation],
        )?;
        drop_generation(conn, &batch.projection, active)?;
        return Ok(Committed::Promoted);
    }
    Ok(Committed::Stored)
}

const DOCUMENT: &str = "SELECT document FROM projection_documents
     WHERE projection = ?1 AND generation = ?2 AND partition = ?3
       AND collection = ?4 AND id = ?5";

/// A committed document of one generation.
pub(super) fn document(
    conn: &Connection,
    projection: &str,
    generation: u64,
    key: &DocumentKey,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(DOCUMENT)?
        .query_row(
            params![
                projection,
                generation,
                key.partition,
                key.collection,
                key.id
            ],
            |row| row.get(0),
        )
        .optional()
}

/// The generation of `projection` that queries read, in `conn`'s open transaction.
fn active_generation(conn: &Connection, projection: &str) -> Result<u64> {
    conn.prepare_cached("SELECT active_generation FROM projections WHERE name = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([projection], |row| row.get(0))
                .optional()
        })
        .map_err(super::errors::failed("read a projection's generation"))?
        .ok_or_else(|| Error::UnknownProjection(projection.to_owned()))
}

/// The document `id` of `collection`, from the active generation.
pub(super) fn get(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
    id: &str,
) -> Result<Option<String>> {
    let failed = super::errors::failed("read a document");
    let tx = conn.unchecked_transaction().map_err(failed)?;
    let generation = active_generation(&tx, projection)?;
    let key = DocumentKey {
        partition: partition.to_owned(),
        collection: collection.to_owned(),
        id: id.to_owned(),
    };
    document(&tx, projection, generation, &key).map_err(failed)
}

/// How many documents `collection` holds in the active generation.
pub(super) fn count(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
) -> Result<u64> {
    let failed = super::errors::failed("count documents");
    let tx = conn.unchecked_transaction().map_err(failed)?;
    let generation = active_generation(&tx, projection)?;
    tx.prepare_cached(
        "SELECT count(*) FROM projection_documents
         WHERE projection = ?1 AND generation = ?2 AND partition = ?3 AND collection = ?4",
    )
    .and_then(|mut statement| {
        statement.query_row(
            params![projection, generation, partition, collection],
            |row| row.get(0),
        )
    })
    .map_err(failed)
}

/// The events the active generation of `projection` skipped after `after`.
pub(super) fn skipped(
    conn: &Connection,
    projection: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<SkippedEvent>> {
    let failed = super::errors::failed("read skipped events");
    let tx = conn.unchecked_transaction().map_err(failed)?;
    let generation = active_generation(&tx, projection)?;
    let mut statement = tx
        .prepare_cached(
            "SELECT position, error FROM projection_skipped
             WHERE projection = ?1 AND generation = ?2 AND position > ?3
             ORDER BY position LIMIT ?4",
        )
        .map_err(failed)?;
    let rows = statement
        .query_map(
            params![
                projection,
                generation,
                after,
                limit.min(i64::MAX as usize) as i64
            ],
            |row| {
                Ok(SkippedEvent {
                    position: row.get(0)?,
                    error: row.get(1)?,
                })
            },
        )
        .map_err(failed)?;
    rows.collect::<rusqlite::Result<_>>().map_err(failed)
}

/// A page of `collection` as `query` asks, from the active generation.
pub(super) fn list(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
    query: &ListQuery,
) -> Result<Page> {
    let failed = super::errors::failed("list documents");
    let tx = conn.unchecked_transaction().map_err(failed)?;
    let generation = active_generation(&tx, projection)?;
    let (sql, args) = list_sql(projection, generation, partition, collection, query)?;
    // Rows are read one at a time, so a page that ends at its byte bound reads no more.
    let (documents, full) = tx
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            let mut rows = statement.query_map(params_from_iter(args), |row| {
                Ok(Document {
                    id: row.get(0)?,
                    document: row.get(1)?,
                })
            })?;
            let (mut documents, mut bytes) = (Vec::new(), 0);
            while bytes <= query.max_bytes && documents.len() < query.limit {
                let Some(document) = rows.next().transpose()? else {
                    return Ok((documents, false));
                };
                bytes += document.id.len() + document.document.len();
                documents.push(document);
            }
            Ok((documents, true))
        })
        .map_err(failed)?;
    let next = full
        .then(|| documents.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Page { documents, next })
}

/// The SQL and arguments of a page query on one generation.
fn list_sql(
    projection: &str,
    generation: u64,
    partition: &str,
    collection: &str,
    query: &ListQuery,
) -> Result<(String, Vec<Value>)> {
    let mut sql = "SELECT id, document FROM projection_documents
                   WHERE projection = ? AND generation = ? AND partition = ? AND collection = ?"
        .to_owned();
    let mut args: Vec<Value> = vec![
        Value::Text(projection.to_owned()),
        Value::Integer(sql_integer(generation)),
        Value::Text(partition.to_owned()),
        Value::Text(collection.to_owned()),
    ];
    if let Some(after) = &query.after {
        sql.push_str(" AND id > ?");
        args.push(Value::Text(after.clone()));
    }
    if let Some((field, value)) = validate::check_list(query)? {
        let path = format!("$.{field}");
        let value = match value {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(Value::Integer(i64::from(b))),
            Scalar::Integer(i) => Some(Value::Integer(i)),
            Scalar::Real(r) => Some(Value::Real(r)),
            Scalar::Text(t) => Some(Value::Text(t.to_owned())),
        };
        match value {
            None => {
                sql.push_str(" AND json_type(document, ?) = 'null'");
                args.push(Value::Text(path));
            }
            Some(value) => {
                sql.push_str(" AND json_extract(document, ?) = ?");
                args.push(Value::Text(path));
                args.push(value);
            }
        }
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    args.push(Value::Integer(sql_integer(query.limit)));
    Ok((sql, args))
}

fn sql_integer<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql(query: &ListQuery) -> Result<(String, Vec<Value>)> {
        list_sql("p", 2, "default", "c", query)
    }

    #[test]
    fn a_plain_page_walks_the_key_in_id_order() {
        let (sql, args) = sql(&ListQuery::first(10)).unwrap();
        assert!(sql.ends_with("collection = ? ORDER BY id LIMIT ?"), "{sql}");
        assert_eq!(args.len(), 5);
        assert_eq!(args[1], Value::Integer(2));
        assert_eq!(args[4], Value::Integer(10));
    }

    #[test]
    fn after_and_filter_add_their_conditions_and_arguments() {
        let query = ListQuery::first(5)
            .after("cart-9")
            .with_filter("status", json!("open"));
        let (sql, args) = sql(&query).unwrap();
        assert!(
            sql.contains("AND id > ? AND json_extract(document, ?) = ? ORDER BY id"),
            "{sql}"
        );
        assert_eq!(args[4], Value::Text("cart-9".into()));
        assert_eq!(args[5], Value::Text("$.status".into()));
        assert_eq!(args[6], Value::Text("open".into()));
    }

    #[test]
    fn scalars_map_to_what_json_extract_returns() {
        let value = |v| {
            let (_, args) = sql(&ListQuery::first(1).with_filter("f", v)).unwrap();
            args[5].clone()
        };
        assert_eq!(value(json!(true)), Value::Integer(1));
        assert_eq!(value(json!(42)), Value::Integer(42));
        assert_eq!(value(json!(1.5)), Value::Real(1.5));
        let (sql, _) = sql(&ListQuery::first(1).with_filter("f", json!(null))).unwrap();
        assert!(sql.contains("json_type(document, ?) = 'null'"), "{sql}");
    }

    #[test]
    fn unsafe_fields_and_composite_values_are_refused() {
        for field in ["", "a.b", "x'y", "$"] {
            let refused = sql(&ListQuery::first(1).with_filter(field, json!(1)));
            assert!(
                matches!(refused, Err(Error::InvalidQuery(ref m)) if m.contains("cannot filter on field")),
                "{field}: {refused:?}"
            );
        }
        for value in [json!([1]), json!({"a": 1})] {
            let refused = sql(&ListQuery::first(1).with_filter("f", value.clone()));
            assert!(
                matches!(refused, Err(Error::InvalidQuery(ref m)) if m.contains("cannot filter on the value")),
                "{value}: {refused:?}"
            );
        }
    }
}
