//! The benchmark suite: the standard workloads of `docs/workloads.md` run against
//! Refold, each beside its baselines, so a figure always comes with what it is
//! compared to.
//!
//! The suite is split into [`Job`]s, each run by `refold bench` in a fresh process on
//! fresh temporary databases: [`run_job`] runs one and returns a [`JobReport`] with
//! its [`Figure`]s, the SQLite settings it observed and the process's peak memory.
//! The workloads live in one module per part of the engine they measure:
//! `appends` (W1, W1-64, W2, W2-batch and the BULK ceiling), `rehydrate` (W3, READ-ALL, FOLD),
//! `commands` (W4, W4-16), `projection` (W5), `lifecycle` (W6), `dcb` (DCB: a decision
//! across streams by tags and an append condition), `workflow` (WF: the order flow's
//! inputs, wasm beside native) and `http` (H1, H1-32, H4, H4-32: the same over the
//! HTTP API). `baseline` holds
//! the raw-rusqlite code every SQLite baseline shares, and [`report`] the statistics,
//! tables and JSON lines.
//!
//! Every workload verifies its result (counts and the cart check sums) and fails with
//! [`BenchError::Verify`] when it is wrong: a figure is only reported for work that was
//! actually done right. W3 and W5 start from a store that W1 filled; [`prepare`] makes
//! it once per suite (the same events in W1's order, untimed) and each run copies it.

mod appends;
mod baseline;
mod command;
mod commands;
mod dcb;
mod http;
mod lifecycle;
mod projection;
mod rehydrate;
pub mod report;
mod workflow;

pub use command::{BenchArgs, run};
pub use report::{Figure, JobReport, Metric, Observed, System};

use refold::runtime::{Module, Runtime, RuntimeConfig};
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold::store::{EventData, EventStore, LogFilter};
use refold_workload as workload;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What can stop a benchmark job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A workload's result is wrong: a count or a check sum differs.
    #[error("{workload} failed its check: {problem}")]
    Verify {
        /// The workload, e.g. `W1`.
        workload: String,
        /// What differed, with the expected and the found values.
        problem: String,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] refold::Error),
    /// A raw-SQLite baseline failed.
    #[error("the raw SQLite baseline failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A file of the benchmark could not be used.
    #[error("cannot use {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The result type of the benchmark code.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Fail with [`BenchError::Verify`] for `workload` unless `ok`.
fn check(ok: bool, workload: &str, problem: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(verify_error(workload, problem()))
    }
}

/// One unit of the suite, run in its own process: a workload with its baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// The BULK ceiling: the W2 rows inserted raw, 1,000 per transaction.
    Bulk,
    /// W1: one event per append, one client.
    W1,
    /// W1-64: W1's appends from 64 concurrent clients.
    W1x64,
    /// W2: one append of a whole cart per stream.
    W2,
    /// W2-batch: W2's carts, 100 streams per multi-stream append.
    W2Batch,
    /// W3-1k, W3-10k and W3-10k-snap, with the READ-ALL and FOLD ceilings.
    W3,
    /// W4: command handling, one client.
    W4,
    /// W4-16: W4's commands from 16 concurrent clients.
    W4x16,
    /// W5: projection catch-up.
    W5,
    /// W6: the cart decider's module lifecycle.
    W6,
    /// H1: W1-like appends over HTTP, one connection.
    H1,
    /// H1-32: H1 from 32 connections.
    H1x32,
    /// H4: `OpenCart` commands over HTTP, one connection.
    H4,
    /// H4-32: H4 from 32 connections.
    H4x32,
    /// DCB: subscriptions decided over a query of tags, appended under a condition.
    Dcb,
    /// WF: the order-flow workflow handling confirmed carts.
    Wf,
}

impl Job {
    /// Every job, in the order a run goes through them.
    pub const ALL: [Job; 16] = [
        Job::Bulk,
        Job::W1,
        Job::W1x64,
        Job::W2,
        Job::W2Batch,
        Job::W3,
        Job::W4,
        Job::W4x16,
        Job::W5,
        Job::W6,
        Job::H1,
        Job::H1x32,
        Job::H4,
        Job::H4x32,
        Job::Dcb,
        Job::Wf,
    ];

    /// The job's name, as `--workloads` and reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Job::Bulk => "BULK",
            Job::W1 => "W1",
            Job::W1x64 => "W1-64",
            Job::W2 => "W2",
            Job::W2Batch => "W2-batch",
            Job::W3 => "W3",
            Job::W4 => "W4",
            Job::W4x16 => "W4-16",
            Job::W5 => "W5",
            Job::W6 => "W6",
            Job::H1 => "H1",
            Job::H1x32 => "H1-32",
            Job::H4 => "H4",
            Job::H4x32 => "H4-32",
            Job::Dcb => "DCB",
            Job::Wf => "WF",
        }
    }

    /// The job that measures the workload or ceiling `name` (case-insensitive):
    /// `W3-1k` and `READ-ALL` are measured by [`Job::W3`], `W6-compile` by [`Job::W6`].
    pub fn for_workload(name: &str) -> Option<Job> {
        let name = name.trim().to_ascii_uppercase();
        match name.as_str() {
            "W3-1K" | "W3-10K" | "W3-10K-SNAP" | "READ-ALL" | "FOLD" => Some(Job::W3),
            "W2-BATCH" => Some(Job::W2Batch),
            _ if name.starts_with("W6-") => Some(Job::W6),
            _ => Job::ALL.into_iter().find(|job| job.name() == name),
        }
    }

    /// The jobs whose figures `self`'s are compared to, so selecting a workload runs
    /// its baseline too.
    pub fn baselines(self) -> &'static [Job] {
        match self {
            Job::W1 | Job::W1x64 | Job::W2 | Job::W2Batch => &[Job::Bulk],
            _ => &[],
        }
    }

    /// Whether the job runs the cart decider component.
    pub fn needs_cart(self) -> bool {
        matches!(
            self,
            Job::W3 | Job::W4 | Job::W4x16 | Job::W6 | Job::H4 | Job::H4x32
        )
    }

    /// Whether the job needs the W1 store of [`prepare`] (W3's also needs the
    /// cart-summary component to make it).
    pub fn needs_w1_store(self) -> bool {
        matches!(self, Job::W3 | Job::W5)
    }
}

/// How big the workloads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The sizes of `docs/workloads.md`.
    Full,
    /// Reduced sizes for a smoke check: every workload runs and verifies, in seconds.
    Quick,
}

/// The sizes of one [`Scale`].
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Carts of W1, W2, W5 and the W3 store (10 events each).
    pub carts: u64,
    /// Items of W3's long stream `cart-{carts}` (events: items + 2).
    pub long_items: u64,
    /// Distinct carts W3-1k loads.
    pub loads: u64,
    /// Timed loads of W3's long stream.
    pub stream_loads: usize,
    /// Carts of W4 (10 commands each).
    pub command_carts: u64,
    /// Samples of each W6 figure.
    pub samples: usize,
    /// Passes of the FOLD ceiling.
    pub fold_passes: usize,
    /// How long each side of an HTTP workload sends requests.
    pub http_run: Duration,
    /// Tagged events stored before DCB's commands.
    pub dcb_events: u64,
    /// DCB's commands.
    pub dcb_commands: u64,
    /// Orders WF's workflow handles.
    pub orders: u64,
}

impl Scale {
    /// The scale's name in reports: `full` or `quick`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Full => "full",
            Scale::Quick => "quick",
        }
    }

    /// Its sizes.
    pub fn sizes(self) -> Sizes {
        match self {
            Scale::Full => Sizes {
                carts: workload::CARTS,
                long_items: 9_998,
                loads: 1_000,
                stream_loads: 20,
                command_carts: 1_000,
                samples: 5,
                fold_passes: 5,
                http_run: Duration::from_secs(10),
                dcb_events: 100_000,
                dcb_commands: 2_000,
                orders: 10_000,
            },
            Scale::Quick => Sizes {
                carts: 200,
                long_items: 998,
                loads: 200,
                stream_loads: 5,
                command_carts: 50,
                samples: 3,
                fold_passes: 3,
                http_run: Duration::from_secs(1),
                dcb_events: 2_000,
                dcb_commands: 100,
                orders: 200,
            },
        }
    }
}

/// The name of a durability variant in reports: `FULL` or `NORMAL`.
pub fn variant_name(synchronous: Synchronous) -> &'static str {
    match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    }
}

/// The guest components the suite runs.
#[derive(Debug, Clone)]
pub struct Modules {
    /// The cart decider (`cart.wasm`).
    pub cart: PathBuf,
    /// The cart-summary projection (`cart_summary.wasm`).
    pub cart_summary: PathBuf,
    /// The stock decider (`stock.wasm`).
    pub stock: PathBuf,
    /// The payment decider (`payment.wasm`).
    pub payment: PathBuf,
    /// The order-flow workflow (`order_flow.wasm`).
    pub order_flow: PathBuf,
}

impl Modules {
    /// The components in `dir`, as cargo names them.
    pub fn in_dir(dir: &Path) -> Modules {
        Modules {
            cart: dir.join("cart.wasm"),
            cart_summary: dir.join("cart_summary.wasm"),
            stock: dir.join("stock.wasm"),
            payment: dir.join("payment.wasm"),
            order_flow: dir.join("order_flow.wasm"),
        }
    }
}

/// Everything a job needs besides its own temporary folder.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Durability of every store and raw connection.
    pub synchronous: Synchronous,
    /// Sizes of the workloads.
    pub scale: Scale,
    /// The guest components.
    pub modules: Modules,
    /// The suite's folder, shared by its runs: the stores [`prepare`] made and the
    /// compiled components every job but W6 reuses.
    pub shared: PathBuf,
}

impl Setup {
    fn sizes(&self) -> Sizes {
        self.scale.sizes()
    }

    /// A new store at `path` with this setup's durability.
    fn open_store(&self, path: &Path) -> Result<SqliteStore> {
        Ok(SqliteStore::open(
            StoreConfig::new(path).with_synchronous(self.synchronous),
        )?)
    }

    /// A runtime whose compiled components are cached in the shared folder, so only the
    /// first job of a suite compiles them.
    fn runtime(&self) -> Result<Arc<Runtime>> {
        Ok(Arc::new(Runtime::new(RuntimeConfig {
            cache_dir: Some(self.shared.join("compiled")),
            ..RuntimeConfig::default()
        })?))
    }

    /// The cart decider, loaded and deployed as `cart` in `runtime`.
    fn deploy_cart(&self, runtime: &Runtime) -> Result<Arc<Module>> {
        Ok(runtime.deploy(runtime.load_file("cart", &self.modules.cart)?))
    }

    /// A copy of the store [`prepare`] made as `name`, at `path`, opened.
    fn copy_of(&self, name: &str, path: &Path) -> Result<SqliteStore> {
        let template = self.shared.join(name);
        std::fs::copy(&template, path).map_err(|source| BenchError::Io {
            path: template,
            source,
        })?;
        self.open_store(path)
    }
}

/// The W1 store of [`prepare`]: W1's events in W1's order.
const W1_STORE: &str = "w1.db";
/// The W3 store of [`prepare`]: the W1 store after W5 ran on it, plus the long stream.
const W3_STORE: &str = "w3.db";

/// Make the stores W3 and W5 start from, in `setup.shared`, for the given jobs: W1's
/// events appended one at a time in W1's order (at NORMAL: the file is the same, only
/// faster to make), and for W3 that store after the cart-summary projection caught up
/// on it, with W3's long stream appended 100 events per call.
pub fn prepare(setup: &Setup, jobs: &[Job]) -> Result<()> {
    if !jobs.iter().any(|job| job.needs_w1_store()) {
        return Ok(());
    }
    let sizes = setup.sizes();
    let fast = Setup {
        synchronous: Synchronous::Normal,
        ..setup.clone()
    };
    let w1 = setup.shared.join(W1_STORE);
    {
        let store = fast.open_store(&w1)?;
        crate::block_on(workload::append_carts(&store, sizes.carts, 1))?;
        verify_carts("the W1 store", &store, sizes.carts)?;
    }
    if jobs.contains(&Job::W3) {
        let store = Arc::new(fast.copy_of(W1_STORE, &setup.shared.join(W3_STORE))?);
        let runtime = fast.runtime()?;
        projection::catch_up_wasm(&fast, &store, &runtime, "the W3 store")?;
        rehydrate::append_long_stream(&store, sizes)?;
    }
    Ok(())
}

/// Run `job` at `setup`, as run number `run`, on fresh databases in a new temporary
/// folder, and report its figures.
pub fn run_job(job: Job, setup: &Setup, run: u32) -> Result<JobReport> {
    let dir = tempfile::tempdir().map_err(|source| BenchError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut recorder = Recorder::default();
    let work = Work {
        setup,
        dir: dir.path(),
    };
    match job {
        Job::Bulk => appends::bulk(&work, &mut recorder)?,
        Job::W1 => appends::w1(&work, &mut recorder, Job::W1)?,
        Job::W1x64 => appends::w1(&work, &mut recorder, Job::W1x64)?,
        Job::W2 => appends::w2(&work, &mut recorder)?,
        Job::W2Batch => appends::w2_batch(&work, &mut recorder)?,
        Job::W3 => rehydrate::w3(&work, &mut recorder)?,
        Job::W4 => commands::w4(&work, &mut recorder, Job::W4)?,
        Job::W4x16 => commands::w4(&work, &mut recorder, Job::W4x16)?,
        Job::W5 => projection::w5(&work, &mut recorder)?,
        Job::W6 => lifecycle::w6(&work, &mut recorder)?,
        job @ (Job::H1 | Job::H1x32 | Job::H4 | Job::H4x32) => http::h(&work, &mut recorder, job)?,
        Job::Dcb => dcb::dcb(&work, &mut recorder)?,
        Job::Wf => workflow::wf(&work, &mut recorder)?,
    }
    Ok(JobReport {
        job: job.name().to_owned(),
        variant: variant_name(setup.synchronous).to_owned(),
        run,
        scale: setup.scale.name().to_owned(),
        observed: recorder.observed.unwrap_or_default(),
        figures: recorder.figures,
        peak_rss_kib: report::peak_rss_kib(),
    })
}

/// A job's setup and its own fresh folder.
struct Work<'a> {
    setup: &'a Setup,
    dir: &'a Path,
}

impl Work<'_> {
    /// A fresh, empty store named `name` in the job's folder.
    fn fresh_store(&self, name: &str) -> Result<SqliteStore> {
        self.setup.open_store(&self.dir.join(name))
    }
}

/// What a job measured so far.
#[derive(Default)]
struct Recorder {
    observed: Option<Observed>,
    figures: Vec<Figure>,
}

impl Recorder {
    /// Note the settings `store` observed (the first store a job opens speaks for it).
    fn observe(&mut self, store: &SqliteStore) {
        self.observed.get_or_insert_with(|| Observed {
            journal: store.journal_mode().to_owned(),
            synchronous: store.synchronous().to_owned(),
            sqlite: store.sqlite_version().to_owned(),
        });
    }

    fn figure(&mut self, system: System, workload: &str, metric: Metric, value: f64) {
        self.figures.push(Figure {
            system,
            workload: workload.to_owned(),
            metric,
            value,
        });
    }

    /// Record the latency figures of a series of timed operations: median and p99 in
    /// milliseconds, and `events_per_s` as given.
    fn latencies(
        &mut self,
        system: System,
        workload: &str,
        timings: &[Duration],
        events_per_s: f64,
    ) {
        let summary = report::Latencies::of(timings);
        self.figure(system, workload, Metric::MedianMs, summary.median_ms);
        self.figure(system, workload, Metric::P99Ms, summary.p99_ms);
        self.figure(system, workload, Metric::EventsPerS, events_per_s);
    }
}

/// Run `work` and return its result with the wall time it took.
fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    let result = work()?;
    Ok((result, start.elapsed()))
}

/// Per second: `count` over `elapsed`.
fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// The standard carts `0..carts`' events grouped by cart, in stream order.
fn carts_events(carts: u64) -> Vec<Vec<EventData>> {
    (0..carts)
        .map(|i| {
            workload::cart_events(i, workload::ITEMS)
                .into_iter()
                .map(|(event_type, data)| EventData::new(event_type, data))
                .collect()
        })
        .collect()
}

/// Check that `store` holds exactly the events of carts `0..carts` (10 each) and that
/// their `CartConfirmed` events add up to the generator's check sums.
fn verify_carts(workload: &str, store: &SqliteStore, carts: u64) -> Result<()> {
    let expected_events = carts * (workload::ITEMS + 2);
    check(store.head() == expected_events, workload, || {
        format!("{} events stored, expected {expected_events}", store.head())
    })?;
    let filter = LogFilter {
        event_types: vec!["CartConfirmed".to_owned()],
        ..LogFilter::default()
    };
    let (mut after, mut confirmed, mut items, mut total) = (0, 0u64, 0u64, 0u64);
    loop {
        let batch = crate::block_on(store.read_log(after, &filter, 1000))?;
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        for event in &batch {
            let data: serde_json::Value = serde_json::from_str(&event.data)
                .map_err(|e| verify_error(workload, format!("unreadable CartConfirmed: {e}")))?;
            items += data["itemCount"].as_u64().unwrap_or(0);
            total += data["total"].as_u64().unwrap_or(0);
            confirmed += 1;
        }
    }
    let (expected_items, expected_total) = workload::check_sums(carts);
    check(
        confirmed == carts && items == expected_items && total == expected_total,
        workload,
        || {
            format!(
                "{confirmed} confirmed carts with Σ itemCount {items} and Σ total {total}, \
                 expected {carts}, {expected_items} and {expected_total}"
            )
        },
    )
}

fn verify_error(workload: &str, problem: String) -> BenchError {
    BenchError::Verify {
        workload: workload.to_owned(),
        problem,
    }
}
