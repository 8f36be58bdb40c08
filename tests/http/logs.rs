//! What `refold serve` logs, as an operator reads it from a file: no colour codes,
//! each request's lines carrying its `X-Request-Id` (the client's, or one made for it
//! and returned), and a client's outcome (a rejection, a conflict, a wait that timed
//! out) never logged as a server error.

use crate::support::server::{Answer, Db, Server, add_item, agent, open_cart, post_with};
use crate::support::wait::{PATIENCE, wait_until};

/// `GET url` with `X-Request-Id: id`.
fn get_with_id(http: &ureq::Agent, url: &str, id: &str) -> Answer {
    Answer::of(http.get(url).header("x-request-id", id).call())
}

/// The request id an answer returned.
fn returned_id(answer: &Answer) -> &str {
    answer
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("the answer carries an X-Request-Id: {answer:?}"))
}

/// The server's log lines that name request `id`, once there is one saying how it
/// was answered (the log is written as the answer leaves).
fn lines_of(server: &Server, id: &str) -> Vec<String> {
    let needle = format!("id={id}");
    wait_until(
        PATIENCE,
        &format!("the log line of request {id}"),
        || {
            server
                .log()
                .lines()
                .filter(|line| line.contains(&needle))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        },
        |lines| lines.iter().any(|line| line.contains("answered")),
    )
}

#[test]
fn a_log_written_to_a_file_has_no_colour_codes_and_every_request_line_its_id() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let http = agent();
    let opened = post_with(
        &http,
        &server.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        &[("x-request-id", "open-cart-1")],
    );
    opened.ok();
    assert_eq!(returned_id(&opened), "open-cart-1");

    // A rejection and a conflict: the client's outcomes.
    let rejected = post_with(
        &http,
        &server.url("/commands/cart/cart-2"),
        r#"{"type":"ConfirmCart","data":{"cartId":"cart-2"}}"#,
        &[],
    );
    rejected.error(422, "rejected");
    let generated = returned_id(&rejected).to_owned();
    assert_eq!(
        generated.len(),
        36,
        "a UUID is made for a request without an id: {generated}"
    );
    let conflict = post_with(
        &http,
        &server.url("/streams/cart-1"),
        r#"{"expectedVersion":0,"events":[{"type":"T","data":{}}]}"#,
        &[("x-request-id", "append-conflict")],
    );
    conflict.error(409, "conflict");
    let added = post_with(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "sku-1", 1),
        &[("x-request-id", "a id with spaces")],
    );
    assert_ne!(
        returned_id(&added),
        "a id with spaces",
        "an unusable id is replaced"
    );
    let missing = get_with_id(
        &http,
        &server.url("/projections/cart-summary/cart_summary/nobody"),
        "read-missing",
    );
    missing.error(404, "no-document");

    for (id, status) in [
        ("open-cart-1", 200),
        (generated.as_str(), 422),
        ("append-conflict", 409),
        ("read-missing", 404),
    ] {
        let lines = lines_of(&server, id);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("answered") && l.contains(&format!("status={status}"))),
            "request {id} was answered {status}: {lines:#?}"
        );
    }
    let log = server.log();
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a log file:\n{log}"
    );
    let answered: Vec<&str> = log.lines().filter(|l| l.contains("answered")).collect();
    assert!(answered.len() >= 5, "{log}");
    assert!(
        answered.iter().all(|l| l.contains("request{id=")),
        "every request's line carries its id:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "a client's outcome is no server error:\n{log}"
    );
    server.stop();
}

#[test]
fn a_read_whose_wait_times_out_is_answered_503_and_logged_below_error() {
    // The first server holds the projection's lease and dies with it: the second
    // stands by until it expires, so its projection does not move.
    let db = Db::new();
    let first = db.serve_cart(&["--lease-ttl", "120s"]);
    let second = db.serve_cart(&["--lease-ttl", "120s"]);
    let http = agent();
    wait_until(
        PATIENCE,
        "the second server to stand by",
        || {
            get_with_id(&http, &second.url("/projections/cart-summary"), "status").json["active"]
                ["state"]
                .clone()
        },
        |state| state == "standby",
    );
    first.kill();
    let opened = post_with(
        &http,
        &second.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        &[],
    );
    let position = opened.ok()["position"].as_u64().expect("a position");
    let behind = get_with_id(
        &http,
        &second.url(&format!(
            "/projections/cart-summary/cart_summary/cart-1?wait_for={position}&timeout_ms=200"
        )),
        "wait-times-out",
    );
    behind.error(503, "projection-behind");
    assert_eq!(returned_id(&behind), "wait-times-out");

    let lines = lines_of(&second, "wait-times-out");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("projection-behind") && l.contains(" INFO ")),
        "the timed-out wait is logged at INFO, with its request id: {lines:#?}"
    );
    let log = second.log();
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "a wait that timed out is no server error:\n{log}"
    );
    second.stop();
}
