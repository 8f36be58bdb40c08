//! The append workloads, W1, W1-64, W2 and W2-batch, their raw baselines, and the BULK
//! ceiling they are compared to.
//!
//! They measure the store's write path: validation, the hand-off to the writer thread,
//! the version check, the inserts, and the commit, which at `synchronous=FULL` waits
//! for the disk. W1 pays one commit per event; W1-64 lets group commit share commits
//! among 64 clients; W2 pays one commit per ten events; W2-batch appends 100 carts per
//! call (1,000 events to 100 streams, all or nothing). Each has a raw baseline of the
//! same shape (one transaction per call, with the version check of every stream).
//! BULK is what SQLite itself does with the same rows and no per-append work at all.

use super::{
    Job, Metric, Recorder, Result, System, Work, baseline, carts_events, per_second, timed,
    verify_carts,
};
use refold::store::{AppendRequest, EventData, EventStore, ExpectedVersion};
use refold_workload as workload;

/// Clients of W1-64.
const W1_CLIENTS: u64 = 64;

/// W1 (one client) or W1-64 (64): every cart event in its own append with an exact
/// expected version, round-robin by round; events per second.
pub(super) fn w1(work: &Work<'_>, recorder: &mut Recorder, job: Job) -> Result<()> {
    let carts = work.setup.sizes().carts;
    let clients = if job == Job::W1x64 { W1_CLIENTS } else { 1 };
    let store = work.fresh_store("w1.db")?;
    recorder.observe(&store);
    let requests = workload::round_robin_appends(carts, clients);
    let ((), elapsed) = timed(|| {
        Ok(crate::block_on(workload::append_concurrently(
            &store, requests,
        ))?)
    })?;
    verify_carts(job.name(), &store, carts)?;
    let events = carts * (workload::ITEMS + 2);
    recorder.figure(
        System::Refold,
        job.name(),
        Metric::EventsPerS,
        per_second(events, elapsed),
    );
    if job == Job::W1 {
        raw_one_per_call(work, recorder, "W1", Metric::EventsPerS, carts)?;
    }
    Ok(())
}

/// One event per transaction with its stream's version check, round-robin by round
/// over `carts` (the order of W1, and of W4's writes), raw; recorded as `workload`.
pub(super) fn raw_one_per_call(
    work: &Work<'_>,
    recorder: &mut Recorder,
    workload: &str,
    metric: Metric,
    carts: u64,
) -> Result<()> {
    raw(work, recorder, workload, metric, carts, |conn, events| {
        for round in 0..=workload::ITEMS + 1 {
            for (i, cart) in (0..).zip(events) {
                let stream = format!("cart-{i}");
                let event = std::slice::from_ref(&cart[round as usize]);
                baseline::append(conn, &[(&stream, round, event)])?;
            }
        }
        Ok(())
    })
}

/// Append the events of carts `0..carts` raw with `appends` (timed) on a fresh
/// database, verify them, and record the rate as `workload`'s raw-SQLite figure.
fn raw(
    work: &Work<'_>,
    recorder: &mut Recorder,
    workload: &str,
    metric: Metric,
    carts: u64,
    appends: impl FnOnce(&mut rusqlite::Connection, &[Vec<EventData>]) -> Result<()>,
) -> Result<()> {
    let path = work.dir.join("raw.db");
    let mut conn = baseline::fresh(work.setup, &path)?;
    let events = carts_events(carts);
    let ((), elapsed) = timed(|| appends(&mut conn, &events))?;
    drop(conn);
    verify_carts(
        &format!("raw-sqlite {workload}"),
        &work.setup.open_store(&path)?,
        carts,
    )?;
    recorder.figure(
        System::RawSqlite,
        workload,
        metric,
        per_second(carts * (workload::ITEMS + 2), elapsed),
    );
    Ok(())
}

/// W2: one append per cart with its ten events, expected version 0, carts in order;
/// events per second.
pub(super) fn w2(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    carts_per_call(work, recorder, "W2", 1)
}

/// Carts per call of W2-batch.
const BATCH_CARTS: usize = 100;

/// W2-batch: W2's carts, 100 per call to `append_all` (each stream expected new);
/// events per second.
pub(super) fn w2_batch(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    carts_per_call(work, recorder, "W2-batch", BATCH_CARTS)
}

/// `per_call` whole carts per append call (each stream expected new), carts in order,
/// through the store and then raw; recorded as `workload`.
fn carts_per_call(
    work: &Work<'_>,
    recorder: &mut Recorder,
    workload: &str,
    per_call: usize,
) -> Result<()> {
    let carts = work.setup.sizes().carts;
    let store = work.fresh_store(&format!("{workload}.db"))?;
    recorder.observe(&store);
    let mut requests = carts_events(carts)
        .into_iter()
        .zip(0..)
        .map(|(events, i)| {
            AppendRequest::new(format!("cart-{i}"), ExpectedVersion::NoStream, events)
        })
        .peekable();
    let mut calls = Vec::new();
    while requests.peek().is_some() {
        calls.push(requests.by_ref().take(per_call).collect::<Vec<_>>());
    }
    let ((), elapsed) = timed(|| {
        for call in calls {
            crate::block_on(store.append_all(call.into()))?;
        }
        Ok(())
    })?;
    verify_carts(workload, &store, carts)?;
    recorder.figure(
        System::Refold,
        workload,
        Metric::EventsPerS,
        per_second(carts * (workload::ITEMS + 2), elapsed),
    );
    raw_carts_per_call(work, recorder, workload, per_call)
}

/// `per_call` whole carts per transaction, each with its stream's version check (new
/// streams), carts in order, raw; recorded as `workload`.
fn raw_carts_per_call(
    work: &Work<'_>,
    recorder: &mut Recorder,
    workload: &str,
    per_call: usize,
) -> Result<()> {
    let carts = work.setup.sizes().carts;
    let streams: Vec<String> = (0..carts).map(|i| format!("cart-{i}")).collect();
    raw(
        work,
        recorder,
        workload,
        Metric::EventsPerS,
        carts,
        |conn, events| {
            for (names, carts) in streams.chunks(per_call).zip(events.chunks(per_call)) {
                let appends: Vec<(&str, u64, &[EventData])> = names
                    .iter()
                    .zip(carts)
                    .map(|(name, events)| (name.as_str(), 0, events.as_slice()))
                    .collect();
                baseline::append(conn, &appends)?;
            }
            Ok(())
        },
    )
}

/// BULK: W2's rows inserted raw, 1,000 per transaction, no version check; events per
/// second. Verified through a store opened on the result afterwards.
pub(super) fn bulk(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let carts = work.setup.sizes().carts;
    let path = work.dir.join("bulk.db");
    let mut conn = baseline::fresh(work.setup, &path)?;
    let rows: Vec<(String, u64, EventData)> = carts_events(carts)
        .into_iter()
        .zip(0..)
        .flat_map(|(events, i)| {
            events
                .into_iter()
                .zip(1..)
                .map(move |(event, version)| (format!("cart-{i}"), version, event))
        })
        .collect();
    let count = rows.len() as u64;
    let ((), elapsed) = timed(|| baseline::insert_bulk(&mut conn, &rows))?;
    drop(conn);
    let store = work.setup.open_store(&path)?;
    recorder.observe(&store);
    verify_carts("BULK", &store, carts)?;
    recorder.figure(
        System::RawSqlite,
        "BULK",
        Metric::EventsPerS,
        per_second(count, elapsed),
    );
    Ok(())
}
