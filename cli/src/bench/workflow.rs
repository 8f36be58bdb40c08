//! WF, workflow inputs: the order-flow workflow catches up over a store of confirmed
//! carts.
//!
//! The store holds one `CartConfirmed` per order (appended untimed, 100 carts per
//! append); the stock and payment deciders are deployed as components. Timed: from
//! the workflow's deploy until its checkpoint passed the last cart. Each input is one
//! order's start: three steps written to its instance's stream (the cart, the stock's
//! reservation, the payment's request) and two commands sent through the command
//! handler under their derived ids (Reserve, Request), each decided and appended with
//! its command record, then the checkpoint. It runs with the component (wasm) and with
//! the same Rust compiled in (`NativeWorkflow<OrderFlow>`) through the same runner and
//! the same deciders. Metric: inputs/s.

use super::{BenchError, Metric, Recorder, Result, System, Work, check, per_second, timed};
use order_flow::OrderFlow;
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::runtime::RuntimeConfig;
use refold::store::{AppendRequest, Appends, EventData, EventStore, ExpectedVersion, Storage};
use refold::workflows::{NativeWorkflow, projection_of};
use std::sync::Arc;
use std::time::Duration;

/// The workload's name in reports.
const NAME: &str = "WF";
/// How long a catch-up may take before the suite gives up on it.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1200);
/// Carts per append while the store is made.
const CARTS_PER_APPEND: u64 = 100;

/// WF with the component and natively; inputs per second each.
pub(super) fn wf(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let orders = work.setup.sizes().orders;
    for (system, native) in [(System::Refold, false), (System::Native, true)] {
        let elapsed = catch_up(work, orders, native)?;
        recorder.figure(
            system,
            NAME,
            Metric::InputsPerS,
            per_second(orders, elapsed),
        );
    }
    Ok(())
}

/// Make the store of `orders` confirmed carts, run the order flow over it (natively
/// when `native`), verify what it did; the time from its deploy until it passed them.
fn catch_up(work: &Work<'_>, orders: u64, native: bool) -> Result<Duration> {
    let setup = work.setup;
    let file = if native { "native.db" } else { "wasm.db" };
    let store = Arc::new(setup.open_store(&work.dir.join(file))?);
    for first in (0..orders).step_by(CARTS_PER_APPEND as usize) {
        let appends: Vec<AppendRequest> = (first..orders.min(first + CARTS_PER_APPEND))
            .map(|n| AppendRequest {
                partition: refold::store::DEFAULT_PARTITION.to_owned(),
                stream: format!("cart-o{n}"),
                expected: ExpectedVersion::NoStream,
                events: vec![confirmed(n)],
            })
            .collect();
        crate::block_on(store.append_all(Appends {
            appends,
            condition: None,
        }))?;
    }
    let head = store.head();
    let config = EngineConfig {
        runtime: RuntimeConfig {
            cache_dir: Some(setup.shared.join("compiled")),
            ..RuntimeConfig::default()
        },
        ..EngineConfig::new(work.dir.join(file))
    };
    let engine = crate::block_on(Engine::with_storage(Storage::of(store), config))?;
    let modules = &setup.modules;
    for (name, path) in [("stock", &modules.stock), ("payment", &modules.payment)] {
        let bytes = read(path)?;
        crate::block_on(engine.deploy(name, &bytes, FailurePolicy::Stop))?;
    }
    let flow = read(&modules.order_flow)?;
    // Compiled (and cached) untimed: the timed deploy finds it compiled.
    engine.runtime().load("order-flow", &flow)?;
    let (_, elapsed) = timed(|| {
        crate::block_on(async {
            if native {
                let code = Arc::new(NativeWorkflow::<OrderFlow>::new("order-flow"));
                let workflows = engine.workflows();
                workflows
                    .deploy_native(engine.projections(), code, FailurePolicy::Stop)
                    .await?;
            } else {
                engine
                    .deploy("order-flow", &flow, FailurePolicy::Stop)
                    .await?;
            }
            let projection = projection_of("order-flow");
            engine
                .projections()
                .wait_for(&projection, head, CATCH_UP_TIMEOUT)
                .await
        })
        .map_err(Into::into)
    })?;
    let status = crate::block_on(engine.workflow_status())?
        .into_iter()
        .find(|s| s.name == "order-flow");
    let counts = status.map(|s| (s.inputs_handled, s.steps, s.commands_sent));
    engine.shutdown();
    let workload = if native { "native WF" } else { NAME };
    // Every order's three steps, each written once. (An input handled again, after a
    // batch the lease's fence refused, say, sends its commands again: they are
    // answered from their records, so the counts of inputs and commands may be higher.)
    check(
        counts.is_some_and(|(inputs, steps, commands)| {
            steps == 3 * orders && inputs >= orders && commands >= 2 * orders
        }),
        workload,
        || {
            format!(
                "(inputs, steps, commands) = {counts:?}, expected ({orders}+, {}, {}+)",
                3 * orders,
                2 * orders
            )
        },
    )?;
    Ok(elapsed)
}

/// Order `n`'s confirmed cart, with a payment deadline past the run.
fn confirmed(n: u64) -> EventData {
    let data = format!(
        r#"{{"cartId":"o{n}","itemCount":2,"total":500,"paymentMethod":"card","confirmedAt":"2024-01-01T00:10:00.000Z"}}"#
    );
    EventData {
        metadata: r#"{"paymentTimeoutMs":86400000}"#.to_owned(),
        ..EventData::new("CartConfirmed", data)
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| BenchError::Io {
        path: path.to_owned(),
        source,
    })
}
