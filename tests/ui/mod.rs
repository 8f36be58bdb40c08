//! The admin page (`/ui`) in a real headless Chromium against a real `refold serve`:
//! what an operator sees after commands, the live tail, a stopped projection, a
//! rebuild started from the page, and a server with a token. Screenshots are saved
//! under `target/ui-screenshots/`.

use crate::support::browser::Browser;
use crate::support::guests::{self, FAULTY_PROJECTION};
use crate::support::server::{Db, Server, add_item, agent, get, open_cart, post, put};
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::json;
use std::time::Duration;

/// How long the live tail may take to show an event appended after it opened: the
/// target is 2 s, the bound generous for a loaded machine; the figure is printed.
const LIVE_DEADLINE: Duration = Duration::from_secs(20);

/// The number of rows of the table body `selector`, once the page shows `rows`.
fn rows(browser: &Browser, selector: &str, rows: usize) -> usize {
    browser
        .wait_for(PATIENCE, &format!("{rows} rows in {selector}"), |b| {
            let count = b.run(
                "return document.querySelectorAll(arguments[0] + ' tbody tr').length;",
                vec![json!(selector)],
            );
            count
                .as_u64()
                .filter(|n| *n as usize >= rows)
                .map(|n| n as usize)
        })
        .0
}

/// The cart server with two commands done over HTTP.
fn cart_server(db: &Db, extra: &[&str]) -> Server {
    let server = db.serve_cart(extra);
    let http = agent();
    post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        token_of(extra),
    )
    .ok();
    post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "SKU-00042", 2),
        token_of(extra),
    )
    .ok();
    server
}

/// The `--token` among a server's arguments.
fn token_of<'a>(args: &[&'a str]) -> Option<&'a str> {
    args.windows(2).find(|w| w[0] == "--token").map(|w| w[1])
}

#[test]
fn the_page_shows_the_overview_a_streams_events_and_the_live_tail() {
    let db = Db::new();
    let server = cart_server(&db, &[]);
    let browser = Browser::start();

    browser.open(&server.url("/"));
    assert!(
        browser.current_url().ends_with("/ui"),
        "/ redirects to the page"
    );
    browser.wait_for(PATIENCE, "the log head", |b| {
        (b.text("#head").as_deref() == Some("2")).then_some(())
    });
    rows(&browser, "#modules", 2);
    browser.click("tr[data-module=cart] button");
    browser.wait_for(PATIENCE, "the deploys of cart", |b| {
        b.text("#history").filter(|t| t.contains("Deploys of cart"))
    });
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "the page loads without console errors: {errors:#?}"
    );
    browser.screenshot("overview");

    browser.open(&server.url("/ui#streams"));
    browser.type_into("#stream-query", "cart-1");
    browser.click("#stream-form button[name=stream]");
    rows(&browser, "#stream-events", 2);
    let types = browser.run(
        "return [...document.querySelectorAll('#stream-events tbody tr')].map(r => r.dataset.type);",
        vec![],
    );
    assert_eq!(types, json!(["CartOpened", "ItemAdded"]));
    let shown = browser.text("#stream-events").unwrap_or_default();
    assert!(
        shown.contains("\"sku\": \"SKU-00042\""),
        "data pretty-printed: {shown}"
    );
    assert!(
        shown.contains("\"commandId\""),
        "metadata pretty-printed: {shown}"
    );
    browser.type_into("#stream-query", "cart");
    browser.click("#category-search");
    browser.wait_for(PATIENCE, "the streams of the cart category", |b| {
        b.text("#category-streams")
            .filter(|t| t.contains("1 streams in cart") && t.contains("cart-1"))
    });
    browser.screenshot("streams");

    browser.open(&server.url("/ui#live"));
    browser.type_into("#live-category", "cart");
    browser.click("#live-start");
    browser.wait_for(PATIENCE, "the live tail to follow", |b| {
        b.text("#live-status")
            .filter(|t| t.starts_with("following"))
    });
    let http = agent();
    let sent = std::time::Instant::now();
    let added = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "SKU-00043", 1),
        None,
    );
    let position = added.ok()["position"].as_u64().expect("a position");
    let row = format!("#live-events tr[data-position='{position}']");
    browser.wait_for(LIVE_DEADLINE, "the appended event in the live tail", |b| {
        b.visible(&row).then_some(())
    });
    let took = sent.elapsed();
    println!("the live tail showed an event {took:?} after its command was sent (target 2 s)");
    assert_eq!(
        rows(&browser, "#live-events", 1),
        1,
        "only events after the page opened"
    );
    browser.screenshot("live");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "no console errors: {errors:#?}");
    server.stop();
}

#[test]
fn the_projections_page_shows_a_stopped_projection_and_skipped_events_and_rebuilds() {
    let db = Db::new();
    let counter = format!("counter={}", guests::wasm_path(FAULTY_PROJECTION).display());
    let server = cart_server(&db, &["--deploy", &counter]);
    let http = agent();
    let wasm = std::fs::read(guests::wasm_path(FAULTY_PROJECTION)).expect("the component");
    put(
        &http,
        &server.url("/modules/skipper?policy=skip"),
        &wasm,
        None,
    )
    .ok();
    let poison = r#"{"events":[{"type":"Poison","data":{}}]}"#;
    post(&http, &server.url("/streams/bad-1"), poison, None).ok();
    let last = post(&http, &server.url("/streams/bad-2"), poison, None);
    let head = last.ok()["lastPosition"].as_u64().expect("a position");
    wait_until(
        PATIENCE,
        "the skipper to pass the poison events",
        || get(&http, &server.url("/projections/skipper")).json["active"]["checkpoint"].clone(),
        |checkpoint| checkpoint.as_u64() == Some(head),
    );

    let browser = Browser::start();
    browser.open(&server.url("/ui#projections"));
    browser.wait_for(
        PATIENCE,
        "the counter projection stopped with its error",
        |b| {
            b.text("tr[data-projection=counter]")
                .filter(|t| t.contains("faulted") && t.contains("event 3 is poison"))
        },
    );
    browser.click("tr[data-projection=skipper] button");
    browser.wait_for(PATIENCE, "the skipped events with their errors", |b| {
        b.text("#skipped")
            .filter(|t| t.contains("event 3 is poison") && t.contains("event 4 is poison"))
    });
    browser.screenshot("projections");

    browser.click("button[data-rebuild=cart-summary]");
    browser.click("#rebuild-yes");
    let (generation, _) = browser.wait_for(PATIENCE, "the rebuild to start", |b| {
        b.run(
            "const e = document.querySelector('#rebuild-started'); return e ? Number(e.dataset.generation) : null;",
            vec![],
        )
        .as_u64()
    });
    assert_eq!(generation, 2, "the rebuild builds generation 2");
    wait_until(
        PATIENCE,
        "the rebuild started from the page to complete",
        || get(&http, &server.url("/projections/cart-summary")).json,
        |status| status["active"]["generation"] == 2 && status["rebuild"].is_null(),
    );
    let document = get(
        &http,
        &server.url("/projections/cart-summary/cart_summary/cart-1"),
    );
    assert_eq!(
        document.ok()["itemCount"],
        2,
        "the rebuilt read model holds the cart"
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "no console errors: {errors:#?}");

    browser.open(&server.url("/ui#read-models"));
    browser.wait_for(PATIENCE, "the projections to choose from", |b| {
        b.text("#documents-projection")
            .filter(|t| t.contains("cart-summary"))
    });
    browser.run(
        "document.querySelector('#documents-projection').value = 'cart-summary';",
        vec![],
    );
    browser.type_into("#documents-collection", "cart_summary");
    browser.click("#documents-form button");
    rows(&browser, "#documents", 1);
    let shown = browser.text("#documents").unwrap_or_default();
    assert!(
        shown.contains("cart-1") && shown.contains("\"itemCount\": 2"),
        "{shown}"
    );
    browser.screenshot("read-models");
    server.stop();
}

#[test]
fn with_a_token_the_page_shows_no_data_until_it_is_given() {
    let db = Db::new();
    let server = cart_server(&db, &["--token", "s3cret"]);
    let browser = Browser::start();
    browser.open(&server.url("/ui"));
    browser.wait_for(PATIENCE, "the page to ask for the token", |b| {
        b.visible("#token").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(!browser.visible("#nav"), "no sections before the token");
    assert_eq!(
        browser.text("#head").as_deref(),
        Some("–"),
        "no data before the token"
    );
    let listed = browser.run(
        "return document.querySelectorAll('tbody tr').length;",
        vec![],
    );
    assert_eq!(listed, json!(0), "no rows before the token");
    browser.screenshot("token");

    browser.type_into("#token", "wrong");
    browser.click("#login-form button");
    browser.wait_for(PATIENCE, "the wrong token refused", |b| {
        b.text("#login-error")
            .filter(|t| t.contains("not the server's token"))
    });
    assert_eq!(browser.text("#head").as_deref(), Some("–"));

    browser.type_into("#token", "s3cret");
    browser.click("#login-form button");
    browser.wait_for(PATIENCE, "the data once the token is given", |b| {
        (b.text("#head").as_deref() == Some("2")).then_some(())
    });
    browser.open(&server.url("/ui#projections"));
    browser.click("button[data-rebuild=cart-summary]");
    browser.click("#rebuild-yes");
    browser.wait_for(PATIENCE, "a rebuild the token allows", |b| {
        b.visible("#rebuild-started").then_some(())
    });
    let log = server.log();
    assert!(!log.contains("s3cret"), "the token is never logged:\n{log}");
    assert!(!log.contains("wrong"), "nor a wrong one:\n{log}");
    server.stop();
}
