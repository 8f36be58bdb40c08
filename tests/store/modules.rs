//! Deploy records and leases as the store keeps them, seen from two stores over the
//! same data (two processes or nodes).

use crate::support::{TestStore, block_on, both_backends};
use refold::store::{FailurePolicy, NewModule};
use std::sync::Barrier;
use std::time::Duration;

/// A deploy of `name` with `bytes`, hashed by a stand-in name: the store only keeps it.
fn module<'a>(name: &'a str, hash: &'a str, bytes: &'a [u8]) -> NewModule<'a> {
    NewModule {
        name,
        hash,
        world: "projection",
        policy: Some(FailurePolicy::Skip),
        bytes,
    }
}

both_backends! {
/// Versions grow per name across stores, the bytes of a hash are kept once, and the
/// deploy count every node polls grows with each deploy, whoever made it.
fn deploys_get_the_next_version_and_are_counted_across_stores(backend: Backend) {
    let store = TestStore::new(backend);
    let ours = store.storage();
    let theirs = store.open_again();
    assert_eq!(block_on(ours.modules.deploys()).unwrap(), 0);
    let first = block_on(ours.modules.record(module("summary", "h1", b"one"))).unwrap();
    let second = block_on(theirs.modules.record(module("summary", "h2", b"two"))).unwrap();
    let other = block_on(theirs.modules.record(module("totals", "h1", b"one"))).unwrap();
    assert_eq!((first.version, second.version, other.version), (1, 2, 1));
    assert_eq!(second.policy, Some(FailurePolicy::Skip));
    assert_eq!(block_on(ours.modules.deploys()).unwrap(), 3);
    let current = block_on(ours.modules.current()).unwrap();
    let current: Vec<_> = current
        .iter()
        .map(|(record, bytes)| (record.name.as_str(), record.version, bytes.as_slice()))
        .collect();
    assert_eq!(current, [("summary", 2, &b"two"[..]), ("totals", 1, &b"one"[..])]);
    let history = block_on(ours.modules.history("summary")).unwrap();
    assert_eq!(history, [first, second]);
}

/// Owners racing for a lease never taken, from two stores at once: exactly one gets
/// it, with token 1.
fn a_new_lease_raced_for_from_two_stores_goes_to_exactly_one_owner(backend: Backend) {
    const OWNERS: usize = 8;
    let store = TestStore::new(backend);
    let stores = [store.storage(), store.open_again()];
    let start = Barrier::new(OWNERS);
    let granted: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..OWNERS)
            .map(|owner| {
                let (leases, start) = (&stores[owner % 2].leases, &start);
                s.spawn(move || {
                    start.wait();
                    block_on(leases.acquire("job", &format!("owner-{owner}"), Duration::from_secs(60)))
                        .unwrap()
                })
            })
            .collect();
        racers.into_iter().filter_map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(granted[0].token, 1);
    let stored = block_on(stores[1].leases.leases()).unwrap();
    assert_eq!(stored, granted);
}
}
