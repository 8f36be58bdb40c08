//! Deploy records and leases as the store keeps them, seen from two stores over the
//! same data (two processes or nodes).

use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
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
        replace_world: false,
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
    assert_eq!((history[0].size, history[1].size), (3, 3));
    let (record, bytes) = block_on(theirs.modules.version("summary", 1)).unwrap().unwrap();
    assert_eq!((record, bytes.as_slice()), (history[0].clone(), &b"one"[..]));
    assert_eq!(block_on(ours.modules.version("summary", 3)).unwrap(), None);
}

/// A deploy of another world than the name's newest version is refused in the
/// deploy's transaction, recording nothing, unless it says it replaces the world.
fn a_change_of_world_is_refused_unless_asked_for(backend: Backend) {
    let store = TestStore::new(backend);
    let storage = store.storage();
    block_on(storage.modules.record(module("bank", "h1", b"one"))).unwrap();
    let decider = |replace_world| NewModule {
        world: "decider",
        policy: None,
        replace_world,
        ..module("bank", "h2", b"two")
    };
    let refused = block_on(storage.modules.record(decider(false))).unwrap_err();
    assert!(
        matches!(
            &refused,
            Error::WorldChange { module, version: 1, current, deployed }
                if module == "bank" && current == "projection" && deployed == "decider"
        ),
        "{refused:?}"
    );
    assert_eq!(block_on(storage.modules.deploys()).unwrap(), 1);
    let replaced = block_on(storage.modules.record(decider(true))).unwrap();
    assert_eq!((replaced.version, replaced.world.as_str()), (2, "decider"));
    let again = block_on(storage.modules.record(decider(false))).unwrap();
    assert_eq!(again.version, 3, "the same world again needs nothing");
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
