//! Checking commands against the JSON Schema a module declares for them.
//!
//! A module may describe its commands with a JSON Schema (the WIT `schemas`
//! interface, or a schema file embedded at deploy); the engine checks each command
//! against it before `decide` runs and refuses a mismatch naming the field, as a JSON
//! pointer. This is a small validator of the keywords that describe the shape of JSON
//! (what schemars derives from serde types, and what hand-written schemas of commands
//! use), not a general one: `type`, `const`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `prefixItems`, `minItems`, `maxItems`,
//! `minLength`, `maxLength`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `allOf`, `anyOf`, `oneOf`, `not` and local `$ref`s
//! (`#/$defs/…`, `#/definitions/…`). Other keywords (`format`, `pattern`, titles,
//! descriptions) are annotations here and never refuse a command. The general
//! validator crates bring a regular-expression engine and a URI resolver, which cost
//! more to build than the engine's whole JSON handling.
//!
//! Where a command could match one of several shapes (`oneOf`, what an enum of
//! commands becomes), the shape whose constant properties the command has (its
//! `type`) is the one whose mismatch is reported, so a wrong field of a known command
//! is named, not "matches none of the commands".

use crate::json::pointer;
use serde_json::{Map, Value};

/// A JSON Schema, ready to check values against.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    root: Value,
}

/// Why a value does not match a schema: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The JSON pointer of the offending value (`/data/amount`; empty for the whole).
    pub pointer: String,
    /// What is wrong with it.
    pub reason: String,
}

impl JsonSchema {
    /// The schema in `text`: a JSON object or boolean, else why not.
    pub fn parse(text: &str) -> Result<JsonSchema, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("the schema is not JSON: {e}"))?;
        JsonSchema::new(root)
    }

    /// The schema `root`: a JSON object or boolean, else why not.
    pub fn new(root: Value) -> Result<JsonSchema, String> {
        match root {
            Value::Object(_) | Value::Bool(_) => Ok(JsonSchema { root }),
            other => Err(format!(
                "a JSON Schema is an object or a boolean, not {}",
                kind_of(&other)
            )),
        }
    }

    /// The schema as JSON.
    pub fn as_json(&self) -> &Value {
        &self.root
    }

    /// Whether `value` matches; the first mismatch found if not.
    pub fn check(&self, value: &Value) -> Result<(), Mismatch> {
        Checker { root: &self.root }.check(&self.root, value, &mut Vec::new(), 0)
    }
}

/// A bound on numbers: its keyword, whether a value meets it, and how a mismatch
/// says it.
type Bound = (&'static str, fn(f64, f64) -> bool, &'static str);

/// How deep `$ref`s may nest before the schema is taken to loop.
const MAX_DEPTH: usize = 64;

struct Checker<'a> {
    root: &'a Value,
}

impl<'a> Checker<'a> {
    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let fail = |path: &[String], reason: String| {
            Err(Mismatch {
                pointer: pointer(path),
                reason,
            })
        };
        let schema = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail(path, "no value is allowed here".to_owned()),
            Value::Object(schema) => schema,
            _ => return Ok(()),
        };
        if depth > MAX_DEPTH {
            return fail(
                path,
                "the schema's references nest too deep (a loop?)".to_owned(),
            );
        }
        if let Some(Value::String(reference)) = schema.get("$ref") {
            let target = reference
                .strip_prefix('#')
                .and_then(|at| self.root.pointer(at));
            match target {
                Some(target) => self.check(target, value, path, depth + 1)?,
                None => {
                    return fail(
                        path,
                        format!("the schema refers to {reference}, which it does not hold"),
                    );
                }
            }
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !allowed.is_empty() && !allowed.iter().any(|t| is_of_type(value, t)) {
                return fail(
                    path,
                    format!("expected {}, got {}", allowed.join(" or "), shown(value)),
                );
            }
        }
        if let Some(expected) = schema.get("const")
            && !same(expected, value)
        {
            return fail(path, format!("expected {expected}, got {}", shown(value)));
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.iter().any(|option| same(option, value))
        {
            let options: Vec<String> = options.iter().map(Value::to_string).collect();
            return fail(
                path,
                format!(
                    "expected one of {}, got {}",
                    options.join(", "),
                    shown(value)
                ),
            );
        }
        self.check_number(schema, value, path)?;
        self.check_string(schema, value, path)?;
        if let Value::Array(items) = value {
            self.check_array(schema, items, path, depth)?;
        }
        if let Value::Object(fields) = value {
            self.check_object(schema, fields, path, depth)?;
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for part in all {
                self.check(part, value, path, depth + 1)?;
            }
        }
        for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            if let Some(Value::Array(options)) = schema.get(keyword) {
                self.check_options(options, exactly_one, value, path, depth)?;
            }
        }
        if let Some(not) = schema.get("not")
            && self.check(not, value, path, depth + 1).is_ok()
        {
            return fail(
                path,
                "the value is of a shape the schema excludes".to_owned(),
            );
        }
        Ok(())
    }

    fn check_number(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        path: &[String],
    ) -> Result<(), Mismatch> {
        let Some(number) = value.as_f64() else {
            return Ok(());
        };
        let bounds: [Bound; 4] = [
            ("minimum", |v, b| v >= b, "at least"),
            ("maximum", |v, b| v <= b, "at most"),
            ("exclusiveMinimum", |v, b| v > b, "more than"),
            ("exclusiveMaximum", |v, b| v < b, "less than"),
        ];
        for (keyword, holds, words) in bounds {
            if let Some(bound) = schema.get(keyword).and_then(Value::as_f64)
                && !holds(number, bound)
            {
                return Err(Mismatch {
                    pointer: pointer(path),
                    reason: format!("expected a number {words} {bound}, got {value}"),
                });
            }
        }
        Ok(())
    }

    fn check_string(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        path: &[String],
    ) -> Result<(), Mismatch> {
        let Value::String(text) = value else {
            return Ok(());
        };
        let length = text.chars().count();
        check_count(schema, "minLength", "maxLength", length, "characters", path)
    }

    fn check_array(
        &self,
        schema: &'a Map<String, Value>,
        items: &[Value],
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        check_count(schema, "minItems", "maxItems", items.len(), "items", path)?;
        let prefix = match schema.get("prefixItems") {
            Some(Value::Array(prefix)) => prefix.as_slice(),
            _ => &[],
        };
        for (index, item) in items.iter().enumerate() {
            let item_schema = prefix.get(index).or_else(|| schema.get("items"));
            if let Some(item_schema) = item_schema {
                path.push(index.to_string());
                self.check(item_schema, item, path, depth + 1)?;
                path.pop();
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &'a Map<String, Value>,
        fields: &Map<String, Value>,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    path.push(name.to_owned());
                    let missing = Mismatch {
                        pointer: pointer(path),
                        reason: format!("missing field `{name}`"),
                    };
                    path.pop();
                    return Err(missing);
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            path.push(name.clone());
            match properties.and_then(|properties| properties.get(name)) {
                Some(field_schema) => self.check(field_schema, field, path, depth + 1)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let known = properties
                            .map(|p| p.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>())
                            .unwrap_or_default();
                        return Err(Mismatch {
                            pointer: pointer(path),
                            reason: if known.is_empty() {
                                format!("unknown field `{name}`: this object has no fields")
                            } else {
                                format!(
                                    "unknown field `{name}`, expected one of {}",
                                    known.join(", ")
                                )
                            },
                        });
                    }
                    Some(other) => self.check(other, field, path, depth + 1)?,
                    None => {}
                },
            }
            path.pop();
        }
        Ok(())
    }

    /// `anyOf` (`exactly_one` false) or `oneOf`: the value must match one option (only
    /// one, for `oneOf`). A mismatch is the one of the option the value's constant
    /// properties pick, else of the option it matched furthest into.
    fn check_options(
        &self,
        options: &'a [Value],
        exactly_one: bool,
        value: &Value,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let mut matched = 0;
        let mut misses = Vec::new();
        for option in options {
            match self.check(option, value, path, depth + 1) {
                Ok(()) => matched += 1,
                Err(miss) => misses.push((option, miss)),
            }
        }
        if matched == 1 || (matched > 1 && !exactly_one) {
            return Ok(());
        }
        if matched > 1 {
            return Err(Mismatch {
                pointer: pointer(path),
                reason: format!("the value matches {matched} of the shapes allowed here, not one"),
            });
        }
        if let Some((_, miss)) = misses
            .iter()
            .find(|(option, _)| self.picked_by_constants(option, value, depth))
        {
            return Err(miss.clone());
        }
        if let Some(discriminator) = self.discriminator(options, value, depth) {
            return Err(discriminator);
        }
        Err(misses
            .into_iter()
            .map(|(_, miss)| miss)
            .max_by_key(|miss| miss.pointer.matches('/').count())
            .unwrap_or_else(|| Mismatch {
                pointer: pointer(path),
                reason: "no shape is allowed here".to_owned(),
            }))
    }

    /// An option's schema, with a `$ref` at its top followed.
    fn resolved(&self, option: &'a Value, depth: usize) -> Option<&'a Map<String, Value>> {
        let schema = option.as_object()?;
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) if depth < MAX_DEPTH => {
                let target = self.root.pointer(reference.strip_prefix('#')?)?;
                self.resolved(target, depth + 1)
            }
            _ => Some(schema),
        }
    }

    /// The properties of `option` that must hold one constant (`"type": {"const": "Add"}`).
    fn constants(&self, option: &'a Value, depth: usize) -> Vec<(&'a str, &'a Value)> {
        let Some(properties) = self
            .resolved(option, depth)
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        properties
            .iter()
            .filter_map(|(name, property)| {
                let property = property.as_object()?;
                let constant = property
                    .get("const")
                    .or_else(|| match property.get("enum") {
                        Some(Value::Array(one)) if one.len() == 1 => one.first(),
                        _ => None,
                    })?;
                Some((name.as_str(), constant))
            })
            .collect()
    }

    /// Whether `value` has every constant property of `option` (and it has some).
    fn picked_by_constants(&self, option: &'a Value, value: &Value, depth: usize) -> bool {
        let constants = self.constants(option, depth);
        !constants.is_empty()
            && constants
                .iter()
                .all(|(name, constant)| value.get(name).is_some_and(|v| same(constant, v)))
    }

    /// When every option tells itself apart by one constant property (`type`) and the
    /// value's is none of them, that property is what is wrong.
    fn discriminator(&self, options: &'a [Value], value: &Value, depth: usize) -> Option<Mismatch> {
        let first = self.constants(options.first()?, depth);
        let (name, _) = first
            .iter()
            .find(|(name, _)| {
                options
                    .iter()
                    .all(|option| self.constants(option, depth).iter().any(|(n, _)| n == name))
            })
            .copied()?;
        let allowed: Vec<String> = options
            .iter()
            .filter_map(|option| {
                self.constants(option, depth)
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, constant)| constant.to_string())
            })
            .collect();
        let got = value.get(name).map_or_else(|| "nothing".to_owned(), shown);
        Some(Mismatch {
            pointer: pointer(&[name.to_owned()]),
            reason: format!("expected one of {}, got {got}", allowed.join(", ")),
        })
    }
}

/// `minimum`/`maximum`-like keywords on a count (characters, items).
fn check_count(
    schema: &Map<String, Value>,
    least: &str,
    most: &str,
    count: usize,
    of: &str,
    path: &[String],
) -> Result<(), Mismatch> {
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    let bound = |keyword: &str| schema.get(keyword).and_then(Value::as_u64);
    let reason = match (bound(least), bound(most)) {
        (Some(min), _) if count < min => format!("expected at least {min} {of}, got {count}"),
        (_, Some(max)) if count > max => format!("expected at most {max} {of}, got {count}"),
        _ => return Ok(()),
    };
    Err(Mismatch {
        pointer: pointer(path),
        reason,
    })
}

/// Whether `value` is of the JSON Schema type `name`.
fn is_of_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

/// Equality of JSON values, numbers by value (`1` is `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A value as a mismatch names it: short ones as JSON, others by kind.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 40 {
        text
    } else {
        kind_of(value).to_owned()
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn commands() -> JsonSchema {
        JsonSchema::new(json!({
            "oneOf": [
                {"type": "object", "properties": {
                    "type": {"type": "string", "const": "Add"},
                    "data": {"$ref": "#/$defs/Add"}},
                 "required": ["type", "data"]},
                {"type": "object", "properties": {"type": {"type": "string", "const": "Reset"}},
                 "required": ["type"]}
            ],
            "$defs": {"Add": {"type": "object", "properties": {
                "amount": {"type": "integer", "minimum": 1},
                "note": {"type": ["string", "null"]}},
                "required": ["amount"], "additionalProperties": false}}
        }))
        .unwrap()
    }

    fn miss(value: Value) -> (String, String) {
        let miss = commands().check(&value).unwrap_err();
        (miss.pointer, miss.reason)
    }

    #[test]
    fn a_matching_command_passes() {
        let schema = commands();
        assert_eq!(
            schema.check(&json!({"type": "Add", "data": {"amount": 2}})),
            Ok(())
        );
        assert_eq!(schema.check(&json!({"type": "Reset"})), Ok(()));
    }

    #[test]
    fn a_wrong_field_of_a_known_command_is_named() {
        assert_eq!(
            miss(json!({"type": "Add", "data": {"amount": "two"}})),
            (
                "/data/amount".into(),
                "expected integer, got \"two\"".into()
            )
        );
        assert_eq!(
            miss(json!({"type": "Add", "data": {"amount": 0}})),
            (
                "/data/amount".into(),
                "expected a number at least 1, got 0".into()
            )
        );
        assert_eq!(
            miss(json!({"type": "Add", "data": {}})),
            ("/data/amount".into(), "missing field `amount`".into())
        );
        assert_eq!(
            miss(json!({"type": "Add", "data": {"amount": 1, "colour": "red"}})),
            (
                "/data/colour".into(),
                "unknown field `colour`, expected one of `amount`, `note`".into()
            )
        );
    }

    #[test]
    fn an_unknown_command_names_its_type() {
        assert_eq!(
            miss(json!({"type": "Fly", "data": {}})),
            (
                "/type".into(),
                "expected one of \"Add\", \"Reset\", got \"Fly\"".into()
            )
        );
        assert_eq!(
            miss(json!({"data": {}})),
            (
                "/type".into(),
                "expected one of \"Add\", \"Reset\", got nothing".into()
            )
        );
    }

    #[test]
    fn pointers_escape_their_steps() {
        let schema = JsonSchema::new(json!({"additionalProperties": false})).unwrap();
        let miss = schema.check(&json!({"a/b~c": 1})).unwrap_err();
        assert_eq!(miss.pointer, "/a~1b~0c");
    }

    #[test]
    fn what_is_not_a_schema_is_refused() {
        assert!(
            JsonSchema::parse("[1]")
                .unwrap_err()
                .contains("an object or a boolean")
        );
        assert!(
            JsonSchema::parse("{")
                .unwrap_err()
                .starts_with("the schema is not JSON")
        );
    }
}
