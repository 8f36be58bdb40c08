//! `refold export` and `refold import`: the whole log out as JSON lines and back in,
//! exactly, resumable, refused when it does not continue the target's log.

use super::{exited, json_lines, refold_on};
use crate::support::block_on;
use crate::support::server::Db;
use refold::store::sqlite::{SqliteStore, StoreConfig};
use refold::store::{AppendRequest, EventData, EventStore, ExpectedVersion};
use serde_json::json;
use std::path::Path;

/// The id of the `n`th event appended by [`fill`].
fn id(n: u64) -> String {
    format!("0190a0b4-6f1e-7c3a-9b2d-{n:012}")
}

/// An event to append: its number (for its id), type, and the JSON of its `data` and
/// `metadata` fields.
type Event<'a> = (u64, &'a str, &'a str);

/// Append eight events with fixed ids to `db`: streams in two partitions (one stream
/// name in both), interleaved, with metadata, tags, and data whose exact text
/// (escapes, `1.50`) must survive.
fn fill(db: &Path) {
    let appends: [(&str, &str, &[Event]); 5] = [
        (
            "default",
            "cart-1",
            &[
                (
                    1,
                    "CartOpened",
                    r#""data":{"note":"caf\u00e9 \"q\"","n":1.50},"metadata":{"by":"ann"}"#,
                ),
                (2, "ItemAdded", r#""data":{"sku":"A-1","qty":2}"#),
            ],
        ),
        (
            "tenant-b",
            "cart-1",
            &[
                (3, "CartOpened", r#""data":{},"metadata":{"tenant":"b"}"#),
                (
                    4,
                    "ItemAdded",
                    r#""data":{"sku":"B-9","qty":1},"tags":["sku:B-9","tenant:b"]"#,
                ),
            ],
        ),
        (
            "default",
            "order-7",
            &[(5, "OrderPlaced", r#""data":{"lines":[1,2]}"#)],
        ),
        (
            "default",
            "cart-1",
            &[(6, "CartConfirmed", r#""data":{},"metadata":{"by":"bob"}"#)],
        ),
        (
            "tenant-b",
            "pay-1",
            &[
                (7, "PaymentTaken", r#""data":{"amount":"12.00"}"#),
                (8, "PaymentSettled", r#""data":{"ok":true}"#),
            ],
        ),
    ];
    for (partition, stream, events) in appends {
        let input: String = events
            .iter()
            .map(|(n, event_type, fields)| {
                format!(
                    "{{\"type\":\"{event_type}\",{fields},\"id\":\"{}\"}}\n",
                    id(*n)
                )
            })
            .collect();
        exited(
            &refold_on(db, &["append", stream, "--partition", partition], &input),
            0,
        );
    }
}

/// `refold export` of `db` to stdout.
fn export(db: &Path) -> String {
    exited(&refold_on(db, &["export"], ""), 0).0
}

/// A store filled by [`fill`] and its export in a file: (the store, the file, its text).
fn exported_store() -> (Db, std::path::PathBuf, String) {
    let source = Db::new();
    fill(&source.path());
    let file = source.path().with_file_name("log.jsonl");
    let (stdout, _) = exited(
        &refold_on(
            &source.path(),
            &["export", "--out", file.to_str().expect("a UTF-8 path")],
            "",
        ),
        0,
    );
    assert_eq!(json_lines(&stdout), [json!({"exported": 8, "head": 8})]);
    let text = std::fs::read_to_string(&file).expect("read the export");
    (source, file, text)
}

/// `refold import` of `file` into `db`; the summary it printed.
fn import(db: &Path, file: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["import", file.to_str().expect("a UTF-8 path")];
    args.extend_from_slice(extra);
    let (stdout, _) = exited(&refold_on(db, &args, ""), 0);
    let mut lines = json_lines(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    lines.remove(0)
}

#[test]
fn an_export_imported_into_a_fresh_store_exports_the_same_bytes_and_a_second_import_skips_it_all() {
    let (source, file, text) = exported_store();
    assert_eq!(
        export(&source.path()),
        text,
        "stdout and --out are the same export"
    );

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            r#"{{"position":1,"partition":"default","stream":"cart-1","streamPosition":1,"id":"{}","type":"CartOpened","data":{{"note":"caf\u00e9 \"q\"","n":1.50}},"metadata":{{"by":"ann"}},"recordedAt":""#,
            id(1)
        )),
        "every field, data and metadata exactly as stored: {}",
        lines[0]
    );
    let events = json_lines(&text);
    assert_eq!(
        events[3]["tags"],
        json!(["sku:B-9", "tenant:b"]),
        "{}",
        lines[3]
    );
    assert!(
        events[2].get("tags").is_none(),
        "no tags, no key: {}",
        lines[2]
    );
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e["position"].as_u64().unwrap(),
                e["partition"].as_str().unwrap(),
                e["stream"].as_str().unwrap(),
                e["streamPosition"].as_u64().unwrap(),
                e["id"].as_str().unwrap(),
            )
        })
        .collect();
    let ids: Vec<String> = (1..=8).map(id).collect();
    assert_eq!(
        summary,
        [
            (1, "default", "cart-1", 1, ids[0].as_str()),
            (2, "default", "cart-1", 2, &ids[1]),
            (3, "tenant-b", "cart-1", 1, &ids[2]),
            (4, "tenant-b", "cart-1", 2, &ids[3]),
            (5, "default", "order-7", 1, &ids[4]),
            (6, "default", "cart-1", 3, &ids[5]),
            (7, "tenant-b", "pay-1", 1, &ids[6]),
            (8, "tenant-b", "pay-1", 2, &ids[7]),
        ]
    );
    // The export holds what `refold read` shows, field for field.
    let (read, _) = exited(&refold_on(&source.path(), &["read", "--log"], ""), 0);
    for (exported, read) in events.iter().zip(json_lines(&read)) {
        assert_eq!(exported["position"], read["globalPosition"]);
        for field in [
            "partition",
            "stream",
            "streamPosition",
            "id",
            "type",
            "data",
            "metadata",
            "recordedAt",
            "tags",
        ] {
            assert_eq!(exported[field], read[field], "{field}");
        }
    }

    let target = Db::new();
    let target = target.path();
    assert_eq!(
        import(&target, &file, &[]),
        json!({"imported": 8, "skipped": 0, "head": 8})
    );
    assert_eq!(export(&target), text, "the copy exports the same bytes");
    let (tagged, _) = exited(&refold_on(&target, &["read", "--tag", "sku:B-9"], ""), 0);
    assert_eq!(
        json_lines(&tagged)
            .iter()
            .map(|e| e["globalPosition"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4],
        "the copy's tags are indexed"
    );

    assert_eq!(
        import(&target, &file, &[]),
        json!({"imported": 0, "skipped": 8, "head": 8})
    );
    assert_eq!(export(&target), text, "the second import wrote nothing");

    // The copy's streams go on where the original's were.
    let output = refold_on(
        &target,
        &[
            "append",
            "cart-1",
            "--partition",
            "tenant-b",
            "--expected",
            "2",
        ],
        "{\"type\":\"CartConfirmed\",\"data\":{}}\n",
    );
    let (stdout, _) = exited(&output, 0);
    assert_eq!(
        json_lines(&stdout),
        [json!({"appended": 1, "streamVersion": 3, "lastPosition": 9})]
    );
}

#[test]
fn a_file_that_does_not_continue_the_target_log_is_refused_and_writes_nothing() {
    let (_source, file, text) = exported_store();

    // A store with events of its own: position 1 holds another event.
    let target = Db::new();
    let target = target.path();
    exited(
        &refold_on(
            &target,
            &["append", "other-1"],
            "{\"type\":\"Noted\",\"data\":{}}\n{\"type\":\"Noted\",\"data\":{}}\n",
        ),
        0,
    );
    let before = export(&target);
    let output = refold_on(
        &target,
        &["import", file.to_str().expect("a UTF-8 path")],
        "",
    );
    let (stdout, stderr) = exited(&output, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr.trim_end(),
        "error: the import of lines 1-8 was refused; nothing of the file was written: cannot \
         import the event at global position 1: the store's log ends at 2, so the next event \
         imported must be at 3 (an event already stored at its position is skipped only when \
         it is the same event: same id, stream and stream position); import into an empty \
         store, or import the events that continue this store's log"
    );
    assert_eq!(export(&target), before, "nothing was written");

    // An empty store and a file that starts at position 3, from stdin.
    let empty = Db::new();
    let empty = empty.path();
    let tail: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
    let (_, stderr) = exited(&refold_on(&empty, &["import", "-"], &tail), 2);
    assert!(
        stderr.starts_with(
            "error: the import of lines 1-6 was refused; nothing of the file was written: \
             cannot import the event at global position 3: the store's log ends at 0, so the \
             next event imported must be at 1 "
        ),
        "{stderr}"
    );
    assert_eq!(export(&empty), "", "nothing was written");

    // An event that does not follow its stream's version.
    let skipped_stream =
        text.lines()
            .next()
            .unwrap()
            .replacen("\"streamPosition\":1,", "\"streamPosition\":2,", 1);
    let (_, stderr) = exited(&refold_on(&empty, &["import", "-"], &skipped_stream), 2);
    assert!(
        stderr.contains(
            "cannot import the event at global position 1: it is at position 2 of stream \
             'cart-1' in partition 'default', but that stream is at 0, so its next event must \
             be at 1: "
        ),
        "{stderr}"
    );

    // A malformed line is named by its number.
    let broken: String = text
        .lines()
        .take(3)
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                "{\"position\":2,oops}\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let (_, stderr) = exited(&refold_on(&empty, &["import", "-"], &broken), 2);
    assert!(
        stderr.starts_with("error: line 2 is not an exported event {\"position\": ..."),
        "{stderr}"
    );
    assert_eq!(export(&empty), "", "nothing was written");
}

#[test]
fn an_import_cut_short_is_resumed_by_importing_the_whole_file_again() {
    let (_source, file, text) = exported_store();
    let lines: Vec<&str> = text.lines().collect();
    let first_half = file.with_file_name("first-half.jsonl");
    std::fs::write(&first_half, lines[..4].join("\n") + "\n").expect("write the first half");

    let target = Db::new();
    let target = target.path();
    assert_eq!(
        import(&target, &first_half, &["--batch", "3"]),
        json!({"imported": 4, "skipped": 0, "head": 4})
    );
    assert_eq!(
        import(&target, &file, &["--batch", "3"]),
        json!({"imported": 4, "skipped": 4, "head": 8})
    );
    assert_eq!(export(&target), text, "the same as a whole import");

    // Cut in the middle of a line, as a crash of the writer of the file would: the
    // batches before the broken line are written, and the whole file resumes after them.
    let cut = format!(
        "{}\n{}",
        lines[..4].join("\n"),
        &lines[4][..lines[4].len() / 2]
    );
    let target = Db::new();
    let target = target.path();
    let (_, stderr) = exited(
        &refold_on(&target, &["import", "-", "--batch", "3"], &cut),
        2,
    );
    assert!(
        stderr.starts_with("error: line 5 is not an exported event "),
        "{stderr}"
    );
    assert_eq!(
        import(&target, &file, &["--batch", "3"]),
        json!({"imported": 5, "skipped": 3, "head": 8})
    );
    assert_eq!(export(&target), text, "the same as a whole import");
}

#[test]
fn an_export_of_a_missing_database_is_refused() {
    let db = Db::new();
    let (stdout, stderr) = exited(&refold_on(&db.path(), &["export"], ""), 2);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: there is no database at "),
        "{stderr}"
    );
    assert!(!db.path().exists(), "the export created no database");
}

#[test]
fn data_with_line_breaks_stays_on_one_line_and_round_trips() {
    let source = Db::new();
    {
        // As an HTTP client that pretty-prints its body stores them.
        let store = SqliteStore::open(StoreConfig::new(source.path())).expect("open the store");
        let event = EventData::new("Noted", "{\n  \"a\": [1,\r\n 2],\n  \"b\": \"x\\ny\"\n}")
            .with_metadata(" {\"by\": \"me\"} \n");
        block_on(store.append(AppendRequest::new(
            "notes-1",
            ExpectedVersion::NoStream,
            vec![event, EventData::new("Noted", "{}")],
        )))
        .expect("append");
    }
    let text = export(&source.path());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(r#""data":{   "a": [1,   2],   "b": "x\ny" },"metadata":{"by": "me"},"#),
        "line breaks between tokens written as spaces, strings untouched: {}",
        lines[0]
    );

    let file = source.path().with_file_name("log.jsonl");
    std::fs::write(&file, &text).expect("write the export");
    let target = Db::new();
    assert_eq!(
        import(&target.path(), &file, &[]),
        json!({"imported": 2, "skipped": 0, "head": 2})
    );
    assert_eq!(export(&target.path()), text);
    let (read, _) = exited(&refold_on(&target.path(), &["read", "notes-1"], ""), 0);
    assert_eq!(
        json_lines(&read)[0]["data"],
        json!({"a": [1, 2], "b": "x\ny"}),
        "the same JSON value"
    );
}

#[test]
fn a_log_of_several_pages_exports_whole_in_order_and_imports_in_batches() {
    let source = Db::new();
    let input: String = (1..=2_500)
        .map(|n| format!("{{\"type\":\"Counted\",\"data\":{{\"n\":{n}}}}}\n"))
        .collect();
    exited(
        &refold_on(
            &source.path(),
            &["append", "counts-1", "--batch", "1000"],
            &input,
        ),
        0,
    );
    let text = export(&source.path());
    let positions: Vec<u64> = json_lines(&text)
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=2_500).collect::<Vec<_>>());

    let file = source.path().with_file_name("log.jsonl");
    std::fs::write(&file, &text).expect("write the export");
    let target = Db::new();
    assert_eq!(
        import(&target.path(), &file, &[]),
        json!({"imported": 2_500, "skipped": 0, "head": 2_500})
    );
    assert_eq!(export(&target.path()), text);
}
