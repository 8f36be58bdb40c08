//! Exactly-once application: a child process catching the cart-summary projection up
//! over 100,000 cart events is killed with SIGKILL at random moments and restarted on
//! the same file; the read model it ends with equals a from-scratch rebuild, document
//! for document, and the workload's check sums hold.
//!
//! The kill points come from a seeded generator: each run is let go a few batches (the
//! child applies one batch per line it reads on stdin) and killed soon after it reports
//! beginning the k-th, so it dies mid-batch or between batches, and never after the
//! catch-up ends: the runs together are let go fewer batches than the catch-up takes.
//!
//! SQLite-only: the child process reopens the same SQLite file after each kill (killed
//! nodes on PostgreSQL are the multi-node process tests' to cover).

use super::PATIENCE;
use crate::support::guests::{self, CART_SUMMARY};
use crate::support::wait::Lines;
use crate::support::{block_on, example_binary};
use refold::projections::{FailurePolicy, ListQuery, ProjectionConfig, ProjectionEngine};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::EventStore;
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold_workload as workload;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EVENTS: u64 = workload::CARTS * (workload::ITEMS + 2);
const KILLS: usize = 10;
/// A killed run is killed once it reports starting its k-th batch, k in 1..=this.
const MOST_BATCHES_BEFORE_KILL: u64 = 12;
/// ... and is let go up to this many batches further (0..this), to die anywhere from
/// inside batch k to waiting before batch k + extra + 1.
const EXTRA_BATCHES: u64 = 3;
/// The kill comes 0..this many milliseconds after batch k began. Where it can land is
/// bounded by the batches allowed, whatever the delay; the delay spreads it over the
/// phases of a batch: applying, committing, reading the next, waiting for its turn.
const MOST_KILL_DELAY_MS: u64 = 100;
/// How long the last, unkilled run may take to catch up the rest (its own limit).
const LAST_RUN: Duration = Duration::from_secs(600);

/// A small xorshift generator: the test prints its seed so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// The checkpoint the projection has committed in the file at `database`.
fn committed_checkpoint(database: &Path) -> u64 {
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.query_row(
        "SELECT checkpoint FROM projection_generations WHERE projection = 'cart-summary'",
        [],
        |row| row.get(0),
    )
    .unwrap_or(0)
}

/// Every cart-summary document in the file at `database`.
fn documents(database: &Path) -> Vec<refold::projections::Document> {
    let storage = SqliteStore::open_storage(StoreConfig::new(database)).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let engine =
        block_on(async { ProjectionEngine::new(&storage, runtime, ProjectionConfig::default()) });
    block_on(engine.list(
        "cart-summary",
        "default",
        "cart_summary",
        &ListQuery::first(2 * workload::CARTS as usize),
    ))
    .unwrap()
    .documents
}

#[test]
fn sigkill_during_catch_up_never_applies_an_event_twice_or_skips_one() {
    let seed = std::env::var("REFOLD_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("exactly-once seed: {seed} (rerun with REFOLD_TEST_SEED={seed})");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed.db");
    let fresh = dir.path().join("fresh.db");
    {
        let store =
            SqliteStore::open(StoreConfig::new(&killed).with_synchronous(Synchronous::Normal))
                .unwrap();
        block_on(workload::append_carts(&store, workload::CARTS, 1)).unwrap();
        assert_eq!(store.head(), EVENTS);
    }
    std::fs::copy(&killed, &fresh).unwrap();

    let child = example_binary("projection-child");
    let wasm = guests::wasm_path(CART_SUMMARY);
    let cache = dir.path().join("compiled");
    let run_child = |stdin: Stdio| {
        let mut process = Command::new(&child)
            .arg(&killed)
            .arg(&wasm)
            .arg(&cache)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Lines::new(process.stdout.take().unwrap());
        (process, lines)
    };
    // Every killed run together applies fewer batches than the catch-up takes.
    let batches = EVENTS / ProjectionConfig::default().batch_size as u64;
    let most_batches = KILLS as u64 * (MOST_BATCHES_BEFORE_KILL + EXTRA_BATCHES - 1);
    assert!(
        most_batches < batches,
        "{KILLS} kills could let the child apply {most_batches} of the {batches} batches"
    );

    let mut kills = Vec::new();
    for kill in 0..KILLS {
        let batches_before_kill = 1 + rng.below(MOST_BATCHES_BEFORE_KILL);
        let batches_allowed = batches_before_kill + rng.below(EXTRA_BATCHES);
        let (mut process, mut lines) = run_child(Stdio::piped());
        let mut pace = process.stdin.take().unwrap();
        pace.write_all("go\n".repeat(batches_allowed as usize).as_bytes())
            .unwrap();
        let started = lines.next(PATIENCE, &format!("run {kill} to start"));
        assert_eq!(started.trim(), "started", "run {kill}");
        for batch in 1..=batches_before_kill {
            let line = lines.next(
                PATIENCE,
                &format!("run {kill} to begin batch {batch} of {batches_before_kill}"),
            );
            assert!(line.starts_with("apply "), "run {kill}: {line:?}");
        }
        std::thread::sleep(Duration::from_millis(rng.below(MOST_KILL_DELAY_MS)));
        process.kill().unwrap();
        let status = process.wait().unwrap();
        drop(pace);
        let checkpoint = committed_checkpoint(&killed);
        println!(
            "kill {kill}: {status} once batch {batches_before_kill} began ({batches_allowed} allowed), at checkpoint {checkpoint}"
        );
        assert!(
            !status.success() && checkpoint < EVENTS,
            "the child finished before kill {kill} (kills so far at {kills:?}): the kills must land mid-catch-up"
        );
        kills.push(checkpoint);
    }

    let last_run = std::time::Instant::now();
    let (mut process, lines) = run_child(Stdio::null());
    let output = lines.rest(LAST_RUN);
    let status = process.wait().unwrap();
    let batches_left = output.iter().filter(|l| l.starts_with("apply ")).count();
    println!(
        "the last run applied {batches_left} batches in {:?}",
        last_run.elapsed()
    );
    assert!(
        status.success(),
        "the last run failed: {status}; its last lines: {:?}",
        &output[output.len().saturating_sub(5)..]
    );
    assert_eq!(
        output.last().map(String::as_str),
        Some(format!("done {EVENTS}").as_str())
    );
    assert_eq!(committed_checkpoint(&killed), EVENTS);

    {
        let storage = SqliteStore::open_storage(StoreConfig::new(&fresh)).unwrap();
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let module = runtime.deploy(
            runtime
                .load("cart-summary", &guests::wasm(CART_SUMMARY))
                .unwrap(),
        );
        let engine = block_on(async {
            ProjectionEngine::new(&storage, runtime, ProjectionConfig::default())
        });
        block_on(engine.deploy(module, FailurePolicy::Stop)).unwrap();
        block_on(engine.wait_for("cart-summary", EVENTS, PATIENCE)).unwrap();
    }

    let killed_documents = documents(&killed);
    let fresh_documents = documents(&fresh);
    assert_eq!(killed_documents.len(), workload::CARTS as usize);
    assert!(
        killed_documents == fresh_documents,
        "the killed run's model differs from a rebuild"
    );
    let (mut items, mut total, mut confirmed) = (0, 0, 0);
    for document in &killed_documents {
        let summary: serde_json::Value = serde_json::from_str(&document.document).unwrap();
        items += summary["itemCount"].as_u64().unwrap();
        total += summary["total"].as_u64().unwrap();
        confirmed += u64::from(summary["status"] == "confirmed");
    }
    assert_eq!(items, workload::CHECK_ITEM_COUNT);
    assert_eq!(total, workload::CHECK_TOTAL);
    assert_eq!(confirmed, workload::CARTS);
}
