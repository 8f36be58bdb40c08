//! A new decider version deployed through the API while commands flow: none fails,
//! and the new version's rule applies after the deploy.

use crate::support::guests::{self, CART_V2};
use crate::support::server::{Db, add_item, agent, open_cart, post, put};
use crate::support::wait::{PATIENCE, wait_until};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn a_hot_deploy_fails_no_request_and_the_new_rule_applies() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    // ((client, module version) of each success, failures) seen by the clients.
    let seen = Arc::new(Mutex::new((
        Vec::<(usize, u64)>::new(),
        Vec::<String>::new(),
    )));
    let clients: Vec<_> = (0..3)
        .map(|client| {
            let (base, stop, seen) = (server.base.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let http = agent();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let cart = format!("cart-{client}x{n}");
                    let url = format!("{base}/commands/cart/{cart}");
                    for command in [open_cart(&cart), add_item(&cart, "SKU-1", 2)] {
                        let answer = post(&http, &url, &command, None);
                        let mut seen = seen.lock().unwrap();
                        if answer.status == 200 {
                            seen.0
                                .push((client, answer.json["moduleVersion"].as_u64().unwrap()));
                        } else {
                            seen.1.push(format!("{answer:?}"));
                        }
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let http = agent();
    // (answers from `version`, failures, the last failure)
    let answers = |version: u64| {
        let seen = seen.lock().unwrap();
        let answers = seen.0.iter().filter(|(_, v)| *v == version).count();
        (answers, seen.1.len(), seen.1.last().cloned())
    };
    wait_until(
        PATIENCE,
        "20 commands answered by v1 (answers, failures, last failure)",
        || answers(1),
        |(answers, ..)| *answers >= 20,
    );
    let deployed = put(
        &http,
        &server.url("/modules/cart"),
        &guests::wasm(CART_V2),
        None,
    );
    let deployed = deployed.ok();
    assert_eq!(
        (deployed["name"].as_str(), deployed["version"].as_u64()),
        (Some("cart"), Some(2))
    );
    let rejected = post(
        &http,
        &server.url("/commands/cart/cart-big"),
        &open_cart("cart-big"),
        None,
    );
    assert_eq!(rejected.ok()["moduleVersion"], 2);
    let rejected = post(
        &http,
        &server.url("/commands/cart/cart-big"),
        &add_item("cart-big", "SKU-1", 3),
        None,
    );
    let error = rejected.error(422, "rejected");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 units"),
        "{error}"
    );
    wait_until(
        PATIENCE,
        "20 commands answered by v2 (answers, failures, last failure)",
        || answers(2),
        |(answers, ..)| *answers >= 20,
    );
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("a client succeeds");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.1, Vec::<String>::new(), "no request failed");
    for client in 0..3 {
        let versions: Vec<u64> = seen
            .0
            .iter()
            .filter(|(c, _)| *c == client)
            .map(|(_, v)| *v)
            .collect();
        assert!(
            versions.is_sorted(),
            "once v2 answered a client, its later commands ran on v2: {versions:?}"
        );
    }
    drop(seen);

    let modules = crate::support::server::get(&http, &server.url("/modules"));
    let cart = modules.ok()["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "cart")
        .cloned()
        .unwrap();
    assert_eq!(cart["version"], 2);
    assert_eq!(
        cart["hash"].as_str().unwrap(),
        refold::runtime::content_hash(&guests::wasm(CART_V2))
    );
    server.stop();
}
