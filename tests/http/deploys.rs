//! Deploys that cannot go wrong silently, over HTTP: a change of a name's world is a
//! 409 unless asked for, a rollback re-deploys an earlier version's bytes as a new
//! version that answers the next command, and a file that is not a component gets one
//! sentence. On both backends: module records live in the store.

use crate::support::both_backends;
use crate::support::guests::{self, CART, CART_SUMMARY, CART_V2};
use crate::support::server::{Db, agent, open_cart, post, put};
use refold::runtime::content_hash;
use serde_json::json;

both_backends! {
fn a_world_change_is_refused_and_a_rollback_goes_live_at_once(backend: Backend) {
    let db = Db::on(backend);
    let server = db.serve_cart(&[]);
    let http = agent();
    let url = |path: &str| server.url(path);

    // A projection where the cart decider is: refused, naming the current world.
    let summary = guests::wasm(CART_SUMMARY);
    let refused = put(&http, &url("/modules/cart"), &summary, None);
    let error = refused.error(409, "world-change");
    assert_eq!(error["module"], "cart");
    assert_eq!(
        error["details"],
        json!({"actual": "decider", "value": "projection", "version": 1})
    );
    assert!(
        error["message"].as_str().unwrap().starts_with("module 'cart' is a decider (version 1)"),
        "{error}"
    );
    post(&http, &url("/commands/cart/cart-1"), &open_cart("cart-1"), None).ok();

    // A new version, then a rollback: back to version 1's bytes, as version 3, which
    // answers the very next command.
    put(&http, &url("/modules/cart"), &guests::wasm(CART_V2), None).ok();
    let rollback = post(&http, &url("/modules/cart/rollback"), "", None);
    let rolled = rollback.ok();
    assert_eq!(rolled["version"], 3, "{rolled}");
    assert_eq!(rolled["rolledBackTo"], 1);
    assert_eq!(rolled["world"], "decider");
    assert_eq!(rolled["hash"], content_hash(&guests::wasm(CART)));
    let answer = post(&http, &url("/commands/cart/cart-2"), &open_cart("cart-2"), None);
    assert_eq!(answer.ok()["moduleVersion"], 3);

    let to = |body: &str| post(&http, &url("/modules/cart/rollback"), body, None);
    assert_eq!(to(r#"{"to": 2}"#).ok()["version"], 4);
    let error = to(r#"{"to": 9}"#);
    assert_eq!(
        error.error(404, "unknown-version")["details"],
        json!({"value": 9, "actual": 4})
    );
    to(r#"{"to": 4}"#).error(409, "nothing-to-roll-back");
    to("{not json").error(400, "bad-request");
    post(&http, &url("/modules/nope/rollback"), "", None).error(404, "unknown-module");

    // Asked for, the world changes; a rollback across worlds must be asked for too.
    let replaced = put(&http, &url("/modules/cart?replaceWorld=true"), &summary, None);
    assert_eq!(replaced.ok()["world"], "projection");
    assert_eq!(replaced.ok()["version"], 5);
    to("").error(409, "world-change");
    let back = post(&http, &url("/modules/cart/rollback?replaceWorld=true"), "", None);
    assert_eq!(back.ok()["world"], "decider", "{:?}", back.json);
    assert_eq!(back.ok()["rolledBackTo"], 4);
    post(&http, &url("/commands/cart/cart-3"), &open_cart("cart-3"), None).ok();

    // Not a component: one sentence saying what it is.
    let junk = put(&http, &url("/modules/junk"), b"hello, I am text", None);
    let message = junk.error(400, "invalid-module")["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("module 'junk' is not a WebAssembly component: it is text (starting \"hello, I am text\")")
            && !message.contains('\n'),
        "{message}"
    );
    server.stop();
}
}
