//! Module-declared schemas: a command that does not match its decider's schema is
//! refused with 400 naming the field before the guest is called (its call counter
//! does not move); the schemas are served, and `GET /openapi.json` describes the API
//! with each decider's commands, as OpenAPI 3 that a parser accepts. A schema file
//! shipped with `refold deploy --schema` is checked the same way.

use crate::support::guests::{self, CART, DESCRIBED};
use crate::support::server::{Db, Server, agent, get, post, refold_on};
use serde_json::json;

/// The guest calls the server has made into `module`, from its metrics.
fn guest_calls(http: &ureq::Agent, server: &Server, module: &str) -> u64 {
    let metrics = get(http, &server.url("/metrics"));
    let prefix = format!("refold_guest_calls_total{{module=\"{module}\",");
    metrics
        .text
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .find_map(|rest| rest.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no {prefix}in the metrics:\n{}", metrics.text))
        .parse()
        .expect("a count")
}

#[test]
fn a_command_that_does_not_match_its_schema_never_reaches_the_decider() {
    let db = Db::new();
    let described = format!("described={}", guests::wasm_path(DESCRIBED).display());
    let server = db.serve(&["--deploy", &described]);
    let http = agent();
    let url = server.url("/commands/described/counter-1");
    let before = guest_calls(&http, &server, DESCRIBED);

    let refusals = [
        (
            json!({"type": "Add", "data": {"amount": "two"}}),
            "/data/amount",
            "expected integer, got \"two\"",
        ),
        (
            json!({"type": "Add", "data": {"amount": 0}}),
            "/data/amount",
            "expected a number at least 1, got 0",
        ),
        (
            json!({"type": "Add", "data": {}}),
            "/data/amount",
            "missing field `amount`",
        ),
        (
            json!({"type": "Fly", "data": {}}),
            "/type",
            "expected one of \"Add\", \"Reset\", got \"Fly\"",
        ),
    ];
    for (command, field, reason) in refusals {
        let answer = post(&http, &url, &command.to_string(), None);
        let error = answer.error(400, "command-schema-mismatch");
        assert_eq!(error["module"], DESCRIBED, "{answer:?}");
        assert_eq!(error["details"]["field"], field, "{answer:?}");
        assert!(
            error["message"].as_str().unwrap().contains(reason),
            "{answer:?}"
        );
    }
    assert_eq!(
        guest_calls(&http, &server, DESCRIBED),
        before,
        "no refused command reached the guest"
    );
    assert_eq!(
        get(&http, &server.url("/streams/counter-1")).ok()["events"],
        json!([])
    );

    let metadata =
        json!({"type": "Add", "data": {"amount": 2, "note": null}, "metadata": {"by": "me"}});
    let answer = post(&http, &url, &metadata.to_string(), None);
    assert_eq!(answer.ok()["events"][0]["type"], "Added");
    for unit in [
        json!({"type": "Reset"}),
        json!({"type": "Reset", "data": {}}),
    ] {
        let answer = post(&http, &url, &unit.to_string(), None);
        assert_eq!(answer.ok()["events"][0]["type"], "WasReset");
    }
    assert!(guest_calls(&http, &server, DESCRIBED) > before);
}

#[test]
fn schemas_are_served_and_the_api_is_described_as_openapi() {
    let db = Db::new();
    let described = format!("described={}", guests::wasm_path(DESCRIBED).display());
    let cart = format!("cart={}", guests::wasm_path(CART).display());
    let server = db.serve(&["--deploy", &described, "--deploy", &cart]);
    let http = agent();

    let schema = get(&http, &server.url("/modules/described/schema"));
    let schema = schema.ok();
    assert_eq!(schema["module"], DESCRIBED);
    assert_eq!(schema["version"], 1);
    assert_eq!(
        schema["commands"]["oneOf"][0]["properties"]["type"]["const"],
        "Add"
    );
    assert_eq!(
        schema["events"]["oneOf"][1]["properties"]["type"]["const"],
        "WasReset"
    );
    let cart = get(&http, &server.url("/modules/cart/schema"));
    assert_eq!(
        cart.ok()["commands"],
        serde_json::Value::Null,
        "cart declares none"
    );
    get(&http, &server.url("/modules/nothing/schema")).error(404, "unknown-module");

    let answer = get(&http, &server.url("/openapi.json"));
    let api: openapiv3::OpenAPI = serde_json::from_str(&answer.text).unwrap_or_else(|e| {
        panic!(
            "GET /openapi.json is no OpenAPI 3 document: {e}\n{}",
            answer.text
        )
    });
    assert!(api.openapi.starts_with("3."), "{}", api.openapi);
    for route in [
        "/streams",
        "/log",
        "/modules/{name}/schema",
        "/commands/cart/{stream}",
    ] {
        assert!(api.paths.paths.contains_key(route), "{route} is described");
    }
    let command = api.paths.paths["/commands/described/{stream}"]
        .as_item()
        .and_then(|item| item.post.as_ref())
        .expect("the described decider's commands have a route");
    let body = command
        .request_body
        .as_ref()
        .and_then(|body| body.as_item())
        .expect("a body");
    let schema = body.content["application/json"]
        .schema
        .as_ref()
        .expect("a schema");
    let openapiv3::ReferenceOr::Reference { reference } = schema else {
        panic!("the body refers to the command schema: {schema:?}");
    };
    assert_eq!(reference, "#/components/schemas/described.Command");
    let components = api.components.expect("components");
    let command = components.schemas["described.Command"]
        .as_item()
        .expect("the command schema is inline");
    let openapiv3::SchemaKind::OneOf { one_of } = &command.schema_kind else {
        panic!("the commands are one of their variants: {command:?}");
    };
    assert_eq!(one_of.len(), 2);
}

#[test]
fn a_schema_file_shipped_with_a_deploy_is_checked_too() {
    let db = Db::new();
    let schema = db.path().with_extension("schema.json");
    let document = json!({"commands": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": ["OpenCart", "AddItem", "RemoveItem", "ConfirmCart"]}}
    }});
    std::fs::write(&schema, document.to_string()).expect("the schema file is written");
    let cart = guests::wasm_path(CART).display().to_string();
    let schema = schema.display().to_string();
    let deployed = refold_on(
        &db.path(),
        &["deploy", "cart", &cart, "--schema", &schema],
        "",
    );
    assert!(deployed.status.success(), "{deployed:?}");

    let server = db.serve(&[]);
    let http = agent();
    let served = get(&http, &server.url("/modules/cart/schema"));
    assert_eq!(served.ok()["commands"], document["commands"]);
    let before = guest_calls(&http, &server, CART);
    let answer = post(
        &http,
        &server.url("/commands/cart/cart-1"),
        r#"{"type":"Fly"}"#,
        None,
    );
    assert_eq!(
        answer.error(400, "command-schema-mismatch")["details"]["field"],
        "/type"
    );
    assert_eq!(guest_calls(&http, &server, CART), before);

    let bad = db.path().with_extension("bad.json");
    std::fs::write(&bad, r#"{"command": {}}"#).expect("written");
    let bad = bad.display().to_string();
    let refused = refold_on(&db.path(), &["deploy", "cart", &cart, "--schema", &bad], "");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "the schema document has a key `command`; it holds `commands` and `events` only"
        ),
        "{stderr}"
    );
}
