//! The child process of the crash test: appends to a store from several threads until
//! it is killed, printing each acknowledged append on its own flushed line.
//!
//! Usage: `append-loop <database> <threads>`. Each append holds 1 to 4 events of type
//! `Marked` whose data names the append (`{"append": "<uuid>", "size": k, "index": i}`),
//! so the parent can tell a whole append from a torn one. An acknowledged line reads
//! `ack <stream> <stream version> <first position> <last position> <id>,<id>,...`.

use refold::Error;
use refold::store::sqlite::{SqliteStore, StoreConfig};
use refold::store::{AppendRequest, EventData, EventStore, ExpectedVersion};
use std::io::Write;
use uuid::Uuid;

/// How many streams the threads share, so they contend on versions.
const STREAMS: u64 = 6;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(threads)) =
        (args.next(), args.next().and_then(|t| t.parse::<u64>().ok()))
    else {
        eprintln!("usage: append-loop <database> <threads>");
        std::process::exit(2);
    };
    let store = SqliteStore::open(StoreConfig::new(path)).unwrap_or_else(|e| fail(&e));
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| {
        eprintln!("append-loop: cannot start the async runtime: {e}");
        std::process::exit(1);
    });
    std::thread::scope(|s| {
        for thread in 0..threads {
            let (store, runtime) = (&store, &runtime);
            s.spawn(move || append_forever(store, runtime, thread));
        }
    });
}

fn fail(e: &Error) -> ! {
    eprintln!("append-loop: {e}");
    std::process::exit(1);
}

/// Append marked batches to the shared streams, each at the version just read.
fn append_forever(store: &SqliteStore, runtime: &tokio::runtime::Runtime, thread: u64) -> ! {
    let mut n = thread;
    loop {
        n = n
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let stream = format!("crash-{}", (n >> 33) % STREAMS);
        let size = 1 + (n >> 40) % 4;
        let append = Uuid::new_v4();
        let events: Vec<EventData> = (0..size)
            .map(|index| {
                let data = format!(r#"{{"append":"{append}","size":{size},"index":{index}}}"#);
                EventData::new("Marked", data)
            })
            .collect();
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        let version = runtime
            .block_on(store.stream_version("default", &stream))
            .unwrap_or_else(|e| fail(&e))
            .unwrap_or(0);
        match runtime.block_on(store.append(AppendRequest::new(
            stream.as_str(),
            ExpectedVersion::Exact(version),
            events,
        ))) {
            Ok(o) => {
                let line = format!(
                    "ack {stream} {} {} {} {}\n",
                    o.stream_version,
                    o.first_position,
                    o.last_position,
                    ids.join(",")
                );
                let mut out = std::io::stdout().lock();
                if out
                    .write_all(line.as_bytes())
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    std::process::exit(0);
                }
            }
            Err(Error::Conflict { .. }) => {}
            Err(e) => fail(&e),
        }
    }
}
