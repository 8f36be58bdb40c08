//! The append workloads, W1, W1-64 and W2, and the BULK ceiling they are compared to.
//!
//! They measure the store's write path: validation, the hand-off to the writer thread,
//! the version check, the inserts, and the commit, which at `synchronous=FULL` waits
//! for the disk. W1 pays one commit per event; W1-64 lets group commit share commits
//! among 64 clients; W2 pays one commit per ten events. BULK is what SQLite itself
//! does with the same rows and no per-append work at all.

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
    Ok(())
}

/// W2: one append per cart with its ten events, expected version 0, carts in order;
/// events per second.
pub(super) fn w2(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let carts = work.setup.sizes().carts;
    let store = work.fresh_store("w2.db")?;
    recorder.observe(&store);
    let requests: Vec<AppendRequest> = carts_events(carts)
        .into_iter()
        .zip(0..)
        .map(|(events, i)| {
            AppendRequest::new(format!("cart-{i}"), ExpectedVersion::NoStream, events)
        })
        .collect();
    let ((), elapsed) = timed(|| {
        for request in requests {
            crate::block_on(store.append(request))?;
        }
        Ok(())
    })?;
    verify_carts("W2", &store, carts)?;
    recorder.figure(
        System::Refold,
        "W2",
        Metric::EventsPerS,
        per_second(carts * (workload::ITEMS + 2), elapsed),
    );
    Ok(())
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
