//! Projections over real stores of each backend with real components: catch-up and live tail,
//! queries, projections that select their events by a query, failure policies, blue/green rebuilds, snapshot projections, restarts,
//! read-your-writes, and exactly-once application across process kills.

mod blue_green;
mod catch_up;
mod exactly_once;
mod failures;
mod leases;
mod query;
mod read_your_writes;
mod restart;
mod snapshots;

use crate::support::guests;
use crate::support::{self, Backend, TestStore, block_on};
use refold::projections::{ProjectionConfig, ProjectionEngine};
use refold::runtime::{Module, Runtime, RuntimeConfig};
use refold::store::{AppendRequest, EventData, EventStore, ExpectedVersion};
use std::sync::Arc;
use std::time::Duration;

/// How long tests wait for a projection before calling it stuck.
const PATIENCE: Duration = Duration::from_secs(60);

/// A projection engine over a fresh store.
struct Setup {
    // Declared first: the engine's runners stop before the store closes.
    engine: ProjectionEngine,
    runtime: Arc<Runtime>,
    store: TestStore,
}

impl Setup {
    fn new(backend: Backend) -> Setup {
        Setup::over(TestStore::new(backend))
    }

    fn over(store: TestStore) -> Setup {
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let engine = {
            let _runtime = support::runtime().enter();
            ProjectionEngine::new(
                &store.storage(),
                runtime.clone(),
                ProjectionConfig::default(),
            )
        };
        Setup {
            engine,
            runtime,
            store,
        }
    }

    /// The component built from `package`, deployed in the runtime as `name`.
    fn module(&self, name: &str, package: &str) -> Arc<Module> {
        self.runtime
            .deploy(self.runtime.load(name, &guests::wasm(package)).unwrap())
    }

    /// Append one event to `stream` (default partition); returns its global position.
    fn append(&self, stream: &str, event_type: &str, data: &str) -> u64 {
        append_in(&*self.store, "default", stream, event_type, data)
    }

    /// Wait until `projection` has passed the log's head.
    fn wait_for_head(&self, projection: &str) {
        block_on(
            self.engine
                .wait_for(projection, self.store.head(), PATIENCE),
        )
        .unwrap();
    }

    /// The document `id` of `collection` in the default partition, as JSON.
    fn document(&self, projection: &str, collection: &str, id: &str) -> Option<serde_json::Value> {
        block_on(self.engine.get(projection, "default", collection, id))
            .unwrap()
            .map(|text| serde_json::from_str(&text).unwrap())
    }
}

/// Append one event to `stream` in `partition`; returns its global position.
fn append_in(
    store: &dyn EventStore,
    partition: &str,
    stream: &str,
    event_type: &str,
    data: &str,
) -> u64 {
    block_on(
        store.append(
            AppendRequest::new(
                stream,
                ExpectedVersion::Any,
                vec![EventData::new(event_type, data)],
            )
            .in_partition(partition),
        ),
    )
    .unwrap()
    .last_position
}

/// The cart-summary document the standard cart `i` ends with.
fn confirmed_summary(i: u64) -> serde_json::Value {
    let events = refold_workload::cart_events(i, refold_workload::ITEMS);
    let confirmed: serde_json::Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    serde_json::json!({
        "cartId": format!("cart-{i}"),
        "itemCount": confirmed["itemCount"],
        "total": confirmed["total"],
        "status": "confirmed",
    })
}
