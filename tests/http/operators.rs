//! The routes operators (and the admin page) read beside the status: the events a
//! `skip` projection skipped, a module's deploys, the page itself.

use crate::support::both_backends;
use crate::support::guests::{self, FAULTY_PROJECTION};
use crate::support::server::{Db, agent, get, post, put};
use crate::support::wait::{PATIENCE, wait_until};

both_backends! {
fn the_skipped_events_of_a_projection_and_a_modules_deploys_are_read_over_http(backend: Backend) {
    let db = Db::on(backend);
    let server = db.serve(&[]);
    let http = agent();
    let wasm = std::fs::read(guests::wasm_path(FAULTY_PROJECTION)).expect("the component");
    put(&http, &server.url("/modules/skipper?policy=skip"), &wasm, None).ok();
    let poison = r#"{"events":[{"type":"Poison","data":{}},{"type":"Fine","data":{}},{"type":"Poison","data":{}}]}"#;
    let head = post(&http, &server.url("/streams/bad-1"), poison, None).ok()["lastPosition"]
        .as_u64()
        .expect("a position");
    wait_until(
        PATIENCE,
        "the skipper to pass the poison events",
        || get(&http, &server.url("/projections/skipper")).json["active"]["checkpoint"].clone(),
        |checkpoint| checkpoint.as_u64() == Some(head),
    );

    let skipped = get(&http, &server.url("/projections/skipper/skipped"));
    let body = skipped.ok();
    assert_eq!(body["skipped"][0]["position"], 1, "{body}");
    assert_eq!(body["skipped"][1]["position"], 3, "{body}");
    assert!(
        body["skipped"][0]["error"].as_str().is_some_and(|e| e.contains("event 1 is poison")),
        "{body}"
    );
    assert_eq!(body["skipped"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(body["next"].is_null(), "{body}");
    let page = get(&http, &server.url("/projections/skipper/skipped?limit=1"));
    assert_eq!(page.ok()["next"], 1, "a full page says where the next starts");
    let rest = get(&http, &server.url("/projections/skipper/skipped?after=1"));
    assert_eq!(rest.ok()["skipped"][0]["position"], 3);
    get(&http, &server.url("/projections/nobody/skipped")).error(404, "unknown-projection");

    let history = get(&http, &server.url("/modules/skipper/history"));
    let deployments = history.ok()["deployments"].as_array().cloned().unwrap_or_default();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0]["version"], 1);
    assert_eq!(deployments[0]["policy"], "skip");
    get(&http, &server.url("/modules/nobody/history")).error(404, "unknown-module");

    let listed = get(&http, &server.url("/projections"));
    let lag = &listed.ok()["projections"][0]["active"]["lagSeconds"];
    assert_eq!(lag.as_f64(), Some(0.0), "caught up: {lag}");
    server.stop();
}
}

#[test]
fn the_admin_page_is_served_at_ui_and_the_root_redirects_there() {
    let db = Db::new();
    let server = db.serve(&["--token", "s3cret"]);
    let http = agent();
    let root = get(&http, &server.url("/"));
    assert_eq!(root.status, 200, "followed to the page: {root:?}");
    assert!(root.text.contains("<title>Refold</title>"), "{}", root.text);
    for (path, kind) in [
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/ui", "text/html"),
    ] {
        let asset = get(&http, &server.url(path));
        assert_eq!(asset.status, 200, "{path}");
        assert!(asset.content_type.starts_with(kind), "{path}: {asset:?}");
    }
    let config = get(&http, &server.url("/ui/config"));
    assert_eq!(config.ok()["tokenRequired"], true);
    post(&http, &server.url("/ui/session"), "", None).error(401, "unauthorized");
    let accepted = post(&http, &server.url("/ui/session"), "", Some("s3cret"));
    assert_eq!(accepted.status, 204, "{accepted:?}");
    server.stop();
}
