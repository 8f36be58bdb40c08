//! Every kind of error has its status and a JSON body saying what was wrong.

use crate::support::guests::{self, FAULTY};
use crate::support::server::{Db, agent, get, open_cart, post, put};

#[test]
fn each_error_has_its_status_and_a_json_body() {
    let db = Db::new();
    let server = db.serve_cart(&[]);
    let http = agent();
    let url = |path: &str| server.url(path);

    // A rejection is a 422 naming the decider.
    let rejected = post(
        &http,
        &url("/commands/cart/cart-2"),
        r#"{"type":"ConfirmCart","data":{"cartId":"cart-2"}}"#,
        None,
    );
    let error = rejected.error(422, "rejected");
    assert_eq!(error["module"], "cart");
    assert!(
        error["message"].as_str().unwrap().contains("cart-2"),
        "{error}"
    );

    // A conflict: an append under a wrong expected version.
    post(
        &http,
        &url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        None,
    )
    .ok();
    let conflict = post(
        &http,
        &url("/streams/cart-1"),
        r#"{"expectedVersion":5,"events":[{"type":"Noted","data":{}}]}"#,
        None,
    );
    let error = conflict.error(409, "conflict");
    assert!(error["message"].as_str().unwrap().contains('5'), "{error}");
    assert_eq!(
        error["details"],
        serde_json::json!({"stream": "cart-1", "partition": "default", "expected": 5, "actual": 1}),
        "the facts a client acts on"
    );
    // ...with the expected version given as a header.
    let conflict = http
        .post(&url("/streams/cart-1"))
        .header("expected-version", "no-stream")
        .send(r#"{"events":[{"type":"Noted","data":{}}]}"#);
    let conflict = crate::support::server::Answer::of(conflict);
    conflict.error(409, "conflict");

    // A guest fault is a 500 naming the module, and the server keeps serving.
    put(&http, &url("/modules/faulty"), &guests::wasm(FAULTY), None).ok();
    let fault = post(
        &http,
        &url("/commands/faulty/f-1"),
        r#"{"type":"Panic"}"#,
        None,
    );
    let error = fault.error(500, "guest-fault");
    assert_eq!(error["module"], "faulty", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("faulty"),
        "{error}"
    );
    post(
        &http,
        &url("/commands/cart/cart-3"),
        &open_cart("cart-3"),
        None,
    )
    .ok();

    // A command the decider cannot read.
    let invalid = post(
        &http,
        &url("/commands/cart/cart-1"),
        r#"{"type":"NoSuchCommand","data":{}}"#,
        None,
    );
    assert_eq!(invalid.error(400, "invalid-command")["module"], "cart");

    // Malformed JSON, for a command and for an append.
    post(&http, &url("/commands/cart/cart-1"), "{not json", None).error(400, "invalid-command");
    post(&http, &url("/streams/cart-1"), "{not json", None).error(400, "bad-request");
    post(
        &http,
        &url("/streams/cart-1"),
        r#"{"events":[{"type":"X"}]}"#,
        None,
    )
    .error(400, "bad-request");
    post(
        &http,
        &url("/streams/cart-1"),
        r#"{"expectedVersion":"sometimes","events":[]}"#,
        None,
    )
    .error(400, "bad-request");

    // A query parameter of the wrong type or unknown.
    get(&http, &url("/log?after=abc")).error(400, "bad-request");
    get(&http, &url("/streams/cart-1?colour=red")).error(400, "bad-request");

    // Unknown routes, modules and projections.
    get(&http, &url("/no/such/route")).error(404, "not-found");
    let unknown = post(&http, &url("/commands/nope/s-1"), r#"{"type":"X"}"#, None);
    assert_eq!(unknown.error(404, "unknown-module")["module"], "nope");
    get(&http, &url("/projections/nope")).error(404, "unknown-projection");
    get(&http, &url("/projections/nope/things")).error(404, "unknown-projection");
    get(&http, &url("/projections/nope/things/1?wait_for=1")).error(404, "unknown-projection");
    get(
        &http,
        &url("/projections/cart-summary/cart_summary/no-such-cart"),
    )
    .error(404, "no-document");

    // A method the route does not have.
    let answer = http.delete(&url("/streams/cart-1")).call().unwrap();
    assert_eq!(answer.status().as_u16(), 405);
    let type_of = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        type_of.as_deref(),
        Some("application/json"),
        "405 is JSON too"
    );

    // A body over the limit (4 MiB).
    let big = format!(
        r#"{{"events":[{{"type":"Big","data":{{"blob":"{}"}}}}]}}"#,
        "x".repeat(5 << 20)
    );
    // Like curl for large bodies, wait for `100 Continue` before sending the body, so
    // the answer is read before the server closes the connection.
    let too_large = |path: &str, body: &str| {
        let answer = http
            .post(&url(path))
            .header("expect", "100-continue")
            .send(body);
        crate::support::server::Answer::of(answer)
    };
    too_large("/streams/big-1", &big).error(413, "too-large");
    let big_command = format!(r#"{{"type":"OpenCart","pad":"{}"}}"#, "x".repeat(5 << 20));
    too_large("/commands/cart/cart-9", &big_command).error(413, "too-large");
    // Modules have their own, larger limit.
    put(&http, &url("/modules/not-wasm"), b"not a component", None).error(400, "invalid-module");

    // Nothing above changed the log beyond the two successful commands.
    let log = get(&http, &url("/log"));
    assert_eq!(log.ok()["head"], 2, "{:?}", log.json);
    server.stop();
}

#[test]
fn with_a_token_writes_and_deploys_need_it_and_reads_stay_open() {
    let db = Db::new();
    let server = db.serve_cart(&["--token", "s3cret"]);
    let http = agent();
    let url = |path: &str| server.url(path);

    let command = open_cart("cart-1");
    post(&http, &url("/commands/cart/cart-1"), &command, None).error(401, "unauthorized");
    post(
        &http,
        &url("/commands/cart/cart-1"),
        &command,
        Some("wrong"),
    )
    .error(401, "unauthorized");
    let append = r#"{"events":[{"type":"Noted","data":{}}]}"#;
    post(&http, &url("/streams/notes-1"), append, None).error(401, "unauthorized");
    let cart = guests::wasm(guests::CART);
    put(&http, &url("/modules/cart"), &cart, None).error(401, "unauthorized");
    post(&http, &url("/projections/cart-summary/rebuild"), "", None).error(401, "unauthorized");
    assert_eq!(
        get(&http, &url("/health")).ok()["head"],
        0,
        "nothing was written"
    );

    post(
        &http,
        &url("/commands/cart/cart-1"),
        &command,
        Some("s3cret"),
    )
    .ok();
    post(&http, &url("/streams/notes-1"), append, Some("s3cret")).ok();
    let deployed = put(
        &http,
        &url("/modules/faulty"),
        &guests::wasm(FAULTY),
        Some("s3cret"),
    );
    assert_eq!(deployed.ok()["version"], 1);

    get(&http, &url("/streams/cart-1")).ok();
    get(&http, &url("/log")).ok();
    get(&http, &url("/modules")).ok();
    get(&http, &url("/projections")).ok();
    get(
        &http,
        &url("/projections/cart-summary/cart_summary/cart-1?wait_for=1"),
    )
    .ok();
    get(&http, &url("/metrics"));
    server.stop();
}
