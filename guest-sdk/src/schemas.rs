//! JSON Schemas of a decider's commands and events, derived from their serde types.
//!
//! With the `schemas` feature, `export_decider!(D, schemas)` (and
//! `export_query_decider!`) also exports the WIT `schemas` interface, answering with
//! these: the engine then refuses a command that does not match before `decide` runs,
//! naming the field, and describes the decider's commands in `GET /openapi.json`.
//! Derive [`schemars::JsonSchema`] beside `Deserialize` on the command and event
//! enums; schemars reads the same serde attributes (`tag`, `content`, renames), so
//! the schema describes exactly the JSON serde accepts.

use schemars::JsonSchema;

/// The JSON Schema of `T`, as JSON text.
pub fn schema_of<T: JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(T))
        .expect("a JSON Schema made by schemars is JSON")
}
