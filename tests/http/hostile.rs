//! Hostile guests and hostile requests are contained: a guest that sleeps, requests
//! that wait, documents that are not JSON, and input the log must not take. Each test
//! runs a real `refold serve`, measures its resident memory and the latency of an
//! ordinary cart command while under attack (generous bounds, figures reported), and
//! checks the next ordinary command succeeds.

use crate::support::guests::{self, FAULTY};
use crate::support::server::{Db, Server, agent, get, open_cart, post, put};
use std::time::{Duration, Instant};

/// The most an ordinary command may take while the server is under attack: far above
/// what it takes on a loaded machine, far below what a stalled server makes it take.
const ORDINARY_LATENCY: Duration = Duration::from_secs(5);

/// The most the server's resident memory may grow under an attack, in KiB.
const RSS_GROWTH_KIB: usize = 256 << 10;

/// A server with the cart, the cart-summary projection and the faulty decider, and an
/// open cart `cart-ordinary` to probe it with.
fn hostile_server(db: &Db) -> Server {
    let server = db.serve_cart(&[]);
    put(
        &agent(),
        &server.url("/modules/faulty"),
        &guests::wasm(FAULTY),
        None,
    )
    .ok();
    post(
        &agent(),
        &server.url("/commands/cart/cart-ordinary"),
        &open_cart("cart-ordinary"),
        None,
    )
    .ok();
    server
}

/// Check an ordinary command is fast while `attack` runs on other threads, and that the
/// server's memory stays bounded; returns what each attacking thread returned.
fn under_attack<T: Send + 'static>(
    server: &Server,
    attackers: usize,
    attack: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let idle_rss = server.rss() / 1024;
    let attack = std::sync::Arc::new(attack);
    let threads: Vec<_> = (0..attackers)
        .map(|n| {
            let attack = attack.clone();
            std::thread::spawn(move || attack(n))
        })
        .collect();
    // Let the attack land before probing.
    std::thread::sleep(Duration::from_millis(500));
    let latency = server.cart_command_latency("cart-ordinary");
    let rss = server.rss() / 1024;
    assert!(
        latency < ORDINARY_LATENCY,
        "an ordinary command took {latency:?} under an attack of {attackers} requests (bound {ORDINARY_LATENCY:?})"
    );
    assert!(
        rss < idle_rss + RSS_GROWTH_KIB,
        "the server grew from {idle_rss} KiB to {rss} KiB under an attack of {attackers} requests"
    );
    let results = threads
        .into_iter()
        .map(|thread| thread.join().expect("an attacking thread finishes"))
        .collect();
    eprintln!(
        "under an attack of {attackers} requests: an ordinary command took {latency:?}; server RSS {idle_rss} -> {rss} KiB"
    );
    let after = server.cart_command_latency("cart-ordinary");
    assert!(
        after < ORDINARY_LATENCY,
        "the next ordinary command took {after:?}"
    );
    results
}

#[test]
fn a_guest_that_sleeps_returns_at_once_and_does_not_stall_other_commands() {
    let db = Db::new();
    let server = hostile_server(&db);
    let sleep = r#"{"type":"Sleep","data":{"seconds":3600}}"#;

    let started = Instant::now();
    let slept = post(
        &agent(),
        &server.url("/commands/faulty/sleeper"),
        sleep,
        None,
    );
    let took = started.elapsed();
    assert_eq!(slept.ok()["events"][0]["type"], "Slept", "{slept:?}");
    assert!(
        took < Duration::from_secs(10),
        "a guest sleeping an hour held its command for {took:?}"
    );

    let url = server.url("/commands/faulty");
    let answers = under_attack(&server, 50, move |n| {
        let started = Instant::now();
        let answer = post(&agent(), &format!("{url}/sleeper-{n}"), sleep, None);
        (answer.status, started.elapsed())
    });
    for (n, (status, took)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "sleeping command {n} answered {status}");
        assert!(
            *took < Duration::from_secs(30),
            "sleeping command {n} took {took:?}"
        );
    }
    // Each sleeping command wrote its one event, no more.
    for n in [0, 49] {
        let stream = get(&agent(), &server.url(&format!("/streams/sleeper-{n}")));
        assert_eq!(stream.ok()["version"], 1, "{stream:?}");
    }
}

#[test]
fn a_wait_beyond_the_head_is_refused_at_once_and_waits_hold_no_thread() {
    let db = Db::new();
    let server = hostile_server(&db);
    let head = get(&agent(), &server.url("/log?limit=1")).ok()["head"]
        .as_u64()
        .expect("the log has a head");
    let document = server.url("/projections/cart-summary/cart_summary/cart-ordinary");

    let started = Instant::now();
    let beyond = get(
        &agent(),
        &format!("{document}?wait_for={}&timeout_ms=3600000", head + 1000),
    );
    let took = started.elapsed();
    let error = beyond.error(400, "beyond-head");
    assert_eq!(error["details"]["head"], head, "{error}");
    assert_eq!(error["details"]["position"], head + 1000, "{error}");
    assert!(
        took < Duration::from_secs(5),
        "a wait beyond the head took {took:?}"
    );

    // A wait of an hour is clamped to 30 s, and the answer says so.
    let clamped = agent()
        .get(&format!("{document}?wait_for={head}&timeout_ms=3600000"))
        .call()
        .expect("the server answers");
    assert_eq!(clamped.status().as_u16(), 200);
    assert_eq!(
        clamped
            .headers()
            .get("refold-timeout-clamped")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("30000".to_owned())
    );

    // Half the attackers wait beyond the head, half hold a live feed open.
    let base = server.base.clone();
    let answers = under_attack(&server, 200, move |n| {
        if n % 2 == 0 {
            let url = format!(
                "{base}/projections/cart-summary/cart_summary/cart-ordinary?wait_for={}&timeout_ms=3600000",
                head + 1 + n as u64
            );
            let answer = get(&agent(), &url);
            (answer.status, answer.json["error"]["kind"].clone())
        } else {
            let feed: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(3)))
                .build()
                .into();
            let response = feed
                .get(&format!("{base}/log/live"))
                .call()
                .expect("the server answers");
            let status = response.status().as_u16();
            // Held open until the client's timeout ends it.
            let _ = response.into_body().read_to_vec();
            (status, serde_json::Value::Null)
        }
    });
    for (n, (status, kind)) in answers.iter().enumerate() {
        if n % 2 == 0 {
            assert_eq!(
                (*status, kind.as_str()),
                (400, Some("beyond-head")),
                "wait {n}"
            );
        } else {
            assert_eq!(*status, 200, "live feed {n}");
        }
    }
    // Nothing was written by any of it.
    let after = get(&agent(), &server.url("/log?limit=1")).ok()["head"].clone();
    assert_eq!(after, head + 2, "only the two probing commands wrote");
}

#[test]
fn input_the_log_must_not_take_is_refused_naming_its_field_and_nothing_is_written() {
    let db = Db::new();
    let server = hostile_server(&db);
    let http = agent();
    let head = || get(&http, &server.url("/log?limit=1")).ok()["head"].clone();
    let before = head();

    let lone = post(
        &http,
        &server.url("/streams/noted-1"),
        r#"{"events":[{"type":"Noted","data":{"text":"\ud800"}}]}"#,
        None,
    );
    let error = lone.error(400, "invalid-append");
    assert_eq!(error["details"]["field"], "/events/0/data/text", "{error}");
    let lone = post(
        &http,
        &server.url("/streams"),
        r#"{"appends":[{"stream":"noted-2","events":[{"type":"Noted","data":{},"metadata":{"by":["\udfff"]}}]}]}"#,
        None,
    );
    let error = lone.error(400, "invalid-append");
    assert_eq!(
        error["details"]["field"], "/events/0/metadata/by/0",
        "{error}"
    );
    assert_eq!(error["details"]["stream"], "noted-2", "{error}");

    let command = post(
        &http,
        &server.url("/commands/cart/cart-lone"),
        r#"{"type":"OpenCart","data":{"cartId":"\ud800"}}"#,
        None,
    );
    let error = command.error(400, "invalid-command");
    assert_eq!(error["details"]["field"], "/data/cartId", "{error}");
    assert_eq!(error["module"], "cart", "{error}");

    for stream in ["nul%00byte", "bell%07", &"s".repeat(201)] {
        let append = post(
            &http,
            &server.url(&format!("/streams/{stream}")),
            r#"{"events":[{"type":"Noted","data":{}}]}"#,
            None,
        );
        let error = append.error(400, "invalid-append");
        assert_eq!(error["details"]["field"], "/stream", "{error}");
        let command = post(
            &http,
            &server.url(&format!("/commands/cart/{stream}")),
            &open_cart("cart-x"),
            None,
        );
        command.error(400, "invalid-command");
    }
    post(
        &http,
        &server.url("/commands/cart/cart-p?partition=tenant%0A"),
        &open_cart("cart-p"),
        None,
    )
    .error(400, "invalid-command");

    // A guest's event with a lone surrogate is the guest's fault, and is not stored.
    let guest = post(
        &http,
        &server.url("/commands/faulty/lone"),
        r#"{"type":"LoneSurrogate"}"#,
        None,
    );
    let error = guest.error(500, "guest-fault");
    assert_eq!(error["module"], "faulty", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("surrogate"),
        "{error}"
    );

    assert_eq!(head(), before, "nothing of it was written");
    for stream in ["noted-1", "noted-2", "cart-lone", "lone"] {
        let read = get(&http, &server.url(&format!("/streams/{stream}")));
        assert_eq!(read.ok()["version"], serde_json::Value::Null, "{stream}");
    }
    // The engine goes on: a command, and the projection serving it.
    let opened = post(
        &http,
        &server.url("/commands/cart/cart-after"),
        &open_cart("cart-after"),
        None,
    );
    let position = opened.ok()["position"].clone();
    let summary = get(
        &http,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary/cart-after?wait_for={position}"
        )),
    );
    assert_eq!(summary.ok()["cartId"], "cart-after", "{summary:?}");
}

/// Append one event of `event_type` with `data` to `stream`; its global position.
fn append_one(server: &Server, stream: &str, event_type: &str, data: &str) -> u64 {
    let body = format!(r#"{{"events":[{{"type":"{event_type}","data":{data}}}]}}"#);
    let appended = post(
        &agent(),
        &server.url(&format!("/streams/{stream}")),
        &body,
        None,
    );
    appended.ok()["lastPosition"]
        .as_u64()
        .expect("an append returns its last position")
}

#[test]
fn documents_are_checked_and_bounded_and_pages_end_at_their_bytes() {
    let db = Db::new();
    let hostile = format!(
        "hostile-projection={}",
        guests::wasm_path(guests::HOSTILE_PROJECTION).display()
    );
    let server = db.serve_cart(&[
        "--deploy",
        &hostile,
        "--max-document-bytes",
        "65536",
        "--max-batch-document-bytes",
        "1048576",
        "--max-page-bytes",
        "262144",
    ]);
    let http = agent();
    post(
        &http,
        &server.url("/commands/cart/cart-ordinary"),
        &open_cart("cart-ordinary"),
        None,
    )
    .ok();
    put(
        &http,
        &server.url("/modules/hostile-skip?policy=skip"),
        &guests::wasm(guests::HOSTILE_PROJECTION),
        None,
    )
    .ok();

    // 40 events each putting 4 documents of 60,000 bytes: 9.6 MB, ten times what one
    // batch may hold, so the batch commits early, one event at a time.
    let idle_rss = server.rss() / 1024;
    let base = server.base.clone();
    let positions = under_attack(&server, 4, move |n| {
        let server_url = |path: &str| format!("{base}{path}");
        let events = [r#"{"type":"PutMany","data":{"count":4,"bytes":60000}}"#; 10].join(",");
        let appended = post(
            &agent(),
            &server_url(&format!("/streams/many-{n}")),
            &format!(r#"{{"events":[{events}]}}"#),
            None,
        );
        appended.ok()["lastPosition"].as_u64().unwrap()
    });
    let last = positions.into_iter().max().unwrap();
    let wait = format!("wait_for={last}&timeout_ms=30000");
    // A page asked for 1,000 documents ends at 256 KiB, and its cursor goes on.
    let (mut listed, mut pages, mut after) = (0, 0, String::new());
    loop {
        let page = get(
            &http,
            &server.url(&format!(
                "/projections/hostile-projection/docs?{wait}&limit=1000&after={after}"
            )),
        );
        let page = page.ok();
        let documents = page["documents"].as_array().unwrap();
        let sizes: Vec<usize> = documents
            .iter()
            .map(|d| d["id"].as_str().unwrap().len() + d["document"].to_string().len())
            .collect();
        let before_last: usize = sizes.split_last().map_or(0, |(_, rest)| rest.iter().sum());
        assert!(
            before_last <= 262_144,
            "a page ends with the document that passes 256 KiB: {sizes:?}"
        );
        listed += documents
            .iter()
            .filter(|d| d["id"].as_str().unwrap().starts_with("many-"))
            .count();
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        (listed, pages >= 32),
        (160, true),
        "{listed} in {pages} pages"
    );
    let rss = server.rss() / 1024;
    assert!(
        rss < idle_rss + RSS_GROWTH_KIB,
        "the server grew from {idle_rss} KiB to {rss} KiB projecting 9.6 MB of documents"
    );
    eprintln!("projecting 9.6 MB of documents: server RSS {idle_rss} -> {rss} KiB");

    // A document that is not JSON stops the projection (policy stop), naming the module.
    let not_json = append_one(&server, "nj-1", "PutNotJson", "{}");
    let faulted = get(
        &http,
        &server.url(&format!(
            "/projections/hostile-projection/docs/nj-1?wait_for={not_json}&timeout_ms=30000"
        )),
    );
    let error = faulted.error(500, "projection-faulted");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("module 'hostile-projection'")
            && message.contains("document 'nj-1' of collection 'docs' is not a JSON object"),
        "{message}"
    );
    assert_eq!(error["details"]["position"], not_json);

    // With policy skip, each refused document skips its event: not JSON, another kind of
    // JSON, one over 64 KiB; the next event is applied.
    append_one(&server, "arr-1", "PutArray", "{}");
    append_one(&server, "big-1", "PutLarge", r#"{"bytes":70000}"#);
    let fine = append_one(&server, "ok-1", "Fine", "{}");
    let ok = get(
        &http,
        &server.url(&format!(
            "/projections/hostile-skip/docs/ok-1?wait_for={fine}&timeout_ms=30000"
        )),
    );
    assert_eq!(ok.ok()["ok"], true, "{ok:?}");
    for refused in ["nj-1", "arr-1", "big-1"] {
        get(
            &http,
            &server.url(&format!("/projections/hostile-skip/docs/{refused}")),
        )
        .error(404, "no-document");
    }
    let status = get(&http, &server.url("/projections/hostile-skip"));
    assert_eq!(status.ok()["active"]["skipped"], 3, "{status:?}");
    let log = server.log();
    assert!(
        log.contains("document 'big-1' of collection 'docs' is 70000 bytes, over the 65536-byte limit of one document"),
        "the skip names the refused document; the server's log:\n{log}"
    );
}
