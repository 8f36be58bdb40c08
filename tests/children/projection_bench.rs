//! The projections' part of the benchmark suite (see `shared/WORKLOADS.md`): W5,
//! projection catch-up.
//!
//! The store holds the 100,000 cart events of W1, in W1's round-robin order, appended
//! once (untimed) and copied fresh for every run. Timed: from deploying the cart-summary
//! projection at position 0 until its checkpoint passes the last event. It runs once
//! with the component (wasm) and once with the same Rust compiled in
//! (`NativeProjection<CartSummaryProjection>`); both go through the same runner and
//! write to SQLite the same way: batches of 500 events, each batch's documents and
//! checkpoint in one transaction. Both at `synchronous=FULL` and `NORMAL`, in WAL mode.
//!
//! Build the component first, then run in release:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p cart-summary
//! cargo run --release -p refold --example projection-bench [-- <cart_summary.wasm>]
//! ```
//!
//! It prints a table, then one JSON object per figure in the suite's output format.

use cart_summary::{CartSummary, CartSummaryProjection};
use refold::projections::{
    FailurePolicy, ListQuery, NativeProjection, ProjectionConfig, ProjectionEngine, ProjectionLogic,
};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{EventStore, SqliteStore, StoreConfig, Synchronous};
use refold::workload;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: u64 = workload::CARTS * (workload::ITEMS + 2);

/// One timed catch-up.
struct Run {
    events_per_second: f64,
    observed: String,
}

fn main() -> anyhow::Result<()> {
    let wasm = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => default_wasm()?,
    };
    let bytes = std::fs::read(&wasm).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}): build it with `cargo build --release --target wasm32-wasip2 -p cart-summary`",
            wasm.display()
        )
    })?;
    let dir = tempfile::tempdir()?;
    let base = dir.path().join("w1.db");
    {
        let store =
            SqliteStore::open(StoreConfig::new(&base).with_synchronous(Synchronous::Normal))?;
        workload::append_carts(&store, workload::CARTS, 1)?;
        anyhow::ensure!(
            store.head() == EVENTS,
            "the W1 store holds {} events",
            store.head()
        );
    }

    let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
    let module = runtime.deploy(runtime.load("cart-summary", &bytes)?);
    let native: Arc<dyn ProjectionLogic> = Arc::new(
        NativeProjection::<CartSummaryProjection>::new("cart-summary"),
    );

    let mut lines = Vec::new();
    println!("W5 projection catch-up: 100,000 W1 events, cart-summary, batches of 500");
    println!(
        "{:<8} {:>16} {:>16} {:>8}",
        "sync", "wasm events/s", "native events/s", "ratio"
    );
    for (variant, synchronous) in [("FULL", Synchronous::Full), ("NORMAL", Synchronous::Normal)] {
        let wasm_run = catch_up(
            &base,
            &dir.path().join("run.db"),
            synchronous,
            &runtime,
            module.clone(),
        )?;
        let native_run = catch_up(
            &base,
            &dir.path().join("run.db"),
            synchronous,
            &runtime,
            native.clone(),
        )?;
        println!(
            "{variant:<8} {:>16.0} {:>16.0} {:>7.0}%",
            wasm_run.events_per_second,
            native_run.events_per_second,
            100.0 * wasm_run.events_per_second / native_run.events_per_second
        );
        lines.push(format!(
            r#"{{"system": "refold", "variant": "{variant}", "run": 1, "info": {}}}"#,
            wasm_run.observed
        ));
        for (system, run) in [("refold", &wasm_run), ("native", &native_run)] {
            lines.push(format!(
                r#"{{"system": "{system}", "variant": "{variant}", "run": 1, "workload": "W5", "metric": "events_per_s", "value": {:.0}}}"#,
                run.events_per_second
            ));
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Copy the W1 store to `run`, catch `logic` up over it at `synchronous`, and verify
/// the read model's check sums.
fn catch_up(
    base: &Path,
    run: &Path,
    synchronous: Synchronous,
    runtime: &Arc<Runtime>,
    logic: Arc<dyn ProjectionLogic>,
) -> anyhow::Result<Run> {
    std::fs::copy(base, run)?;
    let store = Arc::new(SqliteStore::open(
        StoreConfig::new(run).with_synchronous(synchronous),
    )?);
    let observed = format!(
        r#"{{"journal": "{}", "synchronous": "{}", "sqlite": "{}"}}"#,
        store.journal_mode(),
        store.synchronous(),
        store.sqlite_version()
    );
    let engine = ProjectionEngine::new(store, runtime.clone(), ProjectionConfig::default())?;
    let name = logic.name().to_owned();
    let started = Instant::now();
    engine.deploy_logic(logic, FailurePolicy::Stop)?;
    engine.wait_for(&name, EVENTS, Duration::from_secs(600))?;
    let elapsed = started.elapsed();
    verify(&engine, &name)?;
    Ok(Run {
        events_per_second: EVENTS as f64 / elapsed.as_secs_f64(),
        observed,
    })
}

/// W5's check: 10,000 rows, Σ item_count 160,001, Σ total 802,573,025, all confirmed.
fn verify(engine: &ProjectionEngine, name: &str) -> anyhow::Result<()> {
    let page = engine.list(
        name,
        "default",
        cart_summary::COLLECTION,
        &ListQuery::first(2 * workload::CARTS as usize),
    )?;
    let (mut items, mut total, mut confirmed) = (0, 0, 0);
    for document in &page.documents {
        let summary: CartSummary = serde_json::from_str(&document.document)?;
        items += summary.item_count;
        total += summary.total;
        confirmed += u64::from(summary.status == "confirmed");
    }
    anyhow::ensure!(
        page.documents.len() as u64 == workload::CARTS
            && items == workload::CHECK_ITEM_COUNT
            && total == workload::CHECK_TOTAL
            && confirmed == workload::CARTS,
        "W5 check failed: {} rows, Σ itemCount {items}, Σ total {total}, {confirmed} confirmed",
        page.documents.len()
    );
    Ok(())
}

/// `<target>/wasm32-wasip2/release/cart_summary.wasm`; this example is
/// `<target>/<profile>/examples/projection-bench`.
fn default_wasm() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe.ancestors().nth(3).ok_or_else(|| {
        anyhow::anyhow!("cannot locate the target directory from {}", exe.display())
    })?;
    Ok(target.join("wasm32-wasip2/release/cart_summary.wasm"))
}
