//! `refold append`, `refold read` and `refold command`.

use super::{exited, json_lines, refold_on};
use crate::support::guests::{self, CART};
use crate::support::server::{Db, add_item, open_cart};

#[test]
fn append_json_lines_from_stdin_then_read_them() {
    let db = Db::new();
    let db = db.path();
    let input = "{\"type\":\"Noted\",\"data\":{\"n\":1}}\n\n{\"type\":\"Noted\",\"data\":{\"n\":2},\"metadata\":{\"by\":\"me\"}}\n{\"type\":\"Noted\",\"data\":{\"n\":3},\"id\":\"0190a0b4-6f1e-7c3a-9b2d-3c4d5e6f7a8b\"}\n";
    let output = refold_on(&db, &["append", "notes-1", "--batch", "2"], input);
    let (stdout, _) = exited(&output, 0);
    let outcome = &json_lines(&stdout)[0];
    assert_eq!(outcome["appended"], 3);
    assert_eq!(outcome["streamVersion"], 3);
    assert_eq!(outcome["lastPosition"], 3);

    let output = refold_on(
        &db,
        &["append", "notes-1", "-", "--expected", "no-stream"],
        input,
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.starts_with("error: the append was refused: "),
        "{stderr}"
    );

    let output = refold_on(
        &db,
        &["append", "notes-2"],
        "{\"type\":\"Noted\",\"data\":{}}\n{\"type\":\"Noted\",\"data\":oops}\n",
    );
    let (stdout, stderr) = exited(&output, 2);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: line 2 is not an event {\"type\": ..., \"data\": {...}}: "),
        "{stderr}"
    );
    let output = refold_on(&db, &["append", "notes-2"], "");
    let (_, stderr) = exited(&output, 2);
    assert!(stderr.contains("no events to append"), "{stderr}");

    let (stdout, _) = exited(&refold_on(&db, &["read", "notes-1"], ""), 0);
    let events = json_lines(&stdout);
    let numbers: Vec<u64> = events
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(events[1]["metadata"]["by"], "me");
    assert_eq!(events[2]["id"], "0190a0b4-6f1e-7c3a-9b2d-3c4d5e6f7a8b");
    assert_eq!(events[2]["streamPosition"], 3);

    let (stdout, _) = exited(
        &refold_on(&db, &["read", "notes-1", "--backward", "--limit", "1"], ""),
        0,
    );
    assert_eq!(json_lines(&stdout)[0]["data"]["n"], 3);

    let (stdout, _) = exited(&refold_on(&db, &["read", "--log", "--after", "1"], ""), 0);
    let positions: Vec<u64> = json_lines(&stdout)
        .iter()
        .map(|e| e["globalPosition"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [2, 3]);
    let (stdout, _) = exited(
        &refold_on(&db, &["read", "--log", "--category", "other"], ""),
        0,
    );
    assert_eq!(stdout, "");

    let (_, stderr) = exited(&refold_on(&db, &["read"], ""), 2);
    assert!(stderr.contains("--log"), "{stderr}");
}

#[test]
fn appended_tags_are_read_back_by_tag_and_by_query() {
    let db = Db::new();
    let db = db.path();
    let input = "{\"type\":\"Subscribed\",\"data\":{},\"tags\":[\"course:c1\",\"student:s1\"]}\n\
                 {\"type\":\"Subscribed\",\"data\":{},\"tags\":[\"course:c2\",\"student:s1\"]}\n\
                 {\"type\":\"CourseRenamed\",\"data\":{},\"tags\":[\"course:c1\"]}\n\
                 {\"type\":\"Noted\",\"data\":{}}\n";
    exited(&refold_on(&db, &["append", "subs-1"], input), 0);
    let read = |args: &[&str]| -> Vec<u64> {
        let (stdout, _) = exited(&refold_on(&db, args, ""), 0);
        json_lines(&stdout)
            .iter()
            .map(|e| e["globalPosition"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(read(&["read", "--tag", "course:c1"]), [1, 3]);
    assert_eq!(read(&["read", "--tag", "course:c1,student:s1"]), [1]);
    assert_eq!(
        read(&["read", "--tag", "course:c1", "--types", "CourseRenamed"]),
        [3]
    );
    let query = r#"{"items": [{"tags": ["course:c2"]}, {"types": ["Noted"]}]}"#;
    assert_eq!(read(&["read", "--query", query]), [2, 4]);
    assert_eq!(read(&["read", "--query", query, "--after", "2"]), [4]);
    let (stdout, _) = exited(&refold_on(&db, &["read", "--tag", "student:s1"], ""), 0);
    assert_eq!(
        json_lines(&stdout)[1]["tags"],
        serde_json::json!(["course:c2", "student:s1"])
    );

    let (_, stderr) = exited(
        &refold_on(&db, &["read", "--query", "{\"items\": 1}"], ""),
        2,
    );
    assert!(stderr.contains("is not a query like"), "{stderr}");
    let (_, stderr) = exited(
        &refold_on(&db, &["read", "--query", "{\"items\": []}"], ""),
        2,
    );
    assert!(stderr.contains("the query has no items"), "{stderr}");
    let (_, stderr) = exited(
        &refold_on(
            &db,
            &["append", "subs-2"],
            "{\"type\":\"E\",\"data\":{},\"tags\":[\"\"]}\n",
        ),
        2,
    );
    assert!(stderr.contains("tag 0 is empty"), "{stderr}");
}

#[test]
fn command_prints_its_events_and_a_rejection_exits_1() {
    let db = Db::new();
    let db = db.path();
    let cart = guests::wasm_path(CART).display().to_string();
    exited(&refold_on(&db, &["deploy", "cart", &cart], ""), 0);

    let output = refold_on(
        &db,
        &["command", "cart", "cart-1", &open_cart("cart-1")],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    let outcome = &json_lines(&stdout)[0];
    assert_eq!(outcome["events"][0]["type"], "CartOpened");
    assert_eq!(outcome["streamVersion"], 1);
    assert_eq!(outcome["position"], 1);
    assert_eq!(outcome["moduleVersion"], 1);
    let output = refold_on(
        &db,
        &["command", "cart", "cart-1", &add_item("cart-1", "SKU-1", 2)],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert_eq!(json_lines(&stdout)[0]["events"][0]["data"]["quantity"], 2);

    let output = refold_on(
        &db,
        &[
            "command",
            "cart",
            "cart-2",
            r#"{"type":"ConfirmCart","data":{"cartId":"cart-2"}}"#,
        ],
        "",
    );
    let (stdout, stderr) = exited(&output, 1);
    assert_eq!(stdout, "");
    assert!(stderr.starts_with("rejected by cart: "), "{stderr}");
    assert!(stderr.contains("cart-2"), "{stderr}");

    let (_, stderr) = exited(
        &refold_on(&db, &["command", "cart", "cart-1", "{oops"], ""),
        2,
    );
    assert!(
        stderr.starts_with("error: the command is not valid JSON"),
        "{stderr}"
    );
    let (_, stderr) = exited(&refold_on(&db, &["command", "nope", "s-1", "{}"], ""), 2);
    assert!(stderr.contains("no module named 'nope'"), "{stderr}");
}
