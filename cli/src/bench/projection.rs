//! W5, projection catch-up: the cart-summary projection folds the W1 store from
//! position 0.
//!
//! It measures the projection runner: reading the log in batches of 500, applying
//! them through the logic, and committing each batch's documents with the checkpoint
//! in one transaction in the store's file. It runs with the component (wasm), with the
//! same Rust compiled in (`NativeProjection<CartSummaryProjection>`) through the same
//! runner, and as hand-written SQL over a `cart_summary` table (raw SQLite), each on
//! its own copy of the W1 store.

use super::{
    Metric, Recorder, Result, Setup, System, W1_STORE, Work, baseline, check, per_second, timed,
};
use cart_summary::{CartSummary, CartSummaryProjection};
use refold::projections::{
    FailurePolicy, ListQuery, NativeProjection, ProjectionConfig, ProjectionEngine, ProjectionLogic,
};
use refold::runtime::Runtime;
use refold::store::sqlite::SqliteStore;
use refold::store::{EventStore, Storage};
use refold_workload as workload;
use std::sync::Arc;
use std::time::Duration;

/// How long a catch-up may take before the suite gives up on it.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);

/// W5 with the component, natively, and raw; events per second each.
pub(super) fn w5(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let setup = work.setup;
    let runtime = setup.runtime()?;
    let store = Arc::new(setup.copy_of(W1_STORE, &work.dir.join("wasm.db"))?);
    recorder.observe(&store);
    let events = store.head();
    let elapsed = catch_up_wasm(setup, &store, &runtime, "W5")?;
    recorder.figure(
        System::Refold,
        "W5",
        Metric::EventsPerS,
        per_second(events, elapsed),
    );

    let store = Arc::new(setup.copy_of(W1_STORE, &work.dir.join("native.db"))?);
    let native = Arc::new(NativeProjection::<CartSummaryProjection>::new(
        "cart-summary",
    ));
    let elapsed = catch_up(setup, &store, &runtime, native, "native W5")?;
    recorder.figure(
        System::Native,
        "W5",
        Metric::EventsPerS,
        per_second(events, elapsed),
    );

    let path = work.dir.join("raw.db");
    drop(setup.copy_of(W1_STORE, &path)?);
    let mut conn = baseline::connect(&path, setup.synchronous)?;
    let ((), elapsed) = timed(|| baseline::project_cart_summary(&mut conn, events))?;
    let sums = baseline::cart_summary_sums(&conn)?;
    verify_sums("raw-sqlite W5", setup, sums)?;
    recorder.figure(
        System::RawSqlite,
        "W5",
        Metric::EventsPerS,
        per_second(events, elapsed),
    );
    Ok(())
}

/// Catch the cart-summary component up over `store` (timed from its deploy until it
/// passed the head) and verify the read model; `workload` names it in errors.
pub(super) fn catch_up_wasm(
    setup: &Setup,
    store: &Arc<SqliteStore>,
    runtime: &Arc<Runtime>,
    workload: &str,
) -> Result<Duration> {
    let module = runtime.deploy(runtime.load_file("cart-summary", &setup.modules.cart_summary)?);
    catch_up(setup, store, runtime, module, workload)
}

/// Deploy `logic` at position 0 over `store`, wait until it passed the head, verify
/// its read model; the time from the deploy until it passed the head.
fn catch_up(
    setup: &Setup,
    store: &Arc<SqliteStore>,
    runtime: &Arc<Runtime>,
    logic: Arc<dyn ProjectionLogic>,
    workload: &str,
) -> Result<Duration> {
    let engine = {
        let _in_runtime = crate::runtime().enter();
        ProjectionEngine::new(
            &Storage::of(store.clone()),
            runtime.clone(),
            ProjectionConfig::default(),
        )
    };
    let name = logic.name().to_owned();
    let head = store.head();
    let (_, elapsed) = timed(|| {
        crate::block_on(async {
            engine.deploy_logic(logic, FailurePolicy::Stop).await?;
            engine.wait_for(&name, head, CATCH_UP_TIMEOUT).await
        })
        .map_err(Into::into)
    })?;
    let page = crate::block_on(engine.list(
        &name,
        refold::store::DEFAULT_PARTITION,
        cart_summary::COLLECTION,
        &ListQuery::first(2 * setup.sizes().carts as usize + 1),
    ))?;
    let mut sums = (page.documents.len() as u64, 0, 0, 0);
    for document in &page.documents {
        let summary: CartSummary = serde_json::from_str(&document.document)
            .map_err(|e| super::verify_error(workload, format!("unreadable summary: {e}")))?;
        sums.1 += summary.item_count;
        sums.2 += summary.total;
        sums.3 += u64::from(summary.status == "confirmed");
    }
    engine.shutdown();
    verify_sums(workload, setup, sums)?;
    Ok(elapsed)
}

/// W5's check: one row per cart, the generator's Σ itemCount and Σ total, every cart
/// confirmed. `sums` is (rows, Σ item count, Σ total, confirmed rows).
fn verify_sums(workload: &str, setup: &Setup, sums: (u64, u64, u64, u64)) -> Result<()> {
    let carts = setup.sizes().carts;
    let (items, total) = workload::check_sums(carts);
    check(sums == (carts, items, total, carts), workload, || {
        format!(
            "read model has (rows, Σ item_count, Σ total, confirmed) = {sums:?}, expected {:?}",
            (carts, items, total, carts)
        )
    })
}
