//! A store full of version 1 cart events, then the upcaster and the version 2 cart:
//! the decider, a snapshot projection (after a rebuild), `GET /streams`, `GET /log`,
//! the live feed and `refold read` all see version 2 shapes; `raw` shows version 1.

use crate::http::live::Feed;
use crate::support::guests::{self, CART, CART_UPCASTER, CART_V2_PRICES};
use crate::support::server::{Db, add_item, agent, get, open_cart, post, refold_on};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The v2 shape of a v1 price of 1250 cents.
fn v2_price() -> Value {
    json!({ "amount": 1250, "currency": "EUR" })
}

/// Check `event` (a v1 `ItemAdded` or `ItemRemoved`) is in its v2 shape.
fn assert_v2(event: &Value) {
    assert_eq!(event["data"]["price"], v2_price(), "{event}");
    assert_eq!(event["data"].get("unitPrice"), None, "{event}");
    assert_eq!(
        event["metadata"]["refold"]["upcastFrom"],
        json!({ "type": event["type"], "upcasters": ["cart-upcaster"] }),
        "{event}"
    );
}

/// Check `event` is in its stored v1 shape.
fn assert_v1(event: &Value) {
    assert_eq!(event["data"]["unitPrice"], 1250, "{event}");
    assert_eq!(event["data"].get("price"), None, "{event}");
}

#[test]
fn a_v1_store_reads_as_v2_everywhere_and_raw_reads_show_v1() {
    let db = Db::new();
    let http = agent();
    let v1 = db.serve(&[
        "--deploy",
        &format!("cart={}", guests::wasm_path(CART).display()),
    ]);
    for command in [
        open_cart("cart-1"),
        add_item("cart-1", "sku-a", 2),
        add_item("cart-1", "sku-b", 1),
    ] {
        post(&http, &v1.url("/commands/cart/cart-1"), &command, None).ok();
    }
    let removed = r#"{"type":"RemoveItem","data":{"cartId":"cart-1","sku":"sku-b"}}"#;
    post(&http, &v1.url("/commands/cart/cart-1"), removed, None).ok();
    v1.stop();

    let upcaster = format!(
        "cart-upcaster={}",
        guests::wasm_path(CART_UPCASTER).display()
    );
    let cart_v2 = format!("cart-v2={}", guests::wasm_path(CART_V2_PRICES).display());
    let server = db.serve(&[
        "--deploy",
        &upcaster,
        "--deploy",
        &cart_v2,
        "--snapshot",
        "cart-v2:cart",
    ]);

    // The v2 decider rehydrates old carts from upcast events: the line it removes
    // was added by v1, and its price comes out in the v2 shape.
    let removed = r#"{"type":"RemoveItem","data":{"cartId":"cart-1","sku":"sku-a"}}"#;
    let outcome = post(
        &http,
        &server.url("/commands/cart-v2/cart-1"),
        removed,
        None,
    );
    let outcome = outcome.ok();
    assert_eq!(
        outcome["events"][0]["data"]["price"],
        v2_price(),
        "{outcome}"
    );
    assert_eq!(outcome["events"][0]["data"]["quantity"], 2, "{outcome}");
    let position = outcome["position"].as_u64().unwrap();

    // Stream reads: every old item event in v2 shape, with its stored positions.
    let stream = get(&http, &server.url("/streams/cart-1"));
    let events = stream.ok()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 5, "{events:?}");
    for (event, position) in events.iter().zip(1..) {
        assert_eq!(event["streamPosition"], position, "{event}");
        assert_eq!(event["globalPosition"], position, "{event}");
    }
    for event in &events[1..4] {
        assert_v2(event);
    }
    let raw = get(&http, &server.url("/streams/cart-1?raw=true"));
    let raw = raw.ok()["events"].as_array().unwrap().clone();
    assert_eq!(raw.len(), 5);
    for event in &raw[1..4] {
        assert_v1(event);
        assert_eq!(
            event["metadata"]["refold"].get("upcastFrom"),
            None,
            "{event}"
        );
    }

    // Log reads, filtered by the upcast type.
    let log = get(&http, &server.url("/log?types=ItemAdded"));
    let log = log.ok()["events"].as_array().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    log.iter().for_each(assert_v2);
    let raw = get(&http, &server.url("/log?types=ItemAdded&raw=true"));
    raw.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(assert_v1);

    // The live feed.
    let mut feed = Feed::open_at(&server, "/log/live?types=ItemAdded", None);
    let (id, first) = feed.next();
    assert_eq!(id, 2);
    assert_v2(&first);
    let mut feed = Feed::open_at(&server, "/log/live?types=ItemAdded&raw=true", None);
    assert_v1(&feed.next().1);

    // The snapshot projection, built and then rebuilt with the upcaster.
    let read = |path: &str| get(&http, &server.url(path));
    let state = read(&format!(
        "/projections/cart-v2:cart/cart/cart-1?wait_for={position}"
    ));
    assert_eq!(state.ok()["lines"], json!({}), "{state:?}");
    assert_eq!(state.ok()["status"], "open", "{state:?}");
    let built = read("/projections/cart-v2:cart");
    let set = built.ok()["active"]["upcasters"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(set.len(), 64, "{built:?}");
    post(
        &http,
        &server.url("/projections/cart-v2:cart/rebuild"),
        "",
        None,
    )
    .ok();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = read("/projections/cart-v2:cart");
        if status.ok()["rebuild"].is_null() && status.ok()["active"]["generation"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no rebuild within a minute: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rebuilt = read("/projections/cart-v2:cart");
    assert_eq!(rebuilt.ok()["active"]["upcasters"], set, "{rebuilt:?}");
    let added = r#"{"type":"AddItem","data":{"cartId":"cart-1","sku":"sku-c","name":"Product","quantity":1,"price":{"amount":500,"currency":"EUR"},"addedAt":"2024-01-01T00:00:09.000Z"}}"#;
    let outcome = post(&http, &server.url("/commands/cart-v2/cart-1"), added, None);
    let position = outcome.ok()["position"].as_u64().unwrap();
    let state = read(&format!(
        "/projections/cart-v2:cart/cart/cart-1?wait_for={position}"
    ));
    assert_eq!(state.ok()["itemCount"], 1, "{state:?}");
    assert_eq!(state.ok()["total"], 500, "{state:?}");
    server.stop();

    // The command line.
    let output = refold_on(&db.path(), &["read", "cart-1"], "");
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    lines[1..4].iter().for_each(assert_v2);
    let output = refold_on(
        &db.path(),
        &["read", "--log", "--raw", "--types", "ItemAdded"],
        "",
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    lines[..2].iter().for_each(assert_v1);
    // An export is the stored log, whatever is deployed.
    let output = refold_on(&db.path(), &["export"], "");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let exported: Vec<&str> = stdout.lines().collect();
    assert_eq!(exported.len(), 6, "{stdout}");
    for line in &exported[1..4] {
        assert!(line.contains("\"unitPrice\":1250"), "{line}");
        assert!(!line.contains("upcastFrom"), "{line}");
    }
}
