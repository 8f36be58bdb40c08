//! The event store's part of the benchmark suite (see `shared/WORKLOADS.md`), each
//! workload beside a raw-rusqlite baseline in the same run, at FULL and at NORMAL.
//!
//! - W1-64: 100,000 single-event cart appends from 64 concurrent clients, each with an
//!   exact expected version, beside BULK (the same rows inserted 1,000 per transaction
//!   with prepared statements and no version check).
//! - W2: 10,000 appends of a whole cart (10 events, expected version 0), beside BULK.
//! - READ-ALL: the whole log through `read_log` in batches of 1,000, beside one raw
//!   `SELECT` of every column.
//! - STREAM: a 10,000-event stream through `read_stream` (median of 20), beside the raw
//!   `SELECT` of the same rows.
//!
//! Run it in release: `cargo run --release -p refold --example store-bench`. It prints a
//! table, then one JSON object per figure in the suite's output format.

use refold::store::{
    AppendRequest, Direction, EventData, EventStore, ExpectedVersion, LogFilter, SqliteStore,
    StoreConfig, Synchronous,
};
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::{Duration, Instant};

const CARTS: u64 = 10_000;
const EVENTS_PER_CART: u64 = 10;
const EVENTS: u64 = CARTS * EVENTS_PER_CART;
const CLIENTS: u64 = 64;
const LONG_STREAM: u64 = 10_000;
const STREAM_READS: usize = 20;

/// The 10 events of the standard cart `i` (8 items): type and JSON data.
fn cart_events(i: u64) -> Vec<(&'static str, String)> {
    let mut events = vec![(
        "CartOpened",
        format!(
            r#"{{"cartId":"cart-{i}","customerId":"customer-{:04}","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}"#,
            i % 1000
        ),
    )];
    let (mut item_count, mut total) = (0, 0);
    for k in 1..=8 {
        let p = (i * 8 + k) % 5000;
        let quantity = 1 + (i + k) % 3;
        let unit_price = 100 + (i * 31 + k * 17) % 9900;
        item_count += quantity;
        total += quantity * unit_price;
        events.push((
            "ItemAdded",
            format!(
                r#"{{"cartId":"cart-{i}","sku":"SKU-{p:05}","name":"Product {p}","quantity":{quantity},"unitPrice":{unit_price},"addedAt":"2024-01-01T00:00:{:02}.000Z"}}"#,
                k % 60
            ),
        ));
    }
    events.push((
        "CartConfirmed",
        format!(
            r#"{{"cartId":"cart-{i}","itemCount":{item_count},"total":{total},"paymentMethod":"card","confirmedAt":"2024-01-01T00:10:00.000Z"}}"#
        ),
    ));
    events
}

/// Every cart's events, checked against the workload definition's check sums.
fn all_carts() -> Vec<Vec<EventData>> {
    let carts: Vec<Vec<(&str, String)>> = (0..CARTS).map(cart_events).collect();
    let confirmed = |cart: &Vec<(&str, String)>, key: &str| {
        let data: serde_json::Value = serde_json::from_str(&cart[9].1).expect("cart data is JSON");
        data[key].as_u64().expect("a count")
    };
    let item_count: u64 = carts.iter().map(|c| confirmed(c, "itemCount")).sum();
    let total: u64 = carts.iter().map(|c| confirmed(c, "total")).sum();
    assert_eq!(
        (item_count, total),
        (160_001, 802_573_025),
        "cart data differs from WORKLOADS.md"
    );
    carts
        .into_iter()
        .map(|cart| {
            cart.into_iter()
                .map(|(t, data)| EventData::new(t, data))
                .collect()
        })
        .collect()
}

/// A fresh store in `dir` at `synchronous`.
fn fresh_store(dir: &Path, name: &str, synchronous: Synchronous) -> SqliteStore {
    SqliteStore::open(StoreConfig::new(dir.join(name)).with_synchronous(synchronous))
        .expect("open a fresh store")
}

/// The suite's name for a durability setting, also its `synchronous` pragma value.
fn variant(synchronous: Synchronous) -> &'static str {
    match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// W1-64: client `c` appends, round by round, event `r` of each of its carts.
fn w1_64(store: &SqliteStore, carts: &[Vec<EventData>]) -> f64 {
    let clients: Vec<Vec<(u64, AppendRequest)>> = (0..CLIENTS)
        .map(|c| {
            (0..EVENTS_PER_CART)
                .flat_map(|r| {
                    (c..CARTS).step_by(CLIENTS as usize).map(move |i| {
                        let event = carts[i as usize][r as usize].clone();
                        (
                            r,
                            AppendRequest::new(
                                format!("cart-{i}"),
                                ExpectedVersion::Exact(r),
                                vec![event],
                            ),
                        )
                    })
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for requests in clients {
            s.spawn(move || {
                for (version, request) in requests {
                    let outcome = store.append(request).expect("a W1-64 append");
                    assert_eq!(outcome.stream_version, version + 1);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(store.head(), EVENTS, "W1-64 stored every event");
    per_second(EVENTS, elapsed)
}

/// W2: one append of 10 events per cart, in cart order.
fn w2(store: &SqliteStore, carts: &[Vec<EventData>]) -> f64 {
    let requests: Vec<AppendRequest> = (0..CARTS)
        .map(|i| {
            AppendRequest::new(
                format!("cart-{i}"),
                ExpectedVersion::NoStream,
                carts[i as usize].clone(),
            )
        })
        .collect();
    let start = Instant::now();
    for request in requests {
        store.append(request).expect("a W2 append");
    }
    let elapsed = start.elapsed();
    assert_eq!(store.head(), EVENTS, "W2 stored every event");
    per_second(EVENTS, elapsed)
}

/// A raw connection with the store's durability settings.
fn raw_connection(path: &Path, synchronous: Synchronous) -> Connection {
    let conn = Connection::open(path).expect("open the raw baseline database");
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", variant(synchronous))
        .unwrap();
    conn
}

/// BULK: the W2 rows into the store's own tables with raw prepared inserts, 1,000 rows
/// per transaction, no version check.
fn bulk(dir: &Path, synchronous: Synchronous, carts: &[Vec<EventData>]) -> f64 {
    let path = dir.join("bulk.db");
    drop(fresh_store(dir, "bulk.db", synchronous));
    let mut conn = raw_connection(&path, synchronous);
    let rows: Vec<(u64, u64, &EventData)> = (0..CARTS)
        .flat_map(|i| {
            (1..=EVENTS_PER_CART).map(move |v| (i, v, &carts[i as usize][v as usize - 1]))
        })
        .collect();
    let start = Instant::now();
    for (chunk_index, chunk) in rows.chunks(1000).enumerate() {
        let tx = conn.transaction().unwrap();
        let recorded_at =
            humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (global_position, partition, stream, category, stream_position,
                        event_id, event_type, data, metadata, recorded_at, append_index, append_size)
                     VALUES (?1, 'default', ?2, 'cart', ?3, ?4, ?5, ?6, ?7, ?8, ?9, 10)",
                )
                .unwrap();
            for (row, (i, version, event)) in chunk.iter().enumerate() {
                let position = (chunk_index * 1000 + row + 1) as u64;
                insert
                    .execute(params![
                        position,
                        format!("cart-{i}"),
                        version,
                        event.id.as_bytes(),
                        event.event_type,
                        event.data,
                        event.metadata,
                        recorded_at,
                        version - 1,
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let elapsed = start.elapsed();
    let stored: u64 = conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, EVENTS, "BULK stored every event");
    per_second(EVENTS, elapsed)
}

/// READ-ALL through the store: the whole log in batches of 1,000.
fn read_all(store: &SqliteStore, expected: u64) -> f64 {
    let start = Instant::now();
    let (mut after, mut count) = (0, 0);
    loop {
        let batch = store
            .read_log(after, &LogFilter::default(), 1000)
            .expect("a log read");
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        count += batch.len() as u64;
    }
    let elapsed = start.elapsed();
    assert_eq!(count, expected, "READ-ALL read every event");
    per_second(count, elapsed)
}

/// Raw rows of `sql` (every event column), each column read into an owned value.
fn raw_read(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> u64 {
    let mut statement = conn.prepare_cached(sql).unwrap();
    let rows = statement
        .query_map(args, |row| {
            Ok((
                row.get::<_, u64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, u64>(3)?,
                row.get::<_, [u8; 16]>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
            ))
        })
        .unwrap();
    rows.map(|row| row.map(|_| 1).unwrap()).sum()
}

const RAW_COLUMNS: &str = "global_position, partition, stream, stream_position, event_id, event_type, data, metadata, recorded_at";

/// The long stream read whole, `STREAM_READS` times: median events/s.
fn median_rate(mut read: impl FnMut() -> u64) -> f64 {
    let mut rates: Vec<f64> = (0..STREAM_READS)
        .map(|_| {
            let start = Instant::now();
            let count = read();
            assert_eq!(count, LONG_STREAM, "the stream read returned every event");
            per_second(count, start.elapsed())
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[STREAM_READS / 2]
}

struct Row {
    workload: &'static str,
    refold: f64,
    baseline_name: &'static str,
    baseline: f64,
}

fn run(synchronous: Synchronous, carts: &[Vec<EventData>]) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path(), "w1.db", synchronous);
    let variant = variant(synchronous);
    println!(
        "== {variant}: journal_mode={} synchronous={} sqlite={}",
        store.journal_mode(),
        store.synchronous(),
        store.sqlite_version()
    );
    println!(
        "{{\"system\":\"refold\",\"variant\":\"{variant}\",\"run\":1,\"info\":{{\"journal\":\"{}\",\"synchronous\":\"{}\",\"sqlite\":\"{}\"}}}}",
        store.journal_mode(),
        store.synchronous(),
        store.sqlite_version()
    );
    let bulk = bulk(dir.path(), synchronous, carts);
    let w1 = w1_64(&store, carts);
    let m = store.metrics();
    println!(
        "   W1-64: {} appends in {} commits ({:.1} appends per commit)",
        m.appends,
        m.commits,
        m.appends as f64 / m.commits as f64
    );
    let long: Vec<EventData> = (0..LONG_STREAM)
        .map(|n| EventData::new("ItemAdded", format!(r#"{{"cartId":"cart-10000","n":{n}}}"#)))
        .collect();
    for (batch, events) in (0..).zip(long.chunks(100)) {
        let request = AppendRequest::new(
            "cart-10000",
            ExpectedVersion::Exact(batch * 100),
            events.to_vec(),
        );
        store.append(request).expect("a long-stream append");
    }
    let all = EVENTS + LONG_STREAM;
    let read_all_rate = read_all(&store, all);
    let raw = raw_connection(store.path(), synchronous);
    let start = Instant::now();
    let raw_all = raw_read(
        &raw,
        &format!("SELECT {RAW_COLUMNS} FROM events ORDER BY global_position"),
        [],
    );
    assert_eq!(raw_all, all);
    let raw_all_rate = per_second(raw_all, start.elapsed());
    let stream_rate = median_rate(|| {
        let events = store
            .read_stream("default", "cart-10000", 1, Direction::Forward, usize::MAX)
            .unwrap();
        events.len() as u64
    });
    let raw_stream_sql = format!(
        "SELECT {RAW_COLUMNS} FROM events WHERE partition = ?1 AND stream = ?2 ORDER BY stream_position"
    );
    let raw_stream_rate =
        median_rate(|| raw_read(&raw, &raw_stream_sql, params!["default", "cart-10000"]));
    drop(store);
    let w2_store = fresh_store(dir.path(), "w2.db", synchronous);
    let w2 = w2(&w2_store, carts);
    vec![
        Row {
            workload: "W1-64",
            refold: w1,
            baseline_name: "BULK",
            baseline: bulk,
        },
        Row {
            workload: "W2",
            refold: w2,
            baseline_name: "BULK",
            baseline: bulk,
        },
        Row {
            workload: "READ-ALL",
            refold: read_all_rate,
            baseline_name: "raw SELECT",
            baseline: raw_all_rate,
        },
        Row {
            workload: "STREAM-10k",
            refold: stream_rate,
            baseline_name: "raw SELECT",
            baseline: raw_stream_rate,
        },
    ]
}

fn main() {
    let carts = all_carts();
    for synchronous in [Synchronous::Full, Synchronous::Normal] {
        let variant = variant(synchronous);
        let rows = run(synchronous, &carts);
        println!(
            "   {:<11} {:>14} {:>12} {:>14} {:>7}",
            "workload", "refold ev/s", "baseline", "baseline ev/s", "ratio"
        );
        for row in &rows {
            println!(
                "   {:<11} {:>14.0} {:>12} {:>14.0} {:>7.2}",
                row.workload,
                row.refold,
                row.baseline_name,
                row.baseline,
                row.refold / row.baseline
            );
        }
        for (index, row) in rows.iter().enumerate() {
            println!(
                "{{\"system\":\"refold\",\"variant\":\"{variant}\",\"run\":1,\"workload\":\"{}\",\"metric\":\"events_per_s\",\"value\":{:.0}}}",
                row.workload, row.refold
            );
            let baseline = if row.baseline_name == "BULK" {
                "BULK"
            } else {
                row.workload
            };
            if rows[..index]
                .iter()
                .all(|earlier| earlier.baseline_name != "BULK")
                || baseline != "BULK"
            {
                println!(
                    "{{\"system\":\"raw-sqlite\",\"variant\":\"{variant}\",\"run\":1,\"workload\":\"{baseline}\",\"metric\":\"events_per_s\",\"value\":{:.0}}}",
                    row.baseline
                );
            }
        }
    }
}
