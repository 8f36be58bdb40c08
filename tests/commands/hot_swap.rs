//! Hot swap under load: no command fails for a deploy, and the new rules apply after it.

use super::{add_item, engine, open_cart};
use crate::support::block_on;
use crate::support::both_backends;
use crate::support::guests::{self, CART_V2};
use crate::support::wait::{PATIENCE, wait_until};
use refold::Error;
use refold::commands::CommandConfig;
use refold::store::DEFAULT_PARTITION;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

both_backends! {
fn deploying_v2_while_commands_flow_fails_none_and_v2_rules_apply_after(backend: Backend) {
    let e = Arc::new(engine(backend, CommandConfig::default()));
    let v2 = e.runtime.load("cart", &guests::wasm(CART_V2)).unwrap();
    let v1 = e.runtime.module("cart").unwrap();
    let deployed = Arc::new(AtomicBool::new(false));
    // How many workers have had a command answered by v1.
    let on_v1 = Arc::new(AtomicU64::new(0));

    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let e = e.clone();
            let (deployed, on_v1) = (deployed.clone(), on_v1.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut versions_seen = Vec::new();
                let mut n = 0;
                let mut after_deploy = 0;
                while after_deploy < 20 {
                    let cart = format!("cart-{worker}-{n}");
                    let was_deployed = deployed.load(Ordering::SeqCst);
                    assert!(
                        was_deployed || started.elapsed() < 2 * PATIENCE,
                        "worker {worker} waited {:?} for the deploy; it ran {n} carts on v1",
                        started.elapsed()
                    );
                    for command in [open_cart(&cart), add_item(&cart, "SKU-1", 1, 100)] {
                        let outcome =
                            block_on(e.handler.handle("cart", DEFAULT_PARTITION, &cart, &command))
                                .unwrap_or_else(|error| {
                                    panic!("command failed around the swap: {error}")
                                });
                        versions_seen.push(outcome.module_version);
                        if was_deployed {
                            assert_eq!(
                                outcome.module_version, 2,
                                "a command started after the deploy ran on v1"
                            );
                        }
                    }
                    if was_deployed {
                        after_deploy += 1;
                    }
                    if n == 0 && versions_seen.contains(&1) {
                        on_v1.fetch_add(1, Ordering::SeqCst);
                    }
                    n += 1;
                }
                versions_seen
            })
        })
        .collect();

    wait_until(
        PATIENCE,
        "every worker to have had a command answered by v1",
        || on_v1.load(Ordering::SeqCst),
        |&workers| workers == 4,
    );
    wait_until(
        PATIENCE,
        "a command's call to be in flight on v1",
        || v1.calls_in_flight(),
        |&calls| calls > 0,
    );
    e.runtime.deploy(v2);
    deployed.store(true, Ordering::SeqCst);

    let mut seen = Vec::new();
    for worker in workers {
        seen.extend(worker.join().unwrap());
    }
    assert!(seen.contains(&1), "no command ran on v1 before the deploy");
    assert!(seen.contains(&2), "no command ran on v2 after the deploy");

    block_on(
        e.handler
            .handle("cart", DEFAULT_PARTITION, "cart-x", &open_cart("cart-x")),
    )
    .unwrap();
    let refused = block_on(e.handler.handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-x",
        &add_item("cart-x", "SKU-1", 3, 100),
    ))
    .unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected { message, .. } if message.contains("at most 2 units")),
        "v2's rule does not apply: {refused:?}"
    );
}
}
