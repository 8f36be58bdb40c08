//! The engine facade: deployments recorded in the database and restored on restart.

use crate::support::block_on;
use crate::support::guests::{self, CART, CART_SUMMARY, CART_V2};
use refold::Error;
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::runtime::World;
use refold::store::DEFAULT_PARTITION;

fn open_cart(cart: &str) -> String {
    format!(
        r#"{{"type":"OpenCart","data":{{"cartId":"{cart}","customerId":"c","currency":"EUR","channel":"web","openedAt":"t"}}}}"#
    )
}

#[test]
fn a_restart_comes_back_with_the_same_modules_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("refold.db");
    {
        let engine = block_on(Engine::open(EngineConfig::new(&db))).unwrap();
        assert_eq!(
            block_on(engine.deploy("cart", &guests::wasm(CART), FailurePolicy::Stop))
                .unwrap()
                .version,
            1
        );
        assert_eq!(
            block_on(engine.deploy("cart", &guests::wasm(CART_V2), FailurePolicy::Stop))
                .unwrap()
                .version,
            2
        );
        let summary = block_on(engine.deploy(
            "cart-summary",
            &guests::wasm(CART_SUMMARY),
            FailurePolicy::Stop,
        ))
        .unwrap();
        assert_eq!((summary.version, summary.world), (1, World::Projection));
        block_on(engine.commands().handle(
            "cart",
            DEFAULT_PARTITION,
            "cart-1",
            &open_cart("cart-1"),
        ))
        .unwrap();
    }
    let engine = block_on(Engine::open(EngineConfig::new(&db))).unwrap();
    let modules: Vec<(String, u64)> = engine
        .modules()
        .into_iter()
        .map(|m| (m.name, m.version))
        .collect();
    assert_eq!(
        modules,
        [("cart".to_owned(), 2), ("cart-summary".to_owned(), 1)]
    );
    let cart = engine.runtime().module("cart").unwrap();
    assert_eq!(
        cart.info().hash,
        refold::runtime::content_hash(&guests::wasm(CART_V2))
    );
    assert_eq!(
        engine.runtime().cache_stats().compiled,
        0,
        "a restart loads precompiled artifacts"
    );

    let outcome = block_on(engine.commands().handle(
        "cart",
        DEFAULT_PARTITION,
        "cart-2",
        &open_cart("cart-2"),
    ))
    .unwrap();
    assert_eq!(
        (outcome.module_version, outcome.events[0].global_position),
        (2, 2)
    );
    let history: Vec<u64> = block_on(engine.history("cart"))
        .unwrap()
        .iter()
        .map(|d| d.version)
        .collect();
    assert_eq!(history, [1, 2]);
    assert_eq!(
        block_on(engine.deploy("cart", &guests::wasm(CART), FailurePolicy::Stop))
            .unwrap()
            .version,
        3
    );
}

#[test]
fn a_refused_deploy_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = block_on(Engine::open(EngineConfig::new(
        dir.path().join("refold.db"),
    )))
    .unwrap();
    let error =
        block_on(engine.deploy("cart", b"not a component", FailurePolicy::Stop)).unwrap_err();
    assert!(matches!(error, Error::NotAComponent { .. }), "{error:?}");
    for bad in ["", "Cart", "a/b", ".hidden", &"x".repeat(65)] {
        let error =
            block_on(engine.deploy(bad, &guests::wasm(CART), FailurePolicy::Stop)).unwrap_err();
        assert!(
            matches!(error, Error::InvalidModuleName(_)),
            "{bad}: {error:?}"
        );
    }
    assert!(engine.modules().is_empty());
    assert!(block_on(engine.history("cart")).unwrap().is_empty());
    assert_eq!(
        block_on(engine.deploy("cart", &guests::wasm(CART), FailurePolicy::Stop))
            .unwrap()
            .version,
        1
    );
}
