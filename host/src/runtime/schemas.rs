//! The JSON Schemas a module declares for its commands and events.
//!
//! A module says what its messages look like in one of two ways: it exports the WIT
//! `schemas` interface (what the Rust SDK's `export_decider!(D, schemas)` does), or
//! its component carries a schema document in a custom section named
//! [`SECTION`] (what `refold deploy --schema FILE` adds to a Python or JavaScript
//! component, whose tools cannot derive one). A custom section changes no code: the
//! component is the same module with other bytes, so it is deployed, stored, cached
//! and rolled back like any other. The document is `{"commands": SCHEMA, "events":
//! SCHEMA}`, each optional. A module with neither is unchecked, as before.

use crate::json_schema::JsonSchema;
use serde_json::{Map, Value};

/// The name of the custom section holding a schema document.
pub const SECTION: &str = "refold:schemas";

/// What a module declared about its messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schemas {
    /// The schema every command `decide` accepts matches (`{"type", "data"}`).
    pub commands: Option<JsonSchema>,
    /// The schema of the events it decides.
    pub events: Option<JsonSchema>,
}

impl Schemas {
    /// Whether the module declared nothing.
    pub fn is_empty(&self) -> bool {
        self.commands.is_none() && self.events.is_none()
    }

    /// The schemas read from a schema document (`{"commands"?, "events"?}`), else why
    /// not, naming the key at fault.
    pub fn from_document(text: &str) -> Result<Schemas, String> {
        let document: Value = serde_json::from_str(text)
            .map_err(|e| format!("the schema document is not JSON: {e}"))?;
        let Value::Object(mut document) = document else {
            return Err(
                "the schema document must be a JSON object: {\"commands\": SCHEMA, \"events\": SCHEMA}"
                    .to_owned(),
            );
        };
        if let Some(other) = document
            .keys()
            .find(|key| !["commands", "events"].contains(&key.as_str()))
        {
            return Err(format!(
                "the schema document has a key `{other}`; it holds `commands` and `events` only"
            ));
        }
        let mut take = |key: &str| {
            document
                .remove(key)
                .map(|schema| JsonSchema::new(schema).map_err(|e| format!("`{key}`: {e}")))
                .transpose()
        };
        Ok(Schemas {
            commands: take("commands")?,
            events: take("events")?,
        })
    }

    /// The schemas as a schema document: what `GET /modules/{name}/schema` answers.
    pub fn to_document(&self) -> Value {
        let mut document = Map::new();
        for (key, schema) in [("commands", &self.commands), ("events", &self.events)] {
            if let Some(schema) = schema {
                document.insert(key.to_owned(), schema.as_json().clone());
            }
        }
        Value::Object(document)
    }
}

/// The payload of the component's [`SECTION`] custom section, if it has one at its
/// top level. Bytes that are no component have none.
pub fn embedded(component: &[u8]) -> Option<&[u8]> {
    sections(component)?
        .find(|section| section.id == 0 && custom_name(section.payload).0 == SECTION)
        .map(|section| custom_name(section.payload).1)
}

/// `component` with `document` (a schema document, checked first) as its [`SECTION`]
/// custom section, replacing one it had.
pub fn embed(component: &[u8], document: &str) -> Result<Vec<u8>, String> {
    Schemas::from_document(document)?;
    let Some(sections) = sections(component) else {
        return Err("the file is not a WebAssembly component".to_owned());
    };
    let mut out = component[..HEADER].to_vec();
    for section in sections {
        if !(section.id == 0 && custom_name(section.payload).0 == SECTION) {
            out.extend_from_slice(section.whole);
        }
    }
    let mut payload = leb128(SECTION.len());
    payload.extend_from_slice(SECTION.as_bytes());
    payload.extend_from_slice(document.as_bytes());
    out.push(0);
    out.extend(leb128(payload.len()));
    out.extend(payload);
    Ok(out)
}

/// The size of a component's preamble: magic, version and layer.
const HEADER: usize = 8;

/// One top-level section: its id, its payload, and all its bytes.
struct Section<'a> {
    id: u8,
    payload: &'a [u8],
    whole: &'a [u8],
}

/// The top-level sections of a component (its layer is 1), or none if the bytes are
/// not one.
fn sections(bytes: &[u8]) -> Option<impl Iterator<Item = Section<'_>>> {
    let is_component = bytes.len() >= HEADER && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0];
    is_component.then(|| {
        let mut at = HEADER;
        std::iter::from_fn(move || {
            let start = at;
            let id = *bytes.get(at)?;
            let (size, read) = read_leb128(bytes.get(at + 1..)?)?;
            let payload_at = at + 1 + read;
            let end = payload_at.checked_add(size)?;
            let payload = bytes.get(payload_at..end)?;
            at = end;
            Some(Section {
                id,
                payload,
                whole: &bytes[start..end],
            })
        })
    })
}

/// A custom section's name and the rest of its payload.
fn custom_name(payload: &[u8]) -> (&str, &[u8]) {
    read_leb128(payload)
        .and_then(|(length, read)| {
            let name = payload.get(read..read + length)?;
            Some((std::str::from_utf8(name).ok()?, &payload[read + length..]))
        })
        .unwrap_or(("", payload))
}

fn read_leb128(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value: usize = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = u8::try_from(value & 0x7f).expect("seven bits fit a byte");
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: its preamble and one custom section.
    fn component() -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        bytes.extend([0, 4, 3, b'a', b'b', b'c']);
        bytes
    }

    #[test]
    fn an_embedded_document_reads_back_and_replaces_an_earlier_one() {
        let first = embed(&component(), r#"{"commands": true}"#).unwrap();
        assert_eq!(embedded(&first), Some(&br#"{"commands": true}"#[..]));
        let second = embed(&first, r#"{"events": {"type": "object"}}"#).unwrap();
        assert_eq!(
            embedded(&second),
            Some(&br#"{"events": {"type": "object"}}"#[..])
        );
        assert_eq!(second.len(), first.len() - 4 + 16, "one section, replaced");
        assert!(second.starts_with(&component()), "other sections are kept");
        assert_eq!(embedded(&component()), None);
        assert_eq!(embedded(b"not wasm"), None);
    }

    #[test]
    fn a_bad_document_is_refused() {
        let refused = |text: &str| embed(&component(), text).unwrap_err();
        assert!(refused("[]").starts_with("the schema document must be a JSON object"));
        assert!(refused(r#"{"command": {}}"#).contains("has a key `command`"));
        assert!(refused(r#"{"commands": 3}"#).starts_with("`commands`: a JSON Schema is"));
        assert_eq!(
            embed(b"\0asm\x01\0\0\0", "{}").unwrap_err(),
            "the file is not a WebAssembly component"
        );
    }
}
