//! W3, rehydration, and the two read ceilings, READ-ALL and FOLD.
//!
//! A load is what the command handler does before every decision on a stream it has
//! not cached: read the stream (or its newest snapshot and what follows it) and fold
//! it with the decider's `evolve`. It runs through [`CommandHandler::load`] with the
//! cart component and with the same Rust compiled in (`NativeDecider<Cart>`), with the
//! state cache off so every load really reads and folds. Raw SQLite reads the same
//! rows without folding them: the floor under any load.

use super::{
    Metric, Recorder, Result, Sizes, System, W3_STORE, Work, baseline, check, per_second, timed,
    verify_error,
};
use cart::{Cart, CartState, Status};
use refold::commands::{CommandConfig, CommandHandler, DeciderLogic, NativeDecider};
use refold::store::sqlite::SqliteStore;
use refold::store::{
    AppendRequest, DEFAULT_PARTITION, EventData, EventStore, ExpectedVersion, LogFilter,
};
use refold_workload as workload;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// W3's 1,000 distinct carts: cart `(k × STRIDE) mod carts` for k = 0, 1, ...
const STRIDE: u64 = 7919;
/// Events per append of the long stream.
const LONG_BATCH: usize = 100;

/// The long stream's id: the cart after the standard ones.
fn long_stream(sizes: Sizes) -> String {
    format!("cart-{}", sizes.carts)
}

/// Append W3's long stream (`long_items` items, 100 events per call) to `store`.
pub(super) fn append_long_stream(store: &SqliteStore, sizes: Sizes) -> Result<()> {
    let stream = long_stream(sizes);
    let events: Vec<EventData> = workload::cart_events(sizes.carts, sizes.long_items)
        .into_iter()
        .map(|(event_type, data)| EventData::new(event_type, data))
        .collect();
    for (batch, chunk) in (0..).zip(events.chunks(LONG_BATCH)) {
        crate::block_on(store.append(AppendRequest::new(
            stream.clone(),
            ExpectedVersion::Exact(batch * LONG_BATCH as u64),
            chunk.to_vec(),
        )))?;
    }
    Ok(())
}

/// W3-1k, W3-10k and W3-10k-snap through the component and natively, the raw reads
/// of the same streams, then READ-ALL and FOLD.
pub(super) fn w3(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let setup = work.setup;
    let sizes = setup.sizes();
    let store: Arc<SqliteStore> = Arc::new(setup.copy_of(W3_STORE, &work.dir.join("w3.db"))?);
    recorder.observe(&store);
    let runtime = setup.runtime()?;
    let module = setup.deploy_cart(&runtime)?;
    let native: Arc<dyn DeciderLogic> = Arc::new(NativeDecider::<Cart>::new("cart"));
    let no_cache = |snapshot_every| CommandConfig {
        cache_bytes: 0,
        snapshot_every,
        ..CommandConfig::default()
    };
    let plain = CommandHandler::new(store.clone(), runtime.clone(), no_cache(None));
    // Snapshots are taken explicitly before W3-10k-snap's timed loads; the threshold
    // only keeps the handler from writing more of them while loading.
    let snapshots = CommandHandler::new(store.clone(), runtime.clone(), no_cache(Some(u64::MAX)));
    let long = long_stream(sizes);
    let long_events = sizes.long_items + 2;
    let carts: Vec<String> = (0..sizes.loads)
        .map(|k| format!("cart-{}", (k * STRIDE) % sizes.carts))
        .collect();

    for (system, logic) in [
        (System::Refold, module.clone() as Arc<dyn DeciderLogic>),
        (System::Native, native.clone()),
    ] {
        let load = |handler: &CommandHandler, stream: &str, version: u64, workload: &str| {
            let (state, loaded) =
                crate::block_on(handler.load(logic.clone(), DEFAULT_PARTITION, stream))?;
            verify_confirmed(workload, stream, &state, loaded, version)
        };
        let (timings, wall) = timed(|| {
            carts
                .iter()
                .map(|cart| time(|| load(&plain, cart, workload::ITEMS + 2, "W3-1k")))
                .collect::<Result<Vec<_>>>()
        })?;
        let folded = sizes.loads * (workload::ITEMS + 2);
        recorder.latencies(system, "W3-1k", &timings, per_second(folded, wall));

        for (workload, handler) in [("W3-10k", &plain), ("W3-10k-snap", &snapshots)] {
            if workload == "W3-10k-snap" {
                crate::block_on(handler.snapshot(logic.clone(), DEFAULT_PARTITION, &long))?;
            }
            load(handler, &long, long_events, workload)?;
            let timings = (0..sizes.stream_loads)
                .map(|_| time(|| load(handler, &long, long_events, workload)))
                .collect::<Result<Vec<_>>>()?;
            let median = super::report::Latencies::of(&timings).median_ms;
            recorder.latencies(
                system,
                workload,
                &timings,
                long_events as f64 / (median / 1e3),
            );
        }
    }

    let conn = baseline::connect(store.path(), setup.synchronous)?;
    let read = |stream: &str, expected: u64, workload: &str| {
        let count = baseline::read_stream(&conn, stream)?;
        check(count == expected, workload, || {
            format!("raw read of {stream} returned {count} events, expected {expected}")
        })
    };
    let (timings, wall) = timed(|| {
        carts
            .iter()
            .map(|cart| time(|| read(cart, workload::ITEMS + 2, "raw-sqlite W3-1k")))
            .collect::<Result<Vec<_>>>()
    })?;
    let folded = sizes.loads * (workload::ITEMS + 2);
    recorder.latencies(
        System::RawSqlite,
        "W3-1k",
        &timings,
        per_second(folded, wall),
    );
    let timings = (0..sizes.stream_loads)
        .map(|_| time(|| read(&long, long_events, "raw-sqlite W3-10k")))
        .collect::<Result<Vec<_>>>()?;
    let median = super::report::Latencies::of(&timings).median_ms;
    recorder.latencies(
        System::RawSqlite,
        "W3-10k",
        &timings,
        long_events as f64 / (median / 1e3),
    );

    read_all(&store, &conn, recorder)?;
    fold(sizes, recorder)
}

/// Time one operation.
fn time(operation: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    operation()?;
    Ok(start.elapsed())
}

/// A loaded cart must be confirmed at the version of its last event.
fn verify_confirmed(
    workload: &str,
    stream: &str,
    state: &[u8],
    version: u64,
    expected: u64,
) -> Result<()> {
    let state: CartState = serde_json::from_slice(state)
        .map_err(|e| verify_error(workload, format!("{stream}'s state is unreadable: {e}")))?;
    check(
        state.status == Status::Confirmed && version == expected,
        workload,
        || {
            format!(
                "{stream} loaded as {:?} at version {version}, expected confirmed at {expected}",
                state.status
            )
        },
    )
}

/// READ-ALL: the whole log through the store (`read_log`, 1,000 per call) and with
/// one raw `SELECT` of every column; events per second.
fn read_all(
    store: &SqliteStore,
    conn: &rusqlite::Connection,
    recorder: &mut Recorder,
) -> Result<()> {
    let expected = store.head();
    let (count, elapsed) = timed(|| {
        let (mut after, mut count) = (0, 0u64);
        loop {
            let batch = crate::block_on(store.read_log(after, &LogFilter::default(), 1000))?;
            let Some(last) = batch.last() else { break };
            after = last.global_position;
            count += batch.len() as u64;
        }
        Ok(count)
    })?;
    check(count == expected, "READ-ALL", || {
        format!("read_log returned {count} events, expected {expected}")
    })?;
    recorder.figure(
        System::Refold,
        "READ-ALL",
        Metric::EventsPerS,
        per_second(count, elapsed),
    );
    let (count, elapsed) = timed(|| baseline::read_all(conn))?;
    check(count == expected, "READ-ALL", || {
        format!("the raw SELECT returned {count} events, expected {expected}")
    })?;
    recorder.figure(
        System::RawSqlite,
        "READ-ALL",
        Metric::EventsPerS,
        per_second(count, elapsed),
    );
    Ok(())
}

/// FOLD: W1's events already in memory as strings, parsed with serde_json into
/// borrowing structs and folded into a map by cart; the median of several passes,
/// events per second.
fn fold(sizes: Sizes, recorder: &mut Recorder) -> Result<()> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        cart_id: &'a str,
        #[serde(default)]
        quantity: u64,
        #[serde(default)]
        unit_price: u64,
    }
    #[derive(Default)]
    struct Folded {
        confirmed: bool,
        item_count: u64,
        total: u64,
    }
    let carts: Vec<Vec<(&str, String)>> = (0..sizes.carts)
        .map(|i| workload::cart_events(i, workload::ITEMS))
        .collect();
    let events: Vec<(&str, &str)> = (0..=workload::ITEMS as usize + 1)
        .flat_map(|round| {
            carts
                .iter()
                .map(move |cart| (cart[round].0, cart[round].1.as_str()))
        })
        .collect();
    let (expected_items, expected_total) = workload::check_sums(sizes.carts);
    let mut rates = Vec::with_capacity(sizes.fold_passes);
    for _ in 0..sizes.fold_passes {
        let (states, elapsed) = timed(|| {
            let mut states: HashMap<&str, Folded> = HashMap::new();
            for (event_type, data) in &events {
                let data: Data<'_> = serde_json::from_str(data)
                    .map_err(|e| verify_error("FOLD", format!("unreadable event: {e}")))?;
                let state = states.entry(data.cart_id).or_default();
                match *event_type {
                    "ItemAdded" => {
                        state.item_count += data.quantity;
                        state.total += data.quantity * data.unit_price;
                    }
                    "CartConfirmed" => state.confirmed = true,
                    _ => {}
                }
            }
            Ok(states)
        })?;
        let items: u64 = states.values().map(|s| s.item_count).sum();
        let total: u64 = states.values().map(|s| s.total).sum();
        let confirmed = states.values().filter(|s| s.confirmed).count() as u64;
        check(
            (confirmed, items, total) == (sizes.carts, expected_items, expected_total),
            "FOLD",
            || format!("folded {confirmed} confirmed carts, Σ itemCount {items}, Σ total {total}"),
        )?;
        rates.push(per_second(events.len() as u64, elapsed));
    }
    recorder.figure(
        System::Native,
        "FOLD",
        Metric::EventsPerS,
        super::report::median(&rates),
    );
    Ok(())
}
