//! Snapshots: one per stream and module, never replaced by an older one.

use crate::support::{TestStore, block_on, both_backends};
use refold::store::Snapshot;

fn snapshot(stream: &str, module: &str, version: u64) -> Snapshot {
    Snapshot {
        partition: "default".into(),
        stream: stream.into(),
        module: module.into(),
        version,
        state: format!("state of {stream} at {version} by {module}").into_bytes(),
    }
}

both_backends! {
fn a_snapshot_is_kept_per_stream_and_module(backend: Backend) {
    let store = TestStore::new(backend);
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m1")).unwrap(),
        None
    );
    block_on(store.save_snapshot(snapshot("cart-1", "m1", 10))).unwrap();
    block_on(store.save_snapshot(snapshot("cart-1", "m2", 4))).unwrap();
    block_on(store.save_snapshot(snapshot("cart-2", "m1", 7))).unwrap();
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m1")).unwrap(),
        Some(snapshot("cart-1", "m1", 10))
    );
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m2")).unwrap(),
        Some(snapshot("cart-1", "m2", 4))
    );
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-2", "m1")).unwrap(),
        Some(snapshot("cart-2", "m1", 7))
    );
    assert_eq!(
        block_on(store.load_snapshot("other", "cart-1", "m1")).unwrap(),
        None
    );
    let store = store.reopen();
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m1")).unwrap(),
        Some(snapshot("cart-1", "m1", 10))
    );
}
}

both_backends! {
fn a_newer_snapshot_replaces_an_older_one_but_not_the_reverse(backend: Backend) {
    let store = TestStore::new(backend);
    block_on(store.save_snapshot(snapshot("cart-1", "m1", 10))).unwrap();
    block_on(store.save_snapshot(snapshot("cart-1", "m1", 20))).unwrap();
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m1")).unwrap(),
        Some(snapshot("cart-1", "m1", 20))
    );
    block_on(store.save_snapshot(snapshot("cart-1", "m1", 15))).unwrap();
    assert_eq!(
        block_on(store.load_snapshot("default", "cart-1", "m1")).unwrap(),
        Some(snapshot("cart-1", "m1", 20)),
        "a late save of an older state keeps the newer snapshot"
    );
    assert_eq!(store.head(), 0, "snapshots are not events");
}
}
