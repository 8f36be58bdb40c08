//! The event store on each backend: appends and their guards, reads, concurrency,
//! live notification, schema, deploy records, leases, command records, tags and
//! conditional appends; and, on SQLite only, group commit, its file and durability
//! across killed processes.

mod append;
mod commands;
mod concurrency;
mod crash;
mod import;
mod invalid;
mod modules;
mod multi;
mod notify;
mod reads;
mod schema;
mod snapshot;
mod tags;

use crate::support::block_on;
use refold::store::{
    AppendOutcome, AppendRequest, EventData, EventStore, ExpectedVersion, RecordedEvent,
};

/// An event of type `Counted` whose data holds `n`.
fn counted(n: u64) -> EventData {
    EventData::new("Counted", format!(r#"{{"n":{n}}}"#))
}

/// Append `count` `Counted` events to `stream` in the default partition.
fn append(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedVersion,
    count: u64,
) -> AppendOutcome {
    block_on(store.append(AppendRequest::new(
        stream,
        expected,
        (1..=count).map(counted).collect(),
    )))
    .unwrap_or_else(|e| panic!("append {count} events to '{stream}': {e}"))
}

/// Every event of the global log, in order.
fn whole_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    block_on(store.read_log(0, &Default::default(), usize::MAX)).expect("read the whole log")
}
