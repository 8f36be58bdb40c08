//! Hot swap under load: no command fails for a deploy, and the new rules apply after it.

use super::{add_item, engine, open_cart};
use crate::support::block_on;
use crate::support::guests::{self, CART_V2};
use refold::Error;
use refold::commands::CommandConfig;
use refold::store::DEFAULT_PARTITION;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn deploying_v2_while_commands_flow_fails_none_and_v2_rules_apply_after() {
    let e = Arc::new(engine(CommandConfig::default()));
    let v2 = e.runtime.load("cart", &guests::wasm(CART_V2)).unwrap();
    let deployed = Arc::new(AtomicBool::new(false));

    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let e = e.clone();
            let deployed = deployed.clone();
            std::thread::spawn(move || {
                let mut versions_seen = Vec::new();
                let mut n = 0;
                let mut after_deploy = 0;
                while after_deploy < 20 {
                    let cart = format!("cart-{worker}-{n}");
                    let was_deployed = deployed.load(Ordering::SeqCst);
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
                    n += 1;
                }
                versions_seen
            })
        })
        .collect();

    std::thread::sleep(std::time::Duration::from_millis(100));
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
