//! Another process writing to the server's database file: the server notices its
//! commits, goes on appending after them, and its live feed delivers them.

use super::live::Feed;
use crate::support::server::{Db, agent, get, post};
use crate::support::wait::{PATIENCE, output_within};
use std::io::Write;
use std::process::{Command, Stdio};
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

    let mut append = Command::new(env!("CARGO_BIN_EXE_refold"))
        .arg("--db")
        .arg(db.path())
        .args(["append", "b-1"])
        .env_remove("REFOLD_DB")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the refold binary runs");
    append
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(br#"{"type":"FromCli","data":{"n":1}}"#)
        .expect("write the event");
    let output = output_within(append, PATIENCE, "refold append");
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
