//! Stopping and starting: a restart keeps modules and read models, and SIGTERM during
//! a burst of writes loses no acknowledged write.

use crate::support::both_backends;
use crate::support::server::{Db, add_item, agent, get, open_cart, post};
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

both_backends! {
fn a_restart_keeps_modules_and_resumes_projections(backend: Backend) {
    let db = Db::on(backend);
    let http = agent();
    let (modules, status, document) = {
        let server = db.serve_cart(&[]);
        post(
            &http,
            &server.url("/commands/cart/cart-1"),
            &open_cart("cart-1"),
            None,
        )
        .ok();
        post(
            &http,
            &server.url("/commands/cart/cart-1"),
            &add_item("cart-1", "SKU-1", 2),
            None,
        )
        .ok();
        let document = get(
            &http,
            &server.url("/projections/cart-summary/cart_summary/cart-1?wait_for=2"),
        );
        let document = document.ok().clone();
        let modules = get(&http, &server.url("/modules")).ok().clone();
        let status = get(&http, &server.url("/projections/cart-summary"))
            .ok()
            .clone();
        assert_eq!(status["active"]["eventsApplied"], 2, "{status}");
        server.stop();
        (modules, status, document)
    };

    let server = db.serve(&[]);
    assert_eq!(get(&http, &server.url("/modules")).ok(), &modules);
    let again = get(
        &http,
        &server.url("/projections/cart-summary/cart_summary/cart-1"),
    );
    assert_eq!(again.ok(), &document, "the read model answers at once");
    let resumed = get(&http, &server.url("/projections/cart-summary"))
        .ok()
        .clone();
    assert_eq!(
        resumed["active"]["generation"], status["active"]["generation"],
        "{resumed}"
    );
    assert_eq!(resumed["active"]["checkpoint"], 2, "{resumed}");
    assert_eq!(resumed["rebuild"], Value::Null, "{resumed}");

    let added = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "SKU-2", 1),
        None,
    );
    assert_eq!(added.ok()["moduleVersion"], 1);
    let document = get(
        &http,
        &server.url("/projections/cart-summary/cart_summary/cart-1?wait_for=3"),
    );
    assert_eq!(document.ok()["itemCount"], 3);
    let resumed = get(&http, &server.url("/projections/cart-summary"))
        .ok()
        .clone();
    assert_eq!(
        resumed["active"]["eventsApplied"], 1,
        "the projection went on from its checkpoint, not from the start: {resumed}"
    );
    assert_eq!(resumed["active"]["state"], "live", "{resumed}");
    server.stop();
}
}

#[test]
fn sigterm_during_a_burst_loses_no_acknowledged_write() {
    let db = Db::new();
    let mut server = db.serve_cart(&[]);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let successes = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (base, acknowledged, successes) =
                (server.base.clone(), acknowledged.clone(), successes.clone());
            std::thread::spawn(move || {
                let http = agent();
                for n in 0.. {
                    // Half the writers append, half send commands.
                    let (url, body, key) = if writer % 2 == 0 {
                        let id = uuid::Uuid::new_v4().to_string();
                        let body = format!(
                            r#"{{"events":[{{"type":"Noted","id":"{id}","data":{{"writer":{writer},"n":{n}}}}}]}}"#
                        );
                        (format!("{base}/streams/notes-{writer}"), body, id)
                    } else {
                        let cart = format!("cart-{writer}x{n}");
                        let body = open_cart(&cart);
                        (format!("{base}/commands/cart/{cart}"), body, cart)
                    };
                    let answer = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(&body);
                    match answer {
                        Ok(response) if response.status().is_success() => {
                            acknowledged.lock().unwrap().insert(key);
                            successes.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(response) => panic!("a write failed: {}", response.status()),
                        // The server stopped accepting: this write was not acknowledged.
                        Err(_) => return n,
                    }
                }
                unreachable!()
            })
        })
        .collect();
    wait_until(
        PATIENCE,
        "150 acknowledged writes",
        || successes.load(Ordering::SeqCst),
        |&acknowledged| acknowledged >= 150,
    );
    server.sigterm();
    let status = server.wait();
    assert!(status.success(), "{status}; log:\n{}", server.log());
    for writer in writers {
        writer
            .join()
            .expect("a writer only stops when the server is gone");
    }
    drop(server);

    let server = db.serve(&[]);
    let http = agent();
    let mut found = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = get(
            &http,
            &server.url(&format!("/log?after={after}&limit=1000")),
        );
        let events = page.ok()["events"].as_array().unwrap().clone();
        let Some(last) = events.last() else { break };
        after = last["globalPosition"].as_u64().unwrap();
        for event in &events {
            match event["type"].as_str().unwrap() {
                "Noted" => found.insert(event["id"].as_str().unwrap().to_owned()),
                "CartOpened" => found.insert(event["stream"].as_str().unwrap().to_owned()),
                other => panic!("unexpected event {other}"),
            };
        }
    }
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<&String> = acknowledged.difference(&found).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(acknowledged.len() >= 150);
    server.stop();
}
