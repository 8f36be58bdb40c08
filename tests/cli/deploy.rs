//! `refold deploy` (to a database file and to a running server) and `refold modules`.

use super::{exited, json_lines, refold_on};
use crate::support::guests::{self, CART, CART_SUMMARY, CART_V2};
use crate::support::server::{Db, agent, get};

fn path(package: &str) -> String {
    guests::wasm_path(package).display().to_string()
}

#[test]
fn deploy_to_a_database_file_then_list_the_modules() {
    let db = Db::new();
    let db = db.path();

    let (stdout, modules_stderr) = exited(&refold_on(&db, &["modules"], ""), 0);
    assert!(stdout.starts_with("NAME "), "{stdout}");
    assert!(
        modules_stderr.contains("no modules deployed"),
        "{modules_stderr}"
    );

    let output = refold_on(&db, &["deploy", "cart", &path(CART)], "");
    let (stdout, _) = exited(&output, 0);
    let size = guests::wasm(CART).len();
    let hash = refold::runtime::content_hash(&guests::wasm(CART));
    assert_eq!(
        stdout,
        format!(
            "deployed cart version 1 (decider module, {size} bytes, sha256 {})\n",
            &hash[..12]
        )
    );
    let (stdout, _) = exited(&refold_on(&db, &["deploy", "cart", &path(CART_V2)], ""), 0);
    assert!(
        stdout.starts_with("deployed cart version 2 (decider module"),
        "{stdout}"
    );
    let (stdout, _) = exited(
        &refold_on(
            &db,
            &[
                "deploy",
                "cart-summary",
                &path(CART_SUMMARY),
                "--policy",
                "skip",
            ],
            "",
        ),
        0,
    );
    assert!(
        stdout.starts_with("deployed cart-summary version 1 (projection module"),
        "{stdout}"
    );

    let (stdout, _) = exited(&refold_on(&db, &["modules"], ""), 0);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!(rows[0][..3], ["cart", "2", "decider"], "{stdout}");
    assert_eq!(
        rows[1][..3],
        ["cart-summary", "1", "projection"],
        "{stdout}"
    );

    let (stdout, _) = exited(&refold_on(&db, &["modules", "--json"], ""), 0);
    let modules = json_lines(&stdout);
    assert_eq!(modules.len(), 2);
    assert_eq!(modules[0]["name"], "cart");
    assert_eq!(modules[0]["version"], 2);
    assert_eq!(
        modules[0]["hash"],
        refold::runtime::content_hash(&guests::wasm(CART_V2))
    );

    // Errors exit 2 and say what was wrong.
    let output = refold_on(&db, &["deploy", "cart", "no-such.wasm"], "");
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.starts_with("error: cannot read module file no-such.wasm"),
        "{stderr}"
    );
    let output = refold_on(&db, &["deploy", "Bad Name", &path(CART)], "");
    let (_, stderr) = exited(&output, 2);
    assert!(stderr.contains("Bad Name"), "{stderr}");
}

#[test]
fn deploy_to_a_running_server() {
    let db = Db::new();
    let server = db.serve_cart(&["--token", "s3cret"]);
    let elsewhere = Db::new();

    let output = refold_on(
        &elsewhere.path(),
        &["deploy", "cart", &path(CART_V2), "--server", &server.base],
        "",
    );
    let (_, stderr) = exited(&output, 2);
    assert!(stderr.contains("401"), "the token is needed: {stderr}");

    let output = refold_on(
        &elsewhere.path(),
        &[
            "deploy",
            "cart",
            &path(CART_V2),
            "--server",
            &server.base,
            "--token",
            "s3cret",
        ],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert!(
        stdout.starts_with("deployed cart version 2 (decider module"),
        "{stdout}"
    );
    assert!(
        !elsewhere.path().exists(),
        "with --server, no database file is opened"
    );

    let modules = get(&agent(), &server.url("/modules"));
    assert_eq!(modules.ok()["modules"][0]["version"], 2);

    let output = refold_on(
        &elsewhere.path(),
        &[
            "deploy",
            "cart",
            &path(CART_V2),
            "--server",
            "http://127.0.0.1:1",
        ],
        "",
    );
    let (_, stderr) = exited(&output, 2);
    assert!(stderr.contains("cannot reach the server"), "{stderr}");
    server.stop();
}
