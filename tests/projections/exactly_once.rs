//! Exactly-once application: a child process catching the cart-summary projection up
//! over 100,000 cart events is killed with SIGKILL at random moments and restarted on
//! the same file; the read model it ends with equals a from-scratch rebuild, document
//! for document, and the workload's check sums hold.

use super::PATIENCE;
use crate::support::guests::{self, CART_SUMMARY};
use crate::support::{block_on, example_binary};
use refold::projections::{FailurePolicy, ListQuery, ProjectionConfig, ProjectionEngine};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::EventStore;
use refold::store::sqlite::{SqliteStore, StoreConfig, Synchronous};
use refold_workload as workload;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EVENTS: u64 = workload::CARTS * (workload::ITEMS + 2);
const KILLS: usize = 10;

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
    let run_child = || {
        Command::new(&child)
            .arg(&killed)
            .arg(&wasm)
            .arg(&cache)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let mut kills = Vec::new();
    for kill in 0..KILLS {
        let mut process = run_child();
        let mut started = String::new();
        BufReader::new(process.stdout.as_mut().unwrap())
            .read_line(&mut started)
            .unwrap();
        assert_eq!(started.trim(), "started", "run {kill}");
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        process.kill().unwrap();
        let status = process.wait().unwrap();
        let checkpoint = committed_checkpoint(&killed);
        println!("kill {kill}: {status} at checkpoint {checkpoint}");
        assert!(
            !status.success() && checkpoint < EVENTS,
            "the child finished before kill {kill} (kills so far at {kills:?}): the kills must land mid-catch-up"
        );
        kills.push(checkpoint);
    }

    let output = run_child().wait_with_output().unwrap();
    assert!(output.status.success(), "the last run failed: {output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().last(),
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
