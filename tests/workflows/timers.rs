//! Timers by the host's clock: a 2-second deadline set just before the server is
//! killed fires once after the restart, not before it is due.

use super::orders::{Fate, cart_commands, serve_flow};
use crate::support::server::{Db, agent, get, post};
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::Value;

/// Milliseconds since the Unix epoch of an RFC 3339 time.
fn millis(rfc3339: &str) -> u64 {
    let at = humantime::parse_rfc3339(rfc3339).expect("recorded-at is RFC 3339");
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_two_second_timeout_fires_once_across_a_restart() {
    let db = Db::new();
    // Killed right after the step that set the deadline was written (the second step
    // written: the outcome of the stock's reservation), before its payment request
    // was even sent.
    let mut server = serve_flow(&db, Some("workflow-after-step:2"));
    let http = agent();
    for command in cart_commands("t1", Fate::TimedOut, 2000) {
        let answer = post(&http, &server.url("/commands/cart/cart-t1"), &command, None);
        answer.ok();
    }
    let status = server.wait();
    assert!(
        !status.success(),
        "the server died at its failpoint: {status}"
    );
    let server = serve_flow(&db, None);
    let payment = wait_until(
        PATIENCE,
        "the payment to expire",
        || get(&http, &server.url("/streams/payment-t1")).json["events"].clone(),
        |events| super::orders::types(events).contains(&"PaymentExpired".to_owned()),
    );
    assert_eq!(
        super::orders::types(&payment),
        ["PaymentRequested", "PaymentExpired"]
    );
    let instance =
        get(&http, &server.url("/streams/workflow-order-flow-t1")).json["events"].clone();
    let events = instance.as_array().unwrap();
    let due: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "WorkflowTimerDue")
        .collect();
    assert_eq!(due.len(), 1, "the timer came due once: {instance}");
    let scheduled = events
        .iter()
        .filter(|e| e["type"] == "WorkflowStepped")
        .flat_map(|e| e["data"]["commands"].as_array().unwrap().clone())
        .find_map(|c| c["dueAtMs"].as_u64())
        .expect("a step scheduled the deadline");
    assert_eq!(due[0]["data"]["dueAtMs"].as_u64(), Some(scheduled));
    let expired = payment.as_array().unwrap().last().unwrap();
    let fired_at = millis(expired["recordedAt"].as_str().unwrap());
    assert!(
        fired_at >= scheduled,
        "the deadline fired {} ms early",
        scheduled - fired_at
    );
    let stock = wait_until(
        PATIENCE,
        "the stock to be released",
        || super::orders::types(&get(&http, &server.url("/streams/stock-t1")).json["events"]),
        |types| types.len() >= 2,
    );
    assert_eq!(stock, ["StockReserved", "StockReleased"]);
    server.stop();
}
