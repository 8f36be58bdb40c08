//! `refold projections`, `refold rebuild` and `refold query`; and only `serve` and
//! `rebuild` run projections.

use super::{exited, json_lines, refold_on};
use crate::support::guests::{self, CART, CART_SUMMARY};
use crate::support::server::{Db, add_item, agent, open_cart, post};
use std::collections::HashMap;

/// The columns of `refold projections`' table.
const COLUMNS: [&str; 8] = [
    "NAME",
    "STATE",
    "VERSION",
    "CHECKPOINT",
    "HEAD",
    "LAG",
    "EVENTS/S",
    "LAST ERROR",
];

/// The rows of `refold projections`' table, each cell read from under its header:
/// names, states and errors start where their header starts, figures end where theirs
/// ends, and cells are apart by two spaces at least. Panics, showing the table, when a
/// cell strays out of its column.
fn table_rows(stdout: &str) -> Vec<HashMap<&'static str, String>> {
    let mut lines = stdout.lines();
    let header = lines.next().unwrap_or_default();
    let at = |c: &str| {
        header
            .find(c)
            .unwrap_or_else(|| panic!("no {c} column:\n{stdout}"))
    };
    lines
        .map(|line| {
            let bytes = line.as_bytes();
            let blank = |i: usize| bytes.get(i).is_none_or(|b| *b == b' ');
            COLUMNS
                .iter()
                .map(|&column| {
                    let (from, to) = if matches!(column, "NAME" | "STATE" | "LAST ERROR") {
                        let from = at(column);
                        let to = (from..bytes.len())
                            .find(|&i| column != "LAST ERROR" && blank(i) && blank(i + 1))
                            .unwrap_or(bytes.len());
                        (from, to)
                    } else {
                        let to = at(column) + column.len();
                        let from = (0..to)
                            .rev()
                            .find(|&i| i < 2 || (blank(i - 1) && blank(i - 2)))
                            .unwrap_or(0);
                        (from, to)
                    };
                    let aligned = from < to
                        && !blank(from)
                        && !blank(to - 1)
                        && blank(to)
                        && (from == 0 || blank(from - 1));
                    assert!(
                        aligned,
                        "the {column} cell of {line:?} strays out of its column:\n{stdout}"
                    );
                    (column, line[from..to].to_owned())
                })
                .collect()
        })
        .collect()
}

#[test]
fn commands_do_not_run_projections_and_an_offline_rebuild_does() {
    let dir = Db::new();
    let db = dir.path();
    for (name, package) in [("cart", CART), ("cart-summary", CART_SUMMARY)] {
        let file = guests::wasm_path(package).display().to_string();
        exited(&refold_on(&db, &["deploy", name, &file], ""), 0);
    }
    for (cart, command) in [
        ("cart-1", open_cart("cart-1")),
        ("cart-1", add_item("cart-1", "SKU-1", 2)),
        ("cart-2", open_cart("cart-2")),
    ] {
        exited(&refold_on(&db, &["command", "cart", cart, &command], ""), 0);
    }

    // Deploys and commands opened the database but ran no projection.
    let (stdout, _) = exited(&refold_on(&db, &["projections", "--json"], ""), 0);
    let statuses = json_lines(&stdout);
    assert_eq!(
        statuses.len(),
        1,
        "the database records cart-summary: {stdout}"
    );
    assert_eq!(statuses[0]["name"], "cart-summary");
    assert_eq!(statuses[0]["active"]["checkpoint"], 0, "{stdout}");
    assert_eq!(statuses[0]["active"]["head"], 3, "{stdout}");
    assert_eq!(statuses[0]["active"]["state"], "stopped", "{stdout}");
    let output = refold_on(
        &db,
        &["query", "cart-summary", "cart_summary", "cart-1"],
        "",
    );
    let (_, stderr) = exited(&output, 1);
    assert_eq!(
        stderr,
        "cart-summary/cart_summary has no document 'cart-1'\n"
    );

    let output = refold_on(&db, &["rebuild", "cart-summary"], "");
    let (stdout, _) = exited(&output, 0);
    assert_eq!(stdout, "rebuilt cart-summary: generation 2 at position 3\n");

    let (stdout, _) = exited(&refold_on(&db, &["projections"], ""), 0);
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["NAME"], "cart-summary", "{stdout}");
    assert_eq!(
        rows[0]["STATE"], "not running",
        "no server runs it, which the table says in words no failure policy uses: {stdout}"
    );
    assert_eq!(
        [&rows[0]["CHECKPOINT"], &rows[0]["HEAD"], &rows[0]["LAG"]],
        ["3", "3", "0"],
        "checkpoint, head, lag: {stdout}"
    );
    assert_eq!(rows[0]["LAST ERROR"], "-", "{stdout}");

    let output = refold_on(
        &db,
        &["query", "cart-summary", "cart_summary", "cart-1"],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    let document = &json_lines(&stdout)[0];
    assert_eq!(document["itemCount"], 2);
    assert_eq!(document["status"], "open");

    let output = refold_on(&db, &["query", "cart-summary", "cart_summary"], "");
    let (stdout, _) = exited(&output, 0);
    let page = &json_lines(&stdout)[0];
    let ids: Vec<&str> = page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cart-1", "cart-2"], "{page}");
    assert_eq!(page["documents"][1]["document"]["itemCount"], 0, "{page}");

    let output = refold_on(
        &db,
        &[
            "query",
            "cart-summary",
            "cart_summary",
            "--field",
            "itemCount",
            "--value",
            "2",
        ],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    let page = &json_lines(&stdout)[0];
    assert_eq!(page["documents"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["documents"][0]["id"], "cart-1", "{page}");

    let output = refold_on(
        &db,
        &["query", "cart-summary", "cart_summary", "--limit", "1"],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    let page = &json_lines(&stdout)[0];
    assert_eq!(page["documents"][0]["id"], "cart-1", "{page}");
    let next = page["next"].as_str().expect("a next page").to_owned();
    let output = refold_on(
        &db,
        &[
            "query",
            "cart-summary",
            "cart_summary",
            "--limit",
            "1",
            "--after",
            &next,
        ],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert_eq!(json_lines(&stdout)[0]["documents"][0]["id"], "cart-2");

    let (_, stderr) = exited(&refold_on(&db, &["rebuild", "nope"], ""), 2);
    assert!(stderr.contains("no projection named 'nope'"), "{stderr}");
    let (_, stderr) = exited(&refold_on(&db, &["query", "nope", "things"], ""), 2);
    assert!(stderr.contains("no projection named 'nope'"), "{stderr}");
}

#[test]
fn projections_and_rebuild_on_a_running_server() {
    let dir = Db::new();
    let server = dir.serve_cart(&[]);
    let elsewhere = Db::new();
    let db = elsewhere.path();
    let (stdout, _) = exited(
        &refold_on(
            &db,
            &["projections", "--json", "--server", &server.base],
            "",
        ),
        0,
    );
    let statuses = json_lines(&stdout);
    assert_eq!(statuses[0]["name"], "cart-summary", "{stdout}");

    let output = refold_on(
        &db,
        &["rebuild", "cart-summary", "--server", &server.base],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert!(
        stdout.starts_with("rebuilding cart-summary on the server"),
        "{stdout}"
    );
    assert!(!db.exists(), "with --server, no database file is opened");
    server.stop();
}

#[test]
fn the_projections_table_keeps_its_columns_whatever_the_widths_of_its_cells() {
    let dir = Db::new();
    let long = "a-projection-with-a-name-longer-than-the-old-fixed-column";
    let summary = format!("{long}={}", guests::wasm_path(CART_SUMMARY).display());
    let cart = format!("cart={}", guests::wasm_path(CART).display());
    let server = dir.serve(&["--deploy", &cart, "--deploy", &summary]);
    let http = agent();
    for i in 0..12 {
        let cart = format!("cart-{i}");
        post(
            &http,
            &server.url(&format!("/commands/cart/{cart}")),
            &open_cart(&cart),
            None,
        )
        .ok();
    }
    let output = refold_on(&dir.path(), &["projections", "--server", &server.base], "");
    let (stdout, _) = exited(&output, 0);
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["NAME"], long, "{stdout}");
    assert_eq!(rows[0]["VERSION"], "1", "{stdout}");
    assert_eq!(rows[0]["HEAD"], "12", "{stdout}");
    assert!(
        ["live", "catching-up"].contains(&rows[0]["STATE"].as_str()),
        "{stdout}"
    );
    server.stop();
}
