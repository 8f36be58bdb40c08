//! `POST /streams`: one request appends to several streams, all or nothing.

use crate::support::both_backends;
use crate::support::server::{Db, agent, get, post};
use serde_json::json;

both_backends! {
fn several_streams_are_appended_together_or_not_at_all(backend: Backend) {
    let db = Db::on(backend);
    let server = db.serve(&[]);
    let http = agent();
    let url = |path: &str| server.url(path);

    let body = json!({"appends": [
        {"stream": "order-1", "expectedVersion": "no-stream",
         "events": [{"type": "Placed", "data": {"n": 1}}, {"type": "Paid", "data": {}}]},
        {"stream": "stock-7", "partition": "shop-2",
         "events": [{"type": "Reserved", "data": {"order": "order-1"}}]},
    ]});
    let answer = post(&http, &url("/streams"), &body.to_string(), None);
    let appends = &answer.ok()["appends"];
    assert_eq!(appends[0]["stream"], "order-1");
    assert_eq!(appends[0]["partition"], "default");
    assert_eq!(
        (&appends[0]["streamVersion"], &appends[0]["lastPosition"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(appends[1]["partition"], "shop-2");
    assert_eq!(appends[1]["firstPosition"], 3);

    // A conflict on the second stream refuses the first one's events too.
    let body = json!({"appends": [
        {"stream": "order-2", "events": [{"type": "Placed", "data": {}}]},
        {"stream": "order-1", "expectedVersion": 1, "events": [{"type": "Paid", "data": {}}]},
    ]});
    let refused = post(&http, &url("/streams"), &body.to_string(), None);
    let error = refused.error(409, "conflict");
    assert_eq!(error["details"]["stream"], "order-1", "{error}");
    assert_eq!(error["details"]["actual"], 2, "{error}");
    assert_eq!(error["details"]["expected"], 1, "{error}");
    let log = get(&http, &url("/log"));
    assert_eq!(log.ok()["head"], 3);
    let order_2 = get(&http, &url("/streams/order-2"));
    assert_eq!(order_2.ok()["events"], json!([]));

    // A body that is not the one append request shape is a 400 naming the problem.
    let malformed = post(&http, &url("/streams"), r#"{"append": []}"#, None);
    let error = malformed.error(400, "bad-request");
    assert!(
        error["message"].as_str().unwrap().contains("appends"),
        "{error}"
    );
    server.stop();
}
}
