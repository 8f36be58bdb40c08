//! `refold deploy` (to a database file and to a running server), `refold modules`,
//! `refold rollback`, and the deploys `refold serve --deploy` makes at start.

use super::{exited, json_lines, refold_on};
use crate::support::guests::{self, CART, CART_SUMMARY, CART_V2, NOT_REFOLD};
use crate::support::server::{Db, agent, get, put};

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
            "rollback",
            "cart",
            "--server",
            &server.base,
            "--token",
            "s3cret",
        ],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert!(
        stdout.starts_with("rolled back to version 1: deployed cart version 3 (decider module"),
        "{stdout}"
    );
    let output = refold_on(
        &elsewhere.path(),
        &[
            "rollback",
            "cart",
            "--to",
            "7",
            "--server",
            &server.base,
            "--token",
            "s3cret",
        ],
        "",
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.contains("(404 Not Found): module 'cart' has no version 7"),
        "{stderr}"
    );

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

#[test]
fn a_deploy_that_changes_the_world_is_refused_unless_asked_for() {
    let db = Db::new();
    let db = db.path();
    exited(&refold_on(&db, &["deploy", "cart", &path(CART)], ""), 0);

    let output = refold_on(&db, &["deploy", "cart", &path(CART_SUMMARY)], "");
    let (stdout, stderr) = exited(&output, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "error: cannot deploy {} as 'cart': module 'cart' is a decider (version 1), and this deploy is a projection module: deploy it under another name, or replace the decider on purpose (--replace-world; over HTTP ?replaceWorld=true)\n",
            path(CART_SUMMARY)
        )
    );
    let (stdout, _) = exited(&refold_on(&db, &["modules", "cart", "--json"], ""), 0);
    assert_eq!(
        json_lines(&stdout).len(),
        1,
        "nothing was recorded: {stdout}"
    );

    let output = refold_on(
        &db,
        &["deploy", "cart", &path(CART_SUMMARY), "--replace-world"],
        "",
    );
    let (stdout, _) = exited(&output, 0);
    assert!(
        stdout.starts_with("deployed cart version 2 (projection module"),
        "{stdout}"
    );
}

#[test]
fn modules_of_a_name_show_its_history_and_rollback_redeploys_an_earlier_version() {
    let db = Db::new();
    let db = db.path();
    exited(&refold_on(&db, &["deploy", "cart", &path(CART)], ""), 0);
    exited(&refold_on(&db, &["deploy", "cart", &path(CART_V2)], ""), 0);
    let (v1, v2) = (guests::wasm(CART), guests::wasm(CART_V2));
    let hash = |bytes: &[u8]| refold::runtime::content_hash(bytes);

    let (stdout, _) = exited(&refold_on(&db, &["rollback", "cart"], ""), 0);
    assert_eq!(
        stdout,
        format!(
            "rolled back to version 1: deployed cart version 3 (decider module, {} bytes, sha256 {})\n",
            v1.len(),
            &hash(&v1)[..12]
        )
    );

    let (stdout, _) = exited(&refold_on(&db, &["modules", "cart"], ""), 0);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["VERSION", "SHA256", "WORLD", "BYTES", "DEPLOYED", "AT"]
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    let expected = [(1, &v1), (2, &v2), (3, &v1)];
    assert_eq!(rows.len(), expected.len(), "{stdout}");
    for (row, (version, bytes)) in rows.iter().zip(expected) {
        assert_eq!(
            row[..4],
            [
                version.to_string(),
                hash(bytes)[..12].to_owned(),
                "decider".to_owned(),
                bytes.len().to_string()
            ],
            "{stdout}"
        );
        assert!(
            humantime::parse_rfc3339(&row[4]).is_ok(),
            "deployed at {}",
            row[4]
        );
    }
    let (stdout, _) = exited(&refold_on(&db, &["modules", "cart", "--json"], ""), 0);
    let versions = json_lines(&stdout);
    assert_eq!(versions[2]["version"], 3);
    assert_eq!(versions[2]["hash"], hash(&v1));
    assert_eq!(versions[2]["world"], "decider");
    assert_eq!(versions[2]["size"], v1.len());
    assert!(versions[2]["deployed_at"].is_string(), "{stdout}");

    // `--to` names the version; a missing one, or the current one, is refused.
    let (stdout, _) = exited(&refold_on(&db, &["rollback", "cart", "--to", "2"], ""), 0);
    assert!(
        stdout.starts_with("rolled back to version 2: deployed cart version 4 "),
        "{stdout}"
    );
    let (_, stderr) = exited(&refold_on(&db, &["rollback", "cart", "--to", "9"], ""), 2);
    assert_eq!(
        stderr,
        "error: cannot roll back 'cart': module 'cart' has no version 9: its versions are 1 to 4 (refold modules cart)\n"
    );
    let (_, stderr) = exited(&refold_on(&db, &["rollback", "cart", "--to", "4"], ""), 2);
    assert!(
        stderr.contains("version 4 is the current version"),
        "{stderr}"
    );
    let (_, stderr) = exited(&refold_on(&db, &["rollback", "nope"], ""), 2);
    assert!(
        stderr.contains("no module named 'nope' is deployed"),
        "{stderr}"
    );
    let (_, stderr) = exited(&refold_on(&db, &["modules", "nope"], ""), 2);
    assert!(
        stderr.contains("no module named 'nope' is deployed"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_component_gets_one_sentence() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello, I am a text file\n").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let cases = [
        (
            text.display().to_string(),
            "it is text (starting \"hello, I am a text file\")",
        ),
        (
            core.display().to_string(),
            "it is a core WebAssembly module (what wasm32-unknown-unknown and wasm32-wasip1 builds make), not a component",
        ),
    ];
    for (file, what) in cases {
        let output = refold_on(&db.path(), &["deploy", "x", &file], "");
        let (_, stderr) = exited(&output, 2);
        assert_eq!(
            stderr,
            format!(
                "error: cannot deploy {file} as 'x': module 'x' is not a WebAssembly component: {what}, where Refold expects a component built against its WIT (refold:domain); build one with `cargo build --release --target wasm32-wasip2` (Rust), componentize-py (Python) or jco (JavaScript)\n"
            )
        );
    }
    let output = refold_on(&db.path(), &["deploy", "x", &path(NOT_REFOLD)], "");
    let (_, stderr) = exited(&output, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("module 'x' is a WebAssembly component but not a Refold module: it exports greet, where Refold expects ")
            && stderr.contains("`cargo build --release --target wasm32-wasip2`"),
        "{stderr}"
    );
}

#[test]
fn serve_deploy_keeps_a_newer_version_than_the_file_unless_forced() {
    let db = Db::new();
    let cart = format!("cart={}", path(CART));
    let server = db.serve(&["--deploy", &cart]);
    put(
        &agent(),
        &server.url("/modules/cart"),
        &guests::wasm(CART_V2),
        None,
    )
    .ok();
    server.stop();

    // Started again with the file it was first started with: v2 stays.
    let server = db.serve(&["--deploy", &cart]);
    let modules = get(&agent(), &server.url("/modules"));
    let current = &modules.ok()["modules"][0];
    assert_eq!(current["version"], 2, "{current}");
    assert_eq!(
        current["hash"],
        refold::runtime::content_hash(&guests::wasm(CART_V2))
    );
    let log = server.log();
    server.stop();
    assert!(
        log.contains(&format!(
            "kept version 2 of 'cart': {} holds the bytes of its older version 1",
            path(CART)
        )),
        "{log}"
    );

    let server = db.serve(&["--deploy", &cart, "--force"]);
    let modules = get(&agent(), &server.url("/modules"));
    let current = &modules.ok()["modules"][0];
    assert_eq!(current["version"], 3, "{current}");
    assert_eq!(
        current["hash"],
        refold::runtime::content_hash(&guests::wasm(CART))
    );
    server.stop();
}
