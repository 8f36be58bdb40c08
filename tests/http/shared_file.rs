//! Other processes on the server's database file: the server notices their commits
//! and deploys, goes on appending after them, and its live feed delivers them; a
//! second server on the file shares the work and takes over the projections of a
//! first that dies.

use super::live::Feed;
use crate::support::guests::{self, CART_V2};
use crate::support::server::{
    Db, Server, add_item, agent, get, open_cart, post, refold_on, whole_log,
};
use crate::support::wait::{PATIENCE, wait_until};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the live feed may take to deliver another process's event here (the
/// server looks for foreign commits every 50 ms; this is a generous bound for a
/// loaded machine, the figure is printed).
const DELIVERY: Duration = Duration::from_secs(10);

#[test]
fn a_command_line_append_beside_a_running_server_breaks_nothing() {
    let db = Db::new();
    let server = db.serve(&[]);
    let http = agent();
    let event = r#"{"events":[{"type":"T","data":{}}]}"#;
    let first = post(&http, &server.url("/streams/a-1"), event, None);
    assert_eq!(first.ok()["lastPosition"], 1);
    let mut feed = Feed::open(&server, Some(1));

    let output = refold_on(
        &db.path(),
        &["append", "b-1"],
        r#"{"type":"FromCli","data":{"n":1}}"#,
    );
    assert!(
        output.status.success(),
        "refold append: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let appended = Instant::now();

    let (id, data) = feed.next();
    let took = appended.elapsed();
    assert_eq!(id, 2);
    assert_eq!(
        (&data["stream"], &data["type"]),
        (&"b-1".into(), &"FromCli".into())
    );
    assert!(
        took < DELIVERY,
        "the live feed delivered the other process's event after {took:?}"
    );
    println!("the live feed delivered the other process's event {took:?} after its commit");

    // The server appends after the other process's event, not over it.
    let again = post(&http, &server.url("/streams/a-1"), event, None);
    assert_eq!(again.ok()["lastPosition"], 3, "{again:?}");
    let log = get(&http, &server.url("/log"));
    assert_eq!(log.ok()["head"], 3);
    let types: Vec<_> = log.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["T", "FromCli", "T"]);
    server.stop();
}

/// What one of the HTTP writers saw: the global position of each acknowledged append
/// (one event each, to its own stream), and every request that failed.
#[derive(Default)]
struct Written {
    acknowledged: Vec<(String, u64)>,
    failed: Vec<String>,
}

/// Append one event per request to `stream` on `base` until `stop` is set.
fn write_until(base: String, stream: String, stop: Arc<AtomicBool>) -> Written {
    let http = agent();
    let mut written = Written::default();
    while !stop.load(Ordering::SeqCst) {
        let version = written.acknowledged.len();
        let body = format!(
            r#"{{"expectedVersion":{version},"events":[{{"type":"Written","data":{{"n":{version}}}}}]}}"#
        );
        let answer = post(&http, &format!("{base}/streams/{stream}"), &body, None);
        if answer.status == 200 {
            let position = answer.ok()["lastPosition"].as_u64().expect("a position");
            written.acknowledged.push((stream.clone(), position));
        } else {
            written.failed.push(format!("{answer:?}"));
        }
    }
    written
}

/// The state of the active generation of `projection` on `server`.
fn projection_state(server: &Server, projection: &str) -> String {
    let status = get(&agent(), &server.url(&format!("/projections/{projection}")));
    status.ok()["active"]["state"]
        .as_str()
        .expect("a projection state")
        .to_owned()
}

#[test]
fn command_line_writes_deploys_and_a_second_server_beside_a_busy_server_lose_nothing() {
    let db = Db::new();
    let lease_ttl = Duration::from_secs(3);
    let ttl = format!("{}s", lease_ttl.as_secs());
    let first = db.serve_cart(&["--lease-ttl", &ttl]);
    let http = agent();
    let mut feed = Feed::open(&first, Some(0));

    // Four HTTP writers keep appending through every step below.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let (base, stop) = (first.base.clone(), stop.clone());
            std::thread::spawn(move || write_until(base, format!("writer-{i}"), stop))
        })
        .collect();

    // A bulk append of 10,000 events from another process.
    let lines: String = (0..10_000)
        .map(|n| format!("{{\"type\":\"Imported\",\"data\":{{\"n\":{n}}}}}\n"))
        .collect();
    let imported = refold_on(&db.path(), &["append", "import-1"], &lines);
    assert!(
        imported.status.success(),
        "refold append: {}",
        String::from_utf8_lossy(&imported.stderr)
    );

    // A command from another process.
    let commanded = refold_on(
        &db.path(),
        &["command", "cart", "cart-cli", &open_cart("cart-cli")],
        "",
    );
    assert!(
        commanded.status.success(),
        "refold command: {}",
        String::from_utf8_lossy(&commanded.stderr)
    );

    // A deploy from another process goes live in the running server.
    let v2 = guests::wasm_path(CART_V2);
    let deployed = refold_on(
        &db.path(),
        &["deploy", "cart", &v2.display().to_string()],
        "",
    );
    assert!(
        deployed.status.success(),
        "refold deploy: {}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    let recorded = Instant::now();
    let v2_hash = refold::runtime::content_hash(&guests::wasm(CART_V2));
    wait_until(
        PATIENCE,
        "the running server to make the other process's deploy live",
        || get(&http, &first.url("/modules")).ok()["modules"].clone(),
        |modules| {
            modules.as_array().is_some_and(|modules| {
                modules.iter().any(|m| {
                    m["name"] == "cart" && m["version"] == 2 && m["hash"] == v2_hash.as_str()
                })
            })
        },
    );
    println!(
        "the running server made the other process's deploy live {:?} after it was recorded",
        recorded.elapsed()
    );

    // A second server on the same file answers reads and commands; the projection runs
    // in the first, under its lease, and stands by in the second.
    let second = db.serve(&["--lease-ttl", &ttl]);
    let opened = post(
        &http,
        &second.url("/commands/cart/cart-second"),
        &open_cart("cart-second"),
        None,
    );
    assert_eq!(opened.ok()["moduleVersion"], 2, "{opened:?}");
    assert!(get(&http, &second.url("/log?limit=1")).ok()["head"].as_u64() > Some(10_000));
    wait_until(
        PATIENCE,
        "the projection to run in the first server and stand by in the second",
        || {
            (
                projection_state(&first, "cart-summary"),
                projection_state(&second, "cart-summary"),
            )
        },
        |(first, second)| first != "standby" && second == "standby",
    );

    stop.store(true, Ordering::SeqCst);
    let written: Vec<Written> = writers
        .into_iter()
        .map(|w| w.join().expect("a writer thread"))
        .collect();
    let failed: Vec<&String> = written.iter().flat_map(|w| &w.failed).collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");

    // The first server's live feed delivered the other process's events.
    let (mut imports, mut cli_command) = (0, false);
    while imports < 10_000 || !cli_command {
        let (_, event) = feed.next();
        match event["stream"].as_str() {
            Some("import-1") => {
                assert_eq!(event["data"]["n"], imports, "imported events in order");
                imports += 1;
            }
            Some("cart-cli") => cli_command = true,
            _ => {}
        }
    }

    // The first server dies; the second takes its projection over within the lease.
    first.kill();
    let killed = Instant::now();
    wait_until(
        PATIENCE,
        "the second server to take the projection over",
        || projection_state(&second, "cart-summary"),
        |state| state != "standby",
    );
    let took = killed.elapsed();
    println!(
        "the second server took the projection over {took:?} after the first was killed (lease {lease_ttl:?})"
    );
    assert!(
        took < lease_ttl + PATIENCE,
        "took over after {took:?}, lease {lease_ttl:?}"
    );
    let added = post(
        &http,
        &second.url("/commands/cart/cart-cli"),
        &add_item("cart-cli", "sku-1", 2),
        None,
    );
    let position = added.ok()["position"].as_u64().expect("a position");
    let summary = get(
        &http,
        &second.url(&format!(
            "/projections/cart-summary/cart_summary/cart-cli?wait_for={position}"
        )),
    );
    assert_eq!(summary.ok()["itemCount"], 2, "{summary:?}");

    // Every acknowledged event is present, at its position, and positions are contiguous.
    let log = whole_log(&second.base);
    let positions: Vec<u64> = log
        .iter()
        .map(|e| e["globalPosition"].as_u64().unwrap())
        .collect();
    let contiguous: Vec<u64> = (1..=positions.len() as u64).collect();
    assert!(
        positions == contiguous,
        "global positions are not 1..={}",
        positions.len()
    );
    for (stream, position) in written.iter().flat_map(|w| &w.acknowledged) {
        let event = &log[*position as usize - 1];
        assert_eq!(event["stream"].as_str(), Some(stream.as_str()), "{event}");
    }
    let imported = log.iter().filter(|e| e["stream"] == "import-1").count();
    assert_eq!(imported, 10_000);
    second.stop();
}
