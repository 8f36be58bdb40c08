//! Durability: a real child process appends from several threads and is killed with
//! SIGKILL at random moments, again and again, on the same file. Every acknowledged
//! append must survive whole, at its acknowledged position, and nothing may be torn.
//! Each kill comes once the child has acknowledged a seeded number of appends, so it
//! always lands while appends are under way.
//!
//! SQLite-only: the child process and the file it appends to are SQLite's (on
//! PostgreSQL the server, not the killed process, owns durability); killed nodes on
//! PostgreSQL are the multi-node process tests' to cover.

use super::whole_log;
use crate::support::wait::{Lines, PATIENCE};
use crate::support::{block_on, example_binary};
use refold::store::sqlite::{SqliteStore, StoreConfig};
use refold::store::{EventStore, RecordedEvent};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

const ROUNDS: usize = 24;
const THREADS: &str = "6";
/// Each round kills the child once it has acknowledged k appends, k in 1..=this, ...
const MOST_ACKS_BEFORE_KILL: u64 = 200;
/// ... and 0..this many microseconds more.
const MOST_JITTER_MICROS: u64 = 5_000;

/// A small deterministic generator (SplitMix64), so a failing run can be replayed from
/// its printed seed (`REFOLD_CRASH_SEED`).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

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
    let seed = std::env::var("REFOLD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed: {seed} (rerun with REFOLD_CRASH_SEED={seed})");
    let mut random = SplitMix(seed);
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

/// Every append's events are all stored, together, or none is.
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
            assert_eq!(
                pair[1].stream_position,
                pair[0].stream_position + 1,
                "append {marker}, event {index}"
            );
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
