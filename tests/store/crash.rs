//! Durability: a real child process appends from several threads and is killed with
//! SIGKILL at random moments, again and again, on the same file. Every acknowledged
//! append must survive whole, at its acknowledged position, and nothing may be torn.
//! Each kill comes once the child has acknowledged a seeded number of appends, so it
//! always lands while appends are under way. The child is a program appending to the
//! store, or a `refold serve` taking multi-stream appends over HTTP: none may be half
//! present.
//!
//! SQLite-only: the child process and the file it appends to are SQLite's (on
//! PostgreSQL the server, not the killed process, owns durability); killed nodes on
//! PostgreSQL are the multi-node process tests' to cover.

use super::whole_log;
use crate::support::seed::SplitMix;
use crate::support::server::{Db, agent};
use crate::support::wait::{Lines, PATIENCE};
use crate::support::{block_on, example_binary};
use refold::store::sqlite::{SqliteStore, StoreConfig};
use refold::store::{EventStore, RecordedEvent};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use uuid::Uuid;

const ROUNDS: usize = 24;
const THREADS: &str = "6";
/// Each round kills the child once it has acknowledged k appends, k in 1..=this, ...
const MOST_ACKS_BEFORE_KILL: u64 = 200;
/// ... and 0..this many microseconds more.
const MOST_JITTER_MICROS: u64 = 5_000;

/// One acknowledged append, as the child printed it.
#[derive(Debug)]
struct Ack {
    stream: String,
    stream_version: u64,
    first_position: u64,
    last_position: u64,
    ids: Vec<Uuid>,
}

fn parse_ack(line: &str) -> Ack {
    let fields: Vec<&str> = line.split(' ').collect();
    let ["ack", stream, version, first, last, ids] = fields.as_slice() else {
        panic!("the child printed a malformed line: {line:?}");
    };
    let number = |text: &str| {
        text.parse::<u64>()
            .unwrap_or_else(|e| panic!("{text:?} in {line:?}: {e}"))
    };
    Ack {
        stream: stream.to_string(),
        stream_version: number(version),
        first_position: number(first),
        last_position: number(last),
        ids: ids
            .split(',')
            .map(|id| id.parse().expect("an event id"))
            .collect(),
    }
}

/// Run the child on `database` until it has acknowledged `acks` appends, kill it
/// `jitter` later, and give every append it acknowledged (it acknowledges more in the
/// meantime). The jitter decides nothing the test checks: it spreads the kill over the
/// phases of the writer's group commit (writing, syncing, answering).
fn run_and_kill(
    binary: &std::path::Path,
    database: &std::path::Path,
    acks: u64,
    jitter: Duration,
) -> Vec<Ack> {
    let mut child = Command::new(binary)
        .arg(database)
        .arg(THREADS)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the append-loop child");
    // Complete lines only: a line cut by the kill was never an acknowledgement.
    let mut lines = Lines::new(child.stdout.take().expect("the child's stdout"));
    let mut acknowledged: Vec<String> = (1..=acks)
        .map(|n| lines.next(PATIENCE, &format!("acknowledgement {n} of {acks}")))
        .collect();
    std::thread::sleep(jitter);
    // `kill` sends SIGKILL on Unix: no destructor, no flush, no clean shutdown.
    child.kill().expect("kill the child");
    let status = child.wait().expect("reap the child");
    acknowledged.extend(lines.rest(PATIENCE));
    assert!(
        status.code().is_none(),
        "the child exited by itself ({status}) before it was killed"
    );
    acknowledged.iter().map(|line| parse_ack(line)).collect()
}

#[test]
fn acknowledged_appends_survive_sigkill_whole() {
    let mut random = SplitMix::seeded();
    let binary = example_binary("append-loop");
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let database = dir.path().join("events.db");
    let mut acks = Vec::new();
    for _ in 0..ROUNDS {
        let acks_before_kill = 1 + random.next() % MOST_ACKS_BEFORE_KILL;
        let jitter = Duration::from_micros(random.next() % MOST_JITTER_MICROS);
        acks.extend(run_and_kill(&binary, &database, acks_before_kill, jitter));
    }
    assert!(
        !acks.is_empty(),
        "the child never acknowledged an append: the test tested nothing"
    );
    let store =
        SqliteStore::open(StoreConfig::new(&database)).expect("reopen the store after the kills");
    let log = whole_log(&store);
    let positions: Vec<u64> = log.iter().map(|e| e.global_position).collect();
    assert_eq!(
        positions,
        (1..=log.len() as u64).collect::<Vec<_>>(),
        "global positions are 1..head"
    );
    assert_eq!(store.head(), log.len() as u64);
    for ack in &acks {
        assert!(
            ack.last_position <= store.head(),
            "acknowledged {ack:?}, but the log ends at {}",
            store.head()
        );
        let events = &log[ack.first_position as usize - 1..ack.last_position as usize];
        assert_eq!(events.len(), ack.ids.len(), "acknowledged {ack:?}");
        let first_version = ack.stream_version + 1 - ack.ids.len() as u64;
        for ((event, id), version) in events.iter().zip(&ack.ids).zip(first_version..) {
            assert_eq!(
                (&event.stream, event.stream_position, event.id),
                (&ack.stream, version, *id),
                "acknowledged {ack:?}, stored {event:?}"
            );
        }
    }
    check_appends_whole(&log);
    check_streams(&store, &log);
    eprintln!(
        "{} acknowledged appends over {ROUNDS} kills, {} events stored",
        acks.len(),
        log.len()
    );
}

/// Every append's events are all stored, together, or none is: consecutive in the log,
/// and consecutive in each stream they went to.
fn check_appends_whole(log: &[RecordedEvent]) {
    let mut appends: HashMap<String, Vec<&RecordedEvent>> = HashMap::new();
    for event in log {
        let data: serde_json::Value =
            serde_json::from_str(&event.data).expect("the child's JSON data");
        appends
            .entry(
                data["append"]
                    .as_str()
                    .expect("an append marker")
                    .to_owned(),
            )
            .or_default()
            .push(event);
    }
    for (marker, events) in appends {
        let size = serde_json::from_str::<serde_json::Value>(&events[0].data).unwrap()["size"]
            .as_u64()
            .unwrap();
        assert_eq!(
            events.len() as u64,
            size,
            "append {marker} is torn: {events:?}"
        );
        for (index, pair) in events.windows(2).enumerate() {
            assert_eq!(
                pair[1].global_position,
                pair[0].global_position + 1,
                "append {marker}, event {index}"
            );
            if pair[1].stream == pair[0].stream {
                assert_eq!(
                    pair[1].stream_position,
                    pair[0].stream_position + 1,
                    "append {marker}, event {index}"
                );
            }
        }
    }
}

/// Every stream's positions run 1..version, and its recorded version agrees.
fn check_streams(store: &impl EventStore, log: &[RecordedEvent]) {
    let mut streams: HashMap<&str, Vec<u64>> = HashMap::new();
    for event in log {
        streams
            .entry(&event.stream)
            .or_default()
            .push(event.stream_position);
    }
    for (stream, positions) in streams {
        assert_eq!(
            positions,
            (1..=positions.len() as u64).collect::<Vec<_>>(),
            "stream {stream}"
        );
        assert_eq!(
            block_on(store.stream_version("default", stream)).unwrap(),
            Some(positions.len() as u64),
            "stream {stream}"
        );
    }
}

/// Rounds of the server crash test: each starts a server, kills it mid-appends.
const SERVER_ROUNDS: usize = 8;
/// HTTP clients appending to the server at once.
const CLIENTS: usize = 4;

/// One acknowledged multi-stream append: its marker, and each stream it went to with
/// the global position of its last event there.
type MultiAck = (String, Vec<(String, u64)>);

/// A multi-stream append to 2..=4 of six streams, 1..=3 events each, every event
/// marked with the append's marker, the append's size and its index in it.
fn multi_append(random: &mut SplitMix) -> (String, String) {
    let marker = Uuid::new_v4().to_string();
    let streams = 2 + random.next() % 3;
    let first = random.next() % 6;
    let counts: Vec<u64> = (0..streams).map(|_| 1 + random.next() % 3).collect();
    let size: u64 = counts.iter().sum();
    let mut index = 0;
    let appends: Vec<serde_json::Value> = counts
        .iter()
        .enumerate()
        .map(|(k, &count)| {
            let events: Vec<serde_json::Value> = (0..count)
                .map(|_| {
                    index += 1;
                    serde_json::json!({"type": "Marked",
                        "data": {"append": marker, "size": size, "index": index - 1}})
                })
                .collect();
            let stream = format!("multi-{}", (first + k as u64) % 6);
            serde_json::json!({"stream": stream, "events": events})
        })
        .collect();
    (
        marker,
        serde_json::json!({ "appends": appends }).to_string(),
    )
}

/// Post multi-stream appends to `base` until a request fails (the server was killed),
/// sending each acknowledged one to `acks`.
fn post_until_killed(base: String, seed: u64, acks: mpsc::Sender<MultiAck>) {
    let http = agent();
    let mut random = SplitMix(seed);
    loop {
        let (marker, body) = multi_append(&mut random);
        let sent = http
            .post(&format!("{base}/streams"))
            .header("content-type", "application/json")
            .send(&body);
        // A request cut by the kill was never acknowledged.
        let Some(answer) = sent
            .ok()
            .filter(|r| r.status() == 200)
            .and_then(|mut r| r.body_mut().read_to_string().ok())
        else {
            return;
        };
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("a JSON answer");
        let streams = answer["appends"]
            .as_array()
            .expect("the outcome of each append")
            .iter()
            .map(|a| {
                let stream = a["stream"].as_str().expect("a stream").to_owned();
                (stream, a["lastPosition"].as_u64().expect("a position"))
            })
            .collect();
        if acks.send((marker, streams)).is_err() {
            return;
        }
    }
}

#[test]
fn a_server_killed_during_multi_stream_appends_leaves_none_half_present() {
    let mut random = SplitMix::seeded();
    let db = Db::new();
    let mut acked: Vec<MultiAck> = Vec::new();
    for _ in 0..SERVER_ROUNDS {
        let server = db.serve(&[]);
        let (sender, acks) = mpsc::channel();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (base, seed, sender) = (server.base.clone(), random.next(), sender.clone());
                std::thread::spawn(move || post_until_killed(base, seed, sender))
            })
            .collect();
        drop(sender);
        let before_kill = 1 + random.next() % MOST_ACKS_BEFORE_KILL;
        for n in 1..=before_kill {
            let ack = acks
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|e| panic!("acknowledgement {n} of {before_kill}: {e}"));
            acked.push(ack);
        }
        std::thread::sleep(Duration::from_micros(random.next() % MOST_JITTER_MICROS));
        server.kill();
        for client in clients {
            client.join().expect("a client thread");
        }
        acked.extend(acks.try_iter());
    }
    let store = SqliteStore::open(StoreConfig::new(db.path())).expect("reopen the store");
    let log = whole_log(&store);
    let positions: Vec<u64> = log.iter().map(|e| e.global_position).collect();
    assert!(
        positions == (1..=log.len() as u64).collect::<Vec<_>>(),
        "global positions are not 1..={}",
        log.len()
    );
    for (marker, streams) in &acked {
        for (stream, position) in streams {
            let event = &log[*position as usize - 1];
            let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(
                (event.stream.as_str(), data["append"].as_str()),
                (stream.as_str(), Some(marker.as_str())),
                "acknowledged append {marker} to {stream} ends at {position}, stored {event:?}"
            );
        }
    }
    check_appends_whole(&log);
    check_streams(&store, &log);
    eprintln!(
        "{} acknowledged multi-stream appends over {SERVER_ROUNDS} kills, {} events stored",
        acked.len(),
        log.len()
    );
}
