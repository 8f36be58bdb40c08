//! Read-model queries: a document by id, a page of a collection, a count.
//!
//! Every query runs in one read transaction that first looks up the generation queries
//! read, so a query issued while a rebuilt generation takes over sees either the old
//! model or the new one, whole, never a mix or a half-built one. Queries are scoped to
//! one partition, like the documents a projection writes.

use crate::{Error, Result};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params_from_iter};

/// One read-model document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Document {
    /// Its id within its collection.
    pub id: String,
    /// The document: a JSON object, as text.
    pub document: String,
}

/// Which documents of a collection to list: a page in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// At most this many documents (at least 1).
    pub limit: usize,
    /// Only documents whose id sorts after this one: the `next` of the previous page.
    pub after: Option<String>,
    /// Only documents whose top-level `field` equals `value`.
    pub filter: Option<FieldFilter>,
}

impl ListQuery {
    /// The first `limit` documents, unfiltered.
    pub fn first(limit: usize) -> Self {
        ListQuery {
            limit,
            after: None,
            filter: None,
        }
    }

    /// The same query, only for documents whose top-level `field` equals `value`.
    pub fn with_filter(mut self, field: impl Into<String>, value: serde_json::Value) -> Self {
        self.filter = Some(FieldFilter {
            field: field.into(),
            value,
        });
        self
    }

    /// The same query, for the page after the document `id`.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after = Some(id.into());
        self
    }
}

/// `field = value` on a document's top-level field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    /// The field's name: letters, digits and `_`.
    pub field: String,
    /// The value it must equal: a string, number, boolean or null.
    pub value: serde_json::Value,
}

/// One page of a listed collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    /// The documents, in id order.
    pub documents: Vec<Document>,
    /// The cursor for the next page (`ListQuery::after`), when there may be one.
    pub next: Option<String>,
}

/// The generation of `projection` that queries read, in `tx`'s snapshot.
fn active_generation(tx: &Transaction<'_>, projection: &str) -> Result<u64> {
    tx.prepare_cached("SELECT active_generation FROM projections WHERE name = ?1")?
        .query_row([projection], |row| row.get(0))
        .optional()?
        .ok_or_else(|| Error::UnknownProjection(projection.to_owned()))
}

/// The document `id` of `collection`.
pub(super) fn get(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
    id: &str,
) -> Result<Option<String>> {
    let tx = conn.unchecked_transaction()?;
    let generation = active_generation(&tx, projection)?;
    let document = tx
        .prepare_cached(
            "SELECT document FROM projection_documents
             WHERE projection = ?1 AND generation = ?2 AND partition = ?3
               AND collection = ?4 AND id = ?5",
        )?
        .query_row(
            rusqlite::params![projection, generation, partition, collection, id],
            |row| row.get(0),
        )
        .optional()?;
    Ok(document)
}

/// How many documents `collection` holds.
pub(super) fn count(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
) -> Result<u64> {
    let tx = conn.unchecked_transaction()?;
    let generation = active_generation(&tx, projection)?;
    let count = tx
        .prepare_cached(
            "SELECT count(*) FROM projection_documents
             WHERE projection = ?1 AND generation = ?2 AND partition = ?3 AND collection = ?4",
        )?
        .query_row(
            rusqlite::params![projection, generation, partition, collection],
            |row| row.get(0),
        )?;
    Ok(count)
}

/// A page of `collection` as `query` asks.
pub(super) fn list(
    conn: &Connection,
    projection: &str,
    partition: &str,
    collection: &str,
    query: &ListQuery,
) -> Result<Page> {
    if query.limit == 0 {
        return Err(Error::InvalidQuery(
            "the page limit is 0: ask for at least 1 document".to_owned(),
        ));
    }
    let tx = conn.unchecked_transaction()?;
    let generation = active_generation(&tx, projection)?;
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
    if let Some(filter) = &query.filter {
        let path = field_path(&filter.field)?;
        match sql_value(&filter.value)? {
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
    let documents = tx
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), |row| {
            Ok(Document {
                id: row.get(0)?,
                document: row.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = (documents.len() == query.limit)
        .then(|| documents.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Page { documents, next })
}

fn sql_integer<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// The JSON path of a top-level field, for a field name that needs no quoting.
fn field_path(field: &str) -> Result<String> {
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::InvalidQuery(format!(
            "cannot filter on field '{field}': name a top-level field with letters, digits and `_`"
        )));
    }
    Ok(format!("$.{field}"))
}

/// The SQL value `json_extract` gives for a JSON scalar (`None` for null).
fn sql_value(value: &serde_json::Value) -> Result<Option<Value>> {
    Ok(Some(match value {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(Error::InvalidQuery(format!(
                "cannot filter on the value {value}: compare a field with a string, number, boolean or null"
            )));
        }
    }))
}
