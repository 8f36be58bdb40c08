//! `GET /metrics` as Prometheus reads it: parsed by a text-format parser, every
//! latency histogram is there with counts once the work it measures was done.

use crate::support::guests::{self, FAULTY};
use crate::support::server::{Db, add_item, agent, get, open_cart, post};
use prometheus_parse::{Sample, Scrape, Value};

/// The samples of `/metrics` of the server at `url`, parsed.
fn scrape(url: &str) -> (String, Scrape) {
    let answer = get(&agent(), url);
    assert_eq!(answer.status, 200, "{answer:?}");
    let lines = answer.text.lines().map(|l| Ok(l.to_owned()));
    let scrape = Scrape::parse(lines).expect("the metrics parse as the Prometheus text format");
    (answer.text, scrape)
}

/// The samples named `name` that have every label of `labels`.
fn samples<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// How many observations the histogram `name` with `labels` holds (its `+Inf` bucket).
fn observations(scrape: &Scrape, text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = samples(scrape, name, labels);
    let buckets = found
        .iter()
        .find_map(|s| match &s.value {
            Value::Histogram(buckets) => Some(buckets),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no histogram {name} {labels:?}:\n{text}"));
    buckets.iter().map(|b| b.count).fold(0.0, f64::max)
}

/// The value of the gauge or counter `name` with `labels`.
fn value(scrape: &Scrape, text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    match samples(scrape, name, labels).first().map(|s| &s.value) {
        Some(Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v)) => *v,
        other => panic!("no value {name} {labels:?} ({other:?}):\n{text}"),
    }
}

#[test]
fn every_latency_histogram_counts_the_work_done_and_faults_are_counted_by_kind() {
    let db = Db::new();
    let faulty = format!("faulty={}", guests::wasm_path(FAULTY).display());
    let server = db.serve_cart(&["--deploy", &faulty]);
    let http = agent();
    post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        None,
    )
    .ok();
    let added = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "sku-1", 2),
        None,
    );
    let position = added.ok()["position"].as_u64().expect("a position");
    post(
        &http,
        &server.url("/commands/cart/cart-2"),
        r#"{"type":"ConfirmCart","data":{"cartId":"cart-2"}}"#,
        None,
    )
    .error(422, "rejected");
    post(
        &http,
        &server.url("/commands/faulty/f-1"),
        r#"{"type":"Panic","data":{}}"#,
        None,
    )
    .error(500, "guest-fault");
    get(
        &http,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary/cart-1?wait_for={position}"
        )),
    )
    .ok();

    let (text, scrape) = scrape(&server.url("/metrics"));
    let handled = [("decider", "cart"), ("outcome", "handled")];
    assert_eq!(
        observations(&scrape, &text, "refold_command_seconds", &handled),
        2.0
    );
    let rejected = [("decider", "cart"), ("outcome", "rejected")];
    assert_eq!(
        observations(&scrape, &text, "refold_command_seconds", &rejected),
        1.0
    );
    assert_eq!(
        observations(&scrape, &text, "refold_append_seconds", &[]),
        2.0
    );
    assert!(observations(&scrape, &text, "refold_writer_group_size", &[]) >= 2.0);
    assert!(
        observations(
            &scrape,
            &text,
            "refold_guest_call_seconds",
            &[("module", "cart")]
        ) >= 3.0
    );
    assert!(
        observations(
            &scrape,
            &text,
            "refold_guest_call_seconds",
            &[("module", "cart-summary")]
        ) >= 1.0
    );
    assert!(
        observations(
            &scrape,
            &text,
            "refold_projection_batch_seconds",
            &[("projection", "cart-summary")]
        ) >= 1.0
    );
    let trapped = [("module", "faulty"), ("kind", "trap")];
    assert_eq!(
        value(&scrape, &text, "refold_guest_faults_total", &trapped),
        1.0
    );
    let summary = [("projection", "cart-summary")];
    assert_eq!(
        value(&scrape, &text, "refold_projection_lag", &summary),
        0.0
    );
    assert_eq!(
        value(&scrape, &text, "refold_projection_lag_seconds", &summary),
        0.0
    );
    assert_eq!(value(&scrape, &text, "refold_commands_total", &[]), 2.0);
    let ratio = value(&scrape, &text, "refold_command_cache_hit_ratio", &[]);
    assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    assert!(
        value(&scrape, &text, "refold_command_cache_hits_total", &[]) >= 1.0,
        "{text}"
    );
    server.stop();
}
