//! The PostgreSQL backend: every storage trait on one schema of a PostgreSQL database,
//! for deployments that outgrow one machine (several `refold serve` nodes on one
//! database).
//!
//! [`PgStore`] connects through a pool (deadpool-postgres over tokio-postgres: async
//! like the storage traits, no compile-time database access, no other runtime), creates
//! and migrates its tables in the chosen schema (`schema`), and serves each trait method
//! as one transaction or one statement on a pooled connection. What differs from
//! SQLite, and why:
//!
//! - Appends and imports hold a transaction-scoped advisory lock around position
//!   allocation and insert (`events`), so the global log becomes visible in position
//!   order, without gaps, however many nodes write; a node's appends waiting at one
//!   moment share one transaction (`committer`), so they share the lock and the commit.
//! - The head watch is fed by the node's own commits and by `LISTEN`/`NOTIFY` for
//!   everyone else's (`listen`); a notification is only a hint to re-read the head.
//! - Leases use the database's clock (`leases`), so nodes need not agree on time.
//! - Read-model documents are `jsonb` (`projections`).
//!
//! The rules both backends share (what a retry is, where an import goes, lease tokens,
//! the checks of an append) are in the store's `rules` and `validate` modules.

mod commands;
mod committer;
mod config;
mod errors;
mod events;
mod leases;
mod listen;
mod modules;
mod projections;
mod schema;

use super::counters::{Counters, StoreHistograms};
use super::{
    AppendOutcome, AppendRequest, Appends, BuiltBy, CommandRecord, CommandWrite, Committed,
    Decision, Definition, Direction, DocumentBatch, DocumentKey, EventStore, FailurePolicy,
    Generation, ImportOutcome, Lease, LeaseStore, ListQuery, LogFilter, ModuleRecord, ModuleStore,
    NewCommand, NewModule, Page, ProjectionStore, RecordedEvent, SkippedEvent, Snapshot,
    SnapshotProjection, Storage, StoreMetrics, validate,
};
use crate::{Error, Result};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use errors::During;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

pub use config::{DEFAULT_SCHEMA, PgConfig};

/// A non-negative SQL `bigint` as a position, count or version.
fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A position, count or limit as a SQL `bigint`; values past `i64::MAX` mean "no bound".
fn int<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Run `sql` as a statement prepared once per connection (a statement given as text is
/// prepared on every call, one more round trip): what hot paths use.
async fn execute(
    client: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}

/// [`execute`] for a query of at most one row.
async fn query_opt(
    client: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

/// [`execute`] for a query of exactly one row.
async fn query_one(
    client: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_one(&statement, params).await
}

/// A connection string without its password, for messages.
pub(crate) fn redacted(connection: &str) -> String {
    let Some((scheme, rest)) = connection.split_once("://") else {
        return connection.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => connection.to_owned(),
        },
        None => connection.to_owned(),
    }
}

/// Every storage trait on one schema of a PostgreSQL database.
///
/// Appends go through the store's committer, which commits those waiting at each
/// moment in one transaction (node-local group commit); every other write is its own
/// transaction on a pooled connection. Any number of stores (in this process, other
/// processes, other machines) may share the schema. Dropping the store stops its
/// notification listener; appends already handed to the committer are still
/// committed.
#[derive(Debug)]
pub struct PgStore {
    config: PgConfig,
    pool: Pool,
    head: Arc<watch::Sender<u64>>,
    listener: JoinHandle<()>,
    /// The committer's inbox of appends.
    appends: mpsc::UnboundedSender<committer::Pending>,
    channel: String,
    counters: Arc<Counters>,
}

impl PgStore {
    /// Connect to the database `config` names, create the schema and its tables if
    /// needed or bring them up to date, and start listening for other nodes' commits.
    /// Must be called inside a tokio runtime, which the store's listener runs on.
    ///
    /// Fails with [`Error::SchemaTooNew`] for a schema written by a newer Refold.
    pub async fn open(config: PgConfig) -> Result<PgStore> {
        let session = config.session();
        let manager = Manager::from_config(
            session.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .build()
            .map_err(|e| Error::Storage {
                operation: "set up the connection pool",
                source: Arc::new(e),
            })?;
        let mut client = pool.get().await.during("connect to the database")?;
        schema::migrate(&mut client, &config.schema, &config.describe()).await?;
        let head = events::head(&client).await.during("read the log head")?;
        drop(client);
        let (head_tx, _) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let channel = format!("refold_{}", config.schema);
        let mut listening = session.clone();
        listening.application_name(format!("refold-listen-{}", config.schema));
        let listener = tokio::spawn(listen::run(listening, channel.clone(), head_tx.clone()));
        let counters = Arc::new(Counters::default());
        let (appends, inbox) = mpsc::unbounded_channel();
        let shared = committer::Shared {
            pool: pool.clone(),
            channel: channel.clone(),
            head: head_tx.clone(),
            counters: counters.clone(),
        };
        tokio::spawn(committer::run(shared, inbox));
        Ok(PgStore {
            config,
            pool,
            head: head_tx,
            listener,
            appends,
            channel,
            counters,
        })
    }

    /// Open the store `config` names as every storage trait.
    pub async fn open_storage(config: PgConfig) -> Result<Storage> {
        Ok(Storage::of(Arc::new(PgStore::open(config).await?)))
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// A pooled connection, for `operation`.
    async fn client(&self, operation: &'static str) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.during(operation)
    }

    /// Count one write handed straight to the database (no inbox: submitted and
    /// grouped at once).
    fn wrote(&self) {
        self.counters.writes_submitted.fetch_add(1, Release);
        self.counters.writes_grouped.fetch_add(1, Release);
    }

    /// Count the events a read returned.
    fn read(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        self.counters
            .events_read
            .fetch_add(events.len() as u64, Relaxed);
        events
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome> {
        let mut outcomes = self.append_all(request.into()).await?;
        Ok(outcomes.pop().expect("one outcome per request"))
    }

    async fn append_all(&self, appends: Appends) -> Result<Vec<AppendOutcome>> {
        validate::check_appends(
            &appends,
            self.config.max_event_size,
            &self.config.append_limits,
        )?;
        let streams = appends.appends.len();
        let append = async {
            let (reply, answer) = oneshot::channel();
            self.appends
                .send(committer::Pending::Append { appends, reply })
                .map_err(|_| Error::StoreClosed)?;
            // Counted once sent, with Release (read with Acquire): a reader of the
            // metrics who sees the count knows the append is in the inbox.
            self.counters.writes_submitted.fetch_add(1, Release);
            answer.await.map_err(|_| Error::StoreClosed)?
        };
        self.counters.timed_append(streams, append).await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<ImportOutcome> {
        validate::check_import(&events, self.config.max_event_size)?;
        let mut client = self.client("import events").await?;
        self.wrote();
        let outcome = events::import(&mut client, &events, &self.channel).await?;
        self.counters.commits.fetch_add(1, Relaxed);
        self.counters
            .events_appended
            .fetch_add(outcome.imported, Relaxed);
        listen::advance(&self.head, outcome.head);
        Ok(outcome)
    }

    async fn read_stream(
        &self,
        partition: &str,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        const DOING: &str = "read a stream";
        if !validate::storable(partition, stream) {
            return Ok(Vec::new());
        }
        let client = self.client(DOING).await?;
        events::read_stream(&client, partition, stream, from, direction, limit)
            .await
            .during(DOING)
            .map(|events| self.read(events))
    }

    async fn read_log(
        &self,
        after: u64,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        const DOING: &str = "read the log";
        validate::check_filter(filter)?;
        let client = self.client(DOING).await?;
        events::read_log(&client, after, filter, limit)
            .await
            .during(DOING)
            .map(|events| self.read(events))
    }

    async fn stream_version(&self, partition: &str, stream: &str) -> Result<Option<u64>> {
        const DOING: &str = "read a stream's version";
        if !validate::storable(partition, stream) {
            return Ok(None);
        }
        let client = self.client(DOING).await?;
        events::stream_version(&client, partition, stream)
            .await
            .during(DOING)
    }

    async fn read_head(&self) -> Result<u64> {
        const DOING: &str = "read the log head";
        let client = self.client(DOING).await?;
        let head = events::head(&client).await.during(DOING)?;
        listen::advance(&self.head, head);
        Ok(head)
    }

    fn head(&self) -> u64 {
        *self.head.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        const DOING: &str = "save a snapshot";
        let client = self.client(DOING).await?;
        self.wrote();
        events::save_snapshot(&client, &snapshot)
            .await
            .during(DOING)
    }

    async fn load_snapshot(
        &self,
        partition: &str,
        stream: &str,
        module: &str,
    ) -> Result<Option<Snapshot>> {
        const DOING: &str = "load a snapshot";
        if !validate::storable(partition, stream) {
            return Ok(None);
        }
        let client = self.client(DOING).await?;
        events::load_snapshot(&client, partition, stream, module)
            .await
            .during(DOING)
    }

    async fn record_command(&self, command: NewCommand) -> Result<CommandWrite> {
        let mut streams = 0;
        if let Decision::Append(appends) = &command.decision {
            validate::check_appends(
                appends,
                self.config.max_event_size,
                &self.config.append_limits,
            )?;
            streams = appends.appends.len();
        }
        let record = async {
            let (reply, answer) = oneshot::channel();
            self.appends
                .send(committer::Pending::Command {
                    command: Box::new(command),
                    reply,
                })
                .map_err(|_| Error::StoreClosed)?;
            self.counters.writes_submitted.fetch_add(1, Release);
            answer.await.map_err(|_| Error::StoreClosed)?
        };
        self.counters.timed_append(streams, record).await
    }

    async fn command(&self, partition: &str, command_id: &str) -> Result<Option<CommandRecord>> {
        if partition.contains('\0') || command_id.contains('\0') {
            // PostgreSQL text cannot hold a NUL, so no record can have one.
            return Ok(None);
        }
        let client = self.client("look up a command").await?;
        commands::load(&client, partition, command_id).await
    }

    fn metrics(&self) -> StoreMetrics {
        self.counters.metrics()
    }

    fn histograms(&self) -> Option<&StoreHistograms> {
        Some(&self.counters.histograms)
    }
}

#[async_trait]
impl ProjectionStore for PgStore {
    async fn definition(&self, name: &str) -> Result<Option<Definition>> {
        const DOING: &str = "load a projection";
        let client = self.client(DOING).await?;
        projections::definition(&client, name).await.during(DOING)
    }

    async fn create(
        &self,
        name: &str,
        built_by: &BuiltBy,
        policy: FailurePolicy,
    ) -> Result<Generation> {
        let mut client = self.client("record a new projection").await?;
        self.wrote();
        projections::create(&mut client, name, built_by, policy).await
    }

    async fn add_generation(&self, name: &str, built_by: &BuiltBy) -> Result<Generation> {
        let mut client = self.client("start a projection generation").await?;
        self.wrote();
        projections::add_generation(&mut client, name, built_by).await
    }

    async fn resume(&self, name: &str, generation: u64, built_by: &BuiltBy) -> Result<()> {
        const DOING: &str = "resume a projection generation";
        let client = self.client(DOING).await?;
        self.wrote();
        projections::resume(&client, name, generation, built_by)
            .await
            .during(DOING)
    }

    async fn set_policy(&self, name: &str, policy: FailurePolicy) -> Result<()> {
        const DOING: &str = "record a projection's policy";
        let client = self.client(DOING).await?;
        self.wrote();
        projections::set_policy(&client, name, policy)
            .await
            .during(DOING)
    }

    async fn drop_rebuild(&self, name: &str) -> Result<()> {
        let mut client = self.client("drop a projection rebuild").await?;
        self.wrote();
        projections::drop_rebuilds(&mut client, name).await
    }

    async fn record_fault(
        &self,
        name: &str,
        generation: u64,
        position: u64,
        error: &str,
    ) -> Result<()> {
        const DOING: &str = "record a projection fault";
        let client = self.client(DOING).await?;
        self.wrote();
        projections::record_fault(&client, name, generation, position, error)
            .await
            .during(DOING)
    }

    async fn commit(&self, batch: DocumentBatch) -> Result<Committed> {
        let mut client = self.client("commit a projection batch").await?;
        self.wrote();
        let committed = projections::commit(&mut client, &batch).await?;
        self.counters.commits.fetch_add(1, Relaxed);
        Ok(committed)
    }

    async fn document(
        &self,
        name: &str,
        generation: u64,
        key: &DocumentKey,
    ) -> Result<Option<String>> {
        const DOING: &str = "read a document";
        let client = self.client(DOING).await?;
        projections::document(&client, name, generation, key)
            .await
            .during(DOING)
    }

    async fn get(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>> {
        let client = self.client("read a document").await?;
        projections::get(&client, name, partition, collection, id).await
    }

    async fn list(
        &self,
        name: &str,
        partition: &str,
        collection: &str,
        query: &ListQuery,
    ) -> Result<Page> {
        let client = self.client("list documents").await?;
        projections::list(&client, name, partition, collection, query).await
    }

    async fn count(&self, name: &str, partition: &str, collection: &str) -> Result<u64> {
        let client = self.client("count documents").await?;
        projections::count(&client, name, partition, collection).await
    }

    async fn skipped(&self, name: &str, after: u64, limit: usize) -> Result<Vec<SkippedEvent>> {
        let client = self.client("read skipped events").await?;
        projections::skipped(&client, name, after, limit).await
    }
}

#[async_trait]
impl ModuleStore for PgStore {
    async fn record(&self, module: NewModule<'_>) -> Result<ModuleRecord> {
        let mut client = self.client("record a deploy").await?;
        self.wrote();
        modules::record(&mut client, module).await
    }

    async fn current(&self) -> Result<Vec<(ModuleRecord, Vec<u8>)>> {
        const DOING: &str = "read the deployed modules";
        let client = self.client(DOING).await?;
        modules::current(&client).await.during(DOING)
    }

    async fn history(&self, name: &str) -> Result<Vec<ModuleRecord>> {
        const DOING: &str = "read a module's deploys";
        let client = self.client(DOING).await?;
        modules::history(&client, name).await.during(DOING)
    }

    async fn version(&self, name: &str, version: u64) -> Result<Option<(ModuleRecord, Vec<u8>)>> {
        const DOING: &str = "read a module version";
        let client = self.client(DOING).await?;
        modules::version(&client, name, version).await.during(DOING)
    }

    async fn deploys(&self) -> Result<u64> {
        const DOING: &str = "count the deploys";
        let client = self.client(DOING).await?;
        modules::deploys(&client).await.during(DOING)
    }

    async fn record_snapshot(&self, snapshot: &SnapshotProjection) -> Result<()> {
        const DOING: &str = "record a snapshot projection";
        let client = self.client(DOING).await?;
        self.wrote();
        modules::record_snapshot(&client, snapshot)
            .await
            .during(DOING)
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotProjection>> {
        const DOING: &str = "read the snapshot projections";
        let client = self.client(DOING).await?;
        modules::snapshots(&client).await.during(DOING)
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let mut client = self.client("take a lease").await?;
        self.wrote();
        leases::acquire(&mut client, name, owner, ttl).await
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        const DOING: &str = "release a lease";
        let client = self.client(DOING).await?;
        self.wrote();
        leases::release(&client, lease).await.during(DOING)
    }

    async fn leases(&self) -> Result<Vec<Lease>> {
        const DOING: &str = "read the leases";
        let client = self.client(DOING).await?;
        leases::all(&client).await.during(DOING)
    }
}

impl Drop for PgStore {
    /// Stop listening for other nodes' commits.
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/events?sslmode=disable"),
            "postgres://app:***@db:5432/events?sslmode=disable"
        );
        assert_eq!(redacted("postgres://db/events"), "postgres://db/events");
        assert_eq!(
            redacted("postgres://app@db/events"),
            "postgres://app@db/events"
        );
        assert_eq!(redacted("host=db dbname=x"), "host=db dbname=x");
    }
}
