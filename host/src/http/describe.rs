//! What the API says about itself: the schemas a module declared
//! (`GET /modules/{name}/schema`) and an OpenAPI 3.0 description of the whole HTTP
//! API with the commands of every deployed decider (`GET /openapi.json`), so a client
//! generator or an API browser knows the shape of each command.
//!
//! A module's schemas are JSON Schema (draft 2020-12); OpenAPI 3.0 speaks an older
//! dialect, so each is translated on the way in ([`to_openapi`]): `const` becomes a
//! one-value `enum`, a type list with `null` a `nullable` type, `$defs` entries named
//! component schemas (`<module>.<name>`).

use super::{ApiError, AppState};
use crate::runtime::{ModuleInfo, World};
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

/// `GET /modules/{name}/schema`: the schemas the current version of `name` declared
/// (`null` where it declared none).
pub(crate) async fn schema(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let module = state.engine.runtime().module(&name)?;
    let schemas = module.schemas();
    let shown = |schema: &Option<crate::json_schema::JsonSchema>| {
        schema.as_ref().map_or(Value::Null, |s| s.as_json().clone())
    };
    Ok(Json(json!({
        "module": name,
        "version": module.info().version,
        "commands": shown(&schemas.commands),
        "events": shown(&schemas.events),
    })))
}

/// `GET /openapi.json`: the HTTP API as OpenAPI 3.0.3, with a route per deployed
/// decider whose body is the decider's command schema.
pub(crate) async fn openapi(State(state): State<AppState>) -> Json<Value> {
    let mut paths = general_paths();
    let mut components = Map::new();
    components.insert("Error".to_owned(), error_schema());
    for info in state.engine.modules() {
        if info.world != World::Decider {
            continue;
        }
        let Ok(module) = state.engine.runtime().module(&info.name) else {
            continue;
        };
        let body = match &module.schemas().commands {
            Some(schema) => {
                let name = format!("{}.Command", info.name);
                let mut root = to_openapi(schema.as_json(), &info.name);
                if let Value::Object(object) = &mut root {
                    for key in ["$defs", "definitions"] {
                        if let Some(Value::Object(defs)) = object.remove(key) {
                            for (def, schema) in defs {
                                components.insert(format!("{}.{def}", info.name), schema);
                            }
                        }
                    }
                }
                components.insert(name.clone(), root);
                json!({"$ref": format!("#/components/schemas/{name}")})
            }
            None => any_command(),
        };
        let (path, operation) = decider_route(&info, module.is_query_decider(), body);
        paths.insert(path, json!({ "post": operation }));
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Refold",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "An event-sourcing engine whose domain logic runs as WebAssembly components. Errors are one JSON body, `{\"error\": {kind, message, module?, details?}}`; the kinds are listed in docs/http.md."
        },
        "paths": paths,
        "components": { "schemas": components },
    }))
}

/// The route of one decider's commands.
fn decider_route(info: &ModuleInfo, query_decider: bool, body: Value) -> (String, Value) {
    let mut parameters = vec![partition_parameter()];
    let path = if query_decider {
        format!("/commands/{}", info.name)
    } else {
        parameters.insert(
            0,
            path_parameter("stream", "The stream the command is for."),
        );
        format!("/commands/{}/{{stream}}", info.name)
    };
    let operation = json!({
        "summary": format!("A command to the decider {} (version {})", info.name, info.version),
        "description": "The body is the command, `{\"type\", \"data\"}`, with an optional `metadata` object beside them. A command that does not match the decider's schema is refused with 400 `command-schema-mismatch` before the decider sees it. Headers `Idempotency-Key`, `X-Correlation-Id` and `traceparent` are read.",
        "operationId": format!("command_{}", info.name.replace(['-', '.'], "_")),
        "tags": ["commands"],
        "parameters": parameters,
        "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {"description": "The events appended, the stream's version and the position of the last event.", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": error_response("The command is malformed, unknown to the decider, or does not match its schema."),
            "409": error_response("A conflict that retries did not resolve."),
            "422": error_response("The decider rejected the command."),
            "500": error_response("The decider failed (a guest fault)."),
        },
    });
    (path, operation)
}

/// The routes every server has, described briefly.
fn general_paths() -> Map<String, Value> {
    let get = |summary: &str| json!({"get": operation(summary, Vec::new())});
    let mut paths = Map::new();
    let mut add = |path: &str, item: Value| {
        paths.insert(path.to_owned(), item);
    };
    add(
        "/streams",
        json!({"post": operation("Append to several streams, all or nothing, under an optional condition.", Vec::new())}),
    );
    add(
        "/streams/{stream}",
        json!({
            "post": operation("Append events to a stream with an expected version.", vec![path_parameter("stream", "The stream.")]),
            "get": operation("Read a stream.", vec![path_parameter("stream", "The stream."), partition_parameter()]),
        }),
    );
    add("/log", get("Read the global log, filtered."));
    add("/log/live", get("The global log as server-sent events."));
    add("/modules", get("The deployed modules."));
    add(
        "/modules/{name}",
        json!({"put": operation("Deploy a module (the body is the component).", vec![path_parameter("name", "The module's name.")])}),
    );
    add(
        "/modules/{name}/schema",
        json!({"get": operation("The schemas the module declared for its commands and events.", vec![path_parameter("name", "The module's name.")])}),
    );
    add(
        "/modules/{name}/rollback",
        json!({"post": operation("Re-deploy an earlier version's bytes as a new version.", vec![path_parameter("name", "The module's name.")])}),
    );
    add("/projections", get("Every projection's status."));
    add(
        "/projections/{name}",
        json!({"get": operation("A projection's status.", vec![path_parameter("name", "The projection.")])}),
    );
    add(
        "/projections/{name}/rebuild",
        json!({"post": operation("Rebuild a read model beside the current one.", vec![path_parameter("name", "The projection.")])}),
    );
    add(
        "/projections/{name}/{collection}",
        json!({"get": operation("A page of a read model's documents.", vec![path_parameter("name", "The projection."), path_parameter("collection", "The collection."), partition_parameter()])}),
    );
    add(
        "/projections/{name}/{collection}/{id}",
        json!({"get": operation("One document of a read model.", vec![path_parameter("name", "The projection."), path_parameter("collection", "The collection."), path_parameter("id", "The document's id."), partition_parameter()])}),
    );
    add("/health", get("Liveness."));
    add("/metrics", get("Prometheus metrics."));
    add("/openapi.json", get("This description."));
    paths
}

/// An operation with a JSON answer and the one error body.
fn operation(summary: &str, parameters: Vec<Value>) -> Value {
    json!({
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {"description": "Done."},
            "default": error_response("An error: its kind says which (docs/http.md)."),
        },
    })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn partition_parameter() -> Value {
    json!({"name": "partition", "in": "query", "required": false, "description": "The partition (tenant); `default` unless given.", "schema": {"type": "string"}})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["kind", "message"],
            "properties": {
                "kind": {"type": "string"},
                "message": {"type": "string"},
                "module": {"type": "string"},
                "details": {"type": "object"},
            },
        }},
    })
}

/// The body of a decider that declared no command schema: any command envelope.
fn any_command() -> Value {
    json!({
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string"},
            "data": {"type": "object"},
            "metadata": {"type": "object"},
        },
    })
}

/// A JSON Schema (2020-12) of module `module` as an OpenAPI 3.0 schema object.
fn to_openapi(schema: &Value, module: &str) -> Value {
    let object = match schema {
        Value::Bool(true) => return json!({}),
        Value::Bool(false) => return json!({"not": {}}),
        Value::Object(object) => object,
        other => return other.clone(),
    };
    let mut out = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "$schema" | "$id" | "examples" | "prefixItems" | "$comment" => {}
            "$ref" => {
                let target = value.as_str().unwrap_or_default();
                let name = target
                    .strip_prefix("#/$defs/")
                    .or_else(|| target.strip_prefix("#/definitions/"));
                let reference = match name {
                    Some(name) => format!("#/components/schemas/{module}.{name}"),
                    None if target == "#" => format!("#/components/schemas/{module}.Command"),
                    None => target.to_owned(),
                };
                out.insert(key.clone(), Value::String(reference));
            }
            "const" => {
                out.insert("enum".to_owned(), json!([value]));
            }
            "type" => match value {
                Value::Array(types) => {
                    let named: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    if named.len() < types.len() {
                        out.insert("nullable".to_owned(), Value::Bool(true));
                    }
                    match named.as_slice() {
                        [one] => {
                            out.insert("type".to_owned(), (*one).clone());
                        }
                        [] => {}
                        many => {
                            let options = many.iter().map(|t| json!({"type": t})).collect();
                            out.insert("anyOf".to_owned(), Value::Array(options));
                        }
                    }
                }
                other => {
                    out.insert(key.clone(), other.clone());
                }
            },
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_number() => {
                let bound = if key == "exclusiveMinimum" {
                    "minimum"
                } else {
                    "maximum"
                };
                out.insert(bound.to_owned(), value.clone());
                out.insert(key.clone(), Value::Bool(true));
            }
            "properties" | "$defs" | "definitions" => {
                let converted = value
                    .as_object()
                    .map(|fields| {
                        fields
                            .iter()
                            .map(|(name, schema)| (name.clone(), to_openapi(schema, module)))
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" | "additionalProperties" | "not" if value.is_object() || value.is_boolean() => {
                let converted = match (key.as_str(), value) {
                    ("additionalProperties", Value::Bool(allowed)) => Value::Bool(*allowed),
                    _ => to_openapi(value, module),
                };
                out.insert(key.clone(), converted);
            }
            "oneOf" | "anyOf" | "allOf" => {
                let options = value
                    .as_array()
                    .map(|options| options.iter().map(|o| to_openapi(o, module)).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(options));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}
