//! Command ids and metadata over HTTP: an `Idempotency-Key` makes a command happen
//! once, even when the server is killed between its append and its reply; a
//! `traceparent` becomes the correlation id of its events, as every read shows them.

use super::live::Feed;
use crate::support::server::{
    Answer, Db, Server, add_item, agent, get, open_cart, post, post_with, send_post, whole_log,
};
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn replayed(answer: &Answer) -> bool {
    answer
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

/// The events of the whole log that command `id` appended.
fn events_of(server: &Server, id: &str) -> Vec<Value> {
    whole_log(&server.base)
        .into_iter()
        .filter(|e| e["metadata"]["refold"]["commandId"] == id)
        .collect()
}

#[test]
fn a_command_sent_three_times_with_one_key_across_a_crash_appends_once_and_answers_the_same() {
    let db = Db::new();
    let http = agent();
    let url = |server: &Server| server.url("/commands/cart/cart-1");
    let keyed = |server: &Server, key: &str, body: &str| {
        post_with(&http, &url(server), body, &[("idempotency-key", key)])
    };

    let server = db.serve_cart(&[]);
    post(&http, &url(&server), &open_cart("cart-1"), None).ok();
    let add_1 = add_item("cart-1", "SKU-1", 1);
    let fresh = keyed(&server, "add-1", &add_1);
    let again = keyed(&server, "add-1", &add_1);
    assert_eq!(again.ok(), fresh.ok(), "a resend gets the first answer");
    assert_eq!((replayed(&fresh), replayed(&again)), (false, true));
    assert_eq!(events_of(&server, "add-1").len(), 1);
    server.stop();

    // Killed (SIGKILL) right after the append committed, before replying.
    let add_2 = add_item("cart-1", "SKU-2", 1);
    let mut crashing = db.serve_with_env(&[], &[("REFOLD_FAILPOINT", "command-after-append")]);
    let lost = send_post(
        &http,
        &url(&crashing),
        &add_2,
        &[("idempotency-key", "add-2")],
    );
    assert!(
        lost.is_err(),
        "the server replied before it was killed: {lost:?}"
    );
    let status = crashing.wait();
    assert_eq!(
        status.signal(),
        Some(9),
        "{status}; log:\n{}",
        crashing.log()
    );

    let server = db.serve(&[]);
    let stored = events_of(&server, "add-2");
    assert_eq!(stored.len(), 1, "the append committed before the crash");
    let second = keyed(&server, "add-2", &add_2);
    let third = keyed(&server, "add-2", &add_2);
    assert_eq!(second.ok(), third.ok(), "every resend gets the same answer");
    assert!(replayed(&second) && replayed(&third));
    assert_eq!(second.json["events"].as_array().unwrap(), &stored);
    assert_eq!(second.json["commandId"], "add-2");

    let reused = keyed(&server, "add-2", &add_item("cart-1", "SKU-2", 2));
    let error = reused.error(422, "idempotency-key-reused");
    assert_eq!(error["details"]["commandId"], "add-2", "{error}");
    assert_eq!(
        whole_log(&server.base).len(),
        3,
        "one set of events per command: CartOpened and two ItemAdded"
    );
    server.stop();
}

#[test]
fn a_traceparent_is_the_correlation_id_of_a_commands_events_in_reads_and_the_live_feed() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let http = agent();
    let mut feed = Feed::open(&server, None);
    let url = server.url("/commands/cart/cart-7");
    let envelope = open_cart("cart-7").replacen('{', r#"{"metadata":{"tenant":"t-1"},"#, 1);
    let opened = post_with(&http, &url, &envelope, &[("traceparent", TRACEPARENT)]);
    let opened = opened.ok();

    let read = get(&http, &server.url("/streams/cart-7"));
    let metadata = read.ok()["events"][0]["metadata"].clone();
    assert_eq!(metadata["tenant"], "t-1", "{metadata}");
    let refold = &metadata["refold"];
    assert_eq!(refold["correlationId"], TRACE_ID, "{metadata}");
    assert_eq!(refold["traceparent"], TRACEPARENT, "{metadata}");
    assert_eq!(refold["commandId"], opened["commandId"], "{metadata}");
    assert_eq!(refold["causationId"], opened["commandId"], "{metadata}");
    let (_, live) = feed.next();
    assert_eq!(live["metadata"], metadata, "the live feed shows the same");

    // X-Correlation-Id wins over the traceparent's trace id.
    let added = post_with(
        &http,
        &url,
        &add_item("cart-7", "SKU-1", 1),
        &[
            ("x-correlation-id", "order-9"),
            ("traceparent", TRACEPARENT),
        ],
    );
    let correlation = &added.ok()["events"][0]["metadata"]["refold"]["correlationId"];
    assert_eq!(correlation, "order-9");
    let (_, live) = feed.next();
    assert_eq!(live["metadata"]["refold"]["correlationId"], "order-9");

    let bad = post_with(
        &http,
        &url,
        &add_item("cart-7", "SKU-2", 1),
        &[("traceparent", "00-x")],
    );
    let error = bad.error(400, "invalid-command");
    assert!(
        error["message"].as_str().unwrap().contains("traceparent"),
        "{error}"
    );
    server.stop();
}
