//! The live feed: server-sent events, read as a streaming body line by line, resumed
//! with `Last-Event-ID` with no gap and no duplicate while the log keeps growing.

use crate::support::both_backends;
use crate::support::server::{Db, Server, agent, post};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One connection to `GET /log/live`, read event by event.
pub(crate) struct Feed {
    lines: BufReader<Box<dyn Read + Send>>,
}

impl Feed {
    pub(super) fn open(server: &Server, last_event_id: Option<u64>) -> Feed {
        Feed::open_at(server, "/log/live", last_event_id)
    }

    /// A connection to `path` (`/log/live` with a query).
    pub(crate) fn open_at(server: &Server, path: &str, last_event_id: Option<u64>) -> Feed {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_per_read(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut request = http
            .get(&server.url(path))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.call().expect("the server answers");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "text/event-stream");
        Feed {
            lines: BufReader::new(Box::new(response.into_body().into_reader())),
        }
    }

    /// The next event: its id and its data. Fails when none comes within a minute
    /// (the server sends a keep-alive comment every 15 seconds).
    pub(crate) fn next(&mut self) -> (u64, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut id, mut data) = (None, None);
        loop {
            assert!(Instant::now() < deadline, "no event came within a minute");
            let mut line = String::new();
            let read = self
                .lines
                .read_line(&mut line)
                .expect("the feed stays open");
            assert!(read > 0, "the feed ended");
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let (Some(id), Some(data)) = (id.take(), data.take()) {
                    return (id, data);
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // keep-alive comment
            }
            if let Some(value) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                id = Some(value.parse().expect("an event id is a global position"));
            } else if let Some(value) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                data = Some(serde_json::from_str(value).expect("event data is JSON"));
            }
        }
    }
}

both_backends! {
fn a_resumed_feed_has_no_gap_and_no_duplicate_while_appends_go_on(backend: Backend) {
    let db = Db::on(backend);
    let server = db.serve(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, stop) = (server.base.clone(), stop.clone());
        std::thread::spawn(move || {
            let http = agent();
            let mut appended = 0u64;
            while !stop.load(Ordering::SeqCst) || appended < 150 {
                let stream = format!("notes-{}", appended % 7);
                let body =
                    format!(r#"{{"events":[{{"type":"Noted","data":{{"n":{appended}}}}}]}}"#);
                let answer = post(&http, &format!("{url}/streams/{stream}"), &body, None);
                assert_eq!(answer.ok()["lastPosition"], appended + 1, "{answer:?}");
                appended += 1;
            }
            appended
        })
    };

    let mut received = Vec::new();
    let check = |id: u64, event: &Value| {
        assert_eq!(
            event["globalPosition"], id,
            "the id is the event's position"
        );
        assert_eq!(event["type"], "Noted");
        assert_eq!(event["data"]["n"], id - 1);
    };
    {
        let mut feed = Feed::open(&server, None);
        while received.len() < 50 {
            let (id, event) = feed.next();
            check(id, &event);
            received.push(id);
        }
        // Dropped mid-stream: the writer is still appending.
    }
    let last = *received.last().unwrap();
    let mut feed = Feed::open(&server, Some(last));
    while received.len() < 100 {
        let (id, event) = feed.next();
        check(id, &event);
        received.push(id);
    }
    stop.store(true, Ordering::SeqCst);
    let appended = writer.join().expect("the writer succeeds");
    while received.last() != Some(&appended) {
        let (id, event) = feed.next();
        check(id, &event);
        received.push(id);
    }
    let expected: Vec<u64> = (1..=appended).collect();
    assert_eq!(received, expected, "no gap and no duplicate");

    // `after` starts a feed later, and filters apply.
    let http = agent();
    post(
        &http,
        &server.url("/streams/other-1"),
        r#"{"events":[{"type":"Other","data":{}}]}"#,
        None,
    )
    .ok();
    let mut filtered = {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_per_read(Some(Duration::from_secs(30)))
            .build()
            .into();
        let response = http
            .get(&server.url("/log/live?types=Other&after=1"))
            .call()
            .unwrap();
        Feed {
            lines: BufReader::new(Box::new(response.into_body().into_reader())),
        }
    };
    let (id, event) = filtered.next();
    assert_eq!((id, &event["type"]), (appended + 1, &Value::from("Other")));
    drop(filtered);
    drop(feed);
    server.stop();
}
}
