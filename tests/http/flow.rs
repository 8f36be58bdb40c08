//! The first session of the README: command → event → projection → query, and the
//! operators' routes.

use crate::support::both_backends;
use crate::support::server::{Db, add_item, agent, get, open_cart, post};

both_backends! {
fn a_command_becomes_an_event_a_projection_applies_and_a_query_reads(backend: Backend) {
    let db = Db::on(backend);
    let server = db.serve_cart(&[]);
    let http = agent();

    let opened = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        None,
    );
    let opened = opened.ok();
    assert_eq!(opened["events"][0]["type"], "CartOpened", "{opened}");
    assert_eq!(opened["streamVersion"], 1);
    assert_eq!(opened["module"], "cart");
    assert_eq!(opened["moduleVersion"], 1);

    let added = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "SKU-00009", 2),
        None,
    );
    let added = added.ok();
    assert_eq!(added["events"][0]["type"], "ItemAdded", "{added}");
    assert_eq!(
        added["events"][0]["data"]["quantity"], 2,
        "data is inline JSON"
    );
    assert_eq!(added["streamVersion"], 2);
    let position = added["position"].as_u64().expect("a position");
    assert_eq!(position, 2);

    let stream = get(&http, &server.url("/streams/cart-1"));
    let stream = stream.ok();
    assert_eq!(stream["version"], 2);
    let types: Vec<&str> = stream["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["CartOpened", "ItemAdded"]);

    let log = get(&http, &server.url("/log?after=1"));
    let log = log.ok();
    assert_eq!(log["head"], 2);
    assert_eq!(log["events"].as_array().unwrap().len(), 1);
    assert_eq!(log["events"][0]["globalPosition"], 2);

    let document = get(
        &http,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary/cart-1?wait_for={position}"
        )),
    );
    assert!(
        document.content_type.starts_with("application/json"),
        "{document:?}"
    );
    let document = document.ok();
    assert_eq!(document["itemCount"], 2, "{document}");
    assert_eq!(document["total"], 2500, "{document}");

    let list = get(
        &http,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary?wait_for={position}&field=status&value=open"
        )),
    );
    let list = list.ok();
    let ids: Vec<&str> = list["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of documents: {list}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cart-1"], "{list}");
    assert_eq!(
        list["documents"][0]["document"]["itemCount"], 2,
        "documents are inline JSON, like a single document: {list}"
    );

    let status = get(&http, &server.url("/projections/cart-summary"));
    let status = status.ok();
    assert_eq!(status["name"], "cart-summary");
    assert!(status["active"]["checkpoint"].as_u64().unwrap() >= position);

    let modules = get(&http, &server.url("/modules"));
    let names: Vec<&str> = modules.ok()["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cart", "cart-summary"]);
    server.stop();
}
}

#[test]
fn health_and_metrics_report_the_engine() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let http = agent();

    let health = get(&http, &server.url("/health"));
    assert_eq!(health.ok()["status"], "ok");
    assert_eq!(health.json["head"], 0);

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
        &add_item("cart-1", "SKU-1", 1),
        None,
    )
    .ok();
    post(
        &http,
        &server.url("/commands/cart/cart-2"),
        r#"{"type":"ConfirmCart","data":{"cartId":"cart-2"}}"#,
        None,
    )
    .error(422, "rejected");
    post(
        &http,
        &server.url("/streams/other-1"),
        r#"{"expectedVersion":"no-stream","events":[{"type":"Noted","data":{}}]}"#,
        None,
    )
    .ok();
    post(
        &http,
        &server.url("/streams/other-1"),
        r#"{"expectedVersion":"no-stream","events":[{"type":"Noted","data":{}}]}"#,
        None,
    )
    .error(409, "conflict");
    get(
        &http,
        &server.url("/projections/cart-summary/cart_summary/cart-1?wait_for=3"),
    )
    .ok();

    let health = get(&http, &server.url("/health"));
    assert_eq!(health.ok()["head"], 3);

    let metrics = get(&http, &server.url("/metrics"));
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{metrics:?}"
    );
    let value = |line_start: &str| -> f64 {
        metrics
            .text
            .lines()
            .find(|l| l.starts_with(line_start) && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("no metric {line_start}:\n{}", metrics.text))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("refold_commands_total "), 2.0);
    assert_eq!(value("refold_rejections_total "), 1.0);
    assert_eq!(value("refold_command_conflicts_total "), 0.0);
    assert_eq!(value("refold_appends_total "), 3.0);
    assert_eq!(value("refold_events_appended_total "), 3.0);
    assert_eq!(value("refold_append_conflicts_total "), 1.0);
    assert_eq!(value("refold_log_head "), 3.0);
    assert_eq!(
        value("refold_projection_lag{projection=\"cart-summary\"} "),
        0.0
    );
    assert!(value("refold_guest_calls_total{module=\"cart\",version=\"1\"} ") >= 3.0);
    assert!(value("refold_guest_call_seconds_sum{module=\"cart\"} ") > 0.0);
    assert!(value("refold_guest_idle_instances{module=\"cart\",version=\"1\"} ") >= 1.0);
    assert!(value("refold_guest_idle_memory_bytes{module=\"cart\",version=\"1\"} ") > 0.0);
    for declared in [
        "refold_commands counter",
        "refold_rejections counter",
        "refold_appends counter",
        "refold_append_conflicts counter",
        "refold_projection_lag gauge",
        "refold_guest_call_seconds histogram",
    ] {
        assert!(
            metrics.text.contains(&format!("# TYPE {declared}\n")),
            "{declared} is declared:\n{}",
            metrics.text
        );
    }
    server.stop();
}
