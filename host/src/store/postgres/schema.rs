//! The tables of a Refold store on PostgreSQL, and the migrations that create and
//! upgrade them.
//!
//! The tables mirror the SQLite backend's (see its `schema` module for what each
//! holds), inside one PostgreSQL schema (`refold` unless chosen), so Refold can share a
//! database with other applications. Event data and metadata are `json` (kept exactly
//! as appended, as an export must give them back); read-model documents are `jsonb`.
//!
//! Versions live in `refold_schema`, one row per component, as on SQLite: opening
//! brings each component to the newest version this build knows, in one transaction,
//! and a schema written by a newer build is refused ([`Error::SchemaTooNew`]). Nodes
//! starting together take turns: the migration holds a transaction-scoped advisory
//! lock named after the schema.

use super::errors::During;
use crate::{Error, Result};
use std::path::PathBuf;
use tokio_postgres::Client;

/// Each component's migrations: entry 0 of a list makes version 1 of that component.
const COMPONENTS: &[(&str, &[&str])] = &[
    ("store", STORE),
    ("projections", PROJECTIONS),
    ("modules", MODULES),
    ("leases", LEASES),
    ("commands", COMMANDS),
];

const STORE: &[&str] = &[
    "
CREATE TABLE streams (
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (partition, stream)
);

CREATE TABLE events (
    global_position BIGINT PRIMARY KEY,
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    category TEXT NOT NULL,
    stream_position BIGINT NOT NULL,
    event_id UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    data JSON NOT NULL,
    metadata JSON NOT NULL,
    recorded_at TEXT NOT NULL,
    append_index BIGINT NOT NULL,
    append_size BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_by_stream ON events (partition, stream, stream_position);
CREATE INDEX events_by_type ON events (event_type, global_position);
CREATE INDEX events_by_category ON events (category, global_position);
CREATE INDEX events_by_partition ON events (partition, global_position);

CREATE TABLE snapshots (
    partition TEXT NOT NULL,
    stream TEXT NOT NULL,
    module TEXT NOT NULL,
    version BIGINT NOT NULL,
    state BYTEA NOT NULL,
    PRIMARY KEY (partition, stream, module)
);
",
    "
ALTER TABLE events ADD COLUMN tags TEXT;

CREATE TABLE event_tags (
    tag TEXT COLLATE \"C\" NOT NULL,
    global_position BIGINT NOT NULL,
    PRIMARY KEY (tag, global_position)
);
",
];

const PROJECTIONS: &[&str] = &[
    "
CREATE TABLE projections (
    name TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    active_generation BIGINT NOT NULL,
    last_generation BIGINT NOT NULL
);

CREATE TABLE projection_generations (
    projection TEXT NOT NULL,
    generation BIGINT NOT NULL,
    module TEXT NOT NULL,
    module_version BIGINT NOT NULL,
    identity TEXT NOT NULL,
    checkpoint BIGINT NOT NULL,
    faulted_at BIGINT,
    fault TEXT,
    PRIMARY KEY (projection, generation)
);

CREATE TABLE projection_skipped (
    projection TEXT NOT NULL,
    generation BIGINT NOT NULL,
    position BIGINT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (projection, generation, position)
);

CREATE TABLE projection_documents (
    projection TEXT NOT NULL,
    generation BIGINT NOT NULL,
    partition TEXT NOT NULL,
    collection TEXT NOT NULL,
    id TEXT COLLATE \"C\" NOT NULL,
    document JSONB NOT NULL,
    PRIMARY KEY (projection, generation, partition, collection, id)
);
",
    // 2: the upcaster set each generation was started under.
    "ALTER TABLE projection_generations ADD COLUMN upcasters TEXT NOT NULL DEFAULT '';",
];

const MODULES: &[&str] = &["
CREATE TABLE module_blobs (
    hash TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);

CREATE TABLE modules (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    hash TEXT NOT NULL REFERENCES module_blobs (hash),
    world TEXT NOT NULL,
    policy TEXT,
    deployed_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE snapshot_projections (
    decider TEXT NOT NULL,
    category TEXT NOT NULL,
    policy TEXT NOT NULL,
    PRIMARY KEY (decider, category)
);
"];

const LEASES: &[&str] = &["
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
"];

const COMMANDS: &[&str] = &["
CREATE TABLE commands (
    partition TEXT NOT NULL,
    command_id TEXT NOT NULL,
    decider TEXT NOT NULL,
    stream TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    module_version BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    stream_version BIGINT,
    first_position BIGINT,
    last_position BIGINT,
    message TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (partition, command_id)
);
"];

/// Create `schema` if needed and bring every component's tables in it to the newest
/// version, or refuse a schema that is newer. `place` names the store in errors.
pub(super) async fn migrate(client: &mut Client, schema: &str, place: &str) -> Result<()> {
    const DOING: &str = "upgrade the database's tables";
    let tx = client.transaction().await.during(DOING)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('refold.migrate.' || $1::text))",
        &[&schema],
    )
    .await
    .during(DOING)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.refold_schema (
             component TEXT PRIMARY KEY,
             version BIGINT NOT NULL
         );"
    ))
    .await
    .during(DOING)?;
    for (component, migrations) in COMPONENTS {
        let found: i64 = tx
            .query_opt(
                "SELECT version FROM refold_schema WHERE component = $1",
                &[component],
            )
            .await
            .during(DOING)?
            .map_or(0, |row| row.get(0));
        let supported = migrations.len();
        let applied = usize::try_from(found).unwrap_or(0);
        if applied > supported {
            return Err(Error::SchemaTooNew {
                path: PathBuf::from(place),
                found,
                supported: i64::try_from(supported).unwrap_or(i64::MAX),
            });
        }
        if applied == supported {
            continue;
        }
        for step in &migrations[applied..] {
            tx.batch_execute(step).await.during(DOING)?;
        }
        tx.execute(
            "INSERT INTO refold_schema (component, version) VALUES ($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            &[component, &i64::try_from(supported).unwrap_or(i64::MAX)],
        )
        .await
        .during(DOING)?;
    }
    tx.commit().await.during(DOING)
}
