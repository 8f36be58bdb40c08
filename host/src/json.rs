//! The JSON checks of text that comes from outside (clients and guests), in one place.
//!
//! Events, commands and documents cross the engine as JSON text and are stored as
//! such; the engine only needs to know that a text is JSON (or a JSON object), never
//! its value, so the checks walk the text without building one. The walk reads every
//! string and object key as text, which is what makes the parser refuse a lone UTF-16
//! surrogate (`"\ud800"` with no low half): skipping a value, as
//! `serde::de::IgnoredAny` does, lets one through, and a stored lone surrogate breaks
//! every reader that later parses the value into a string. A refusal names the JSON
//! pointer of the value the parser stopped in.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::fmt;

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotJson {
    /// The JSON pointer (RFC 6901) of the value the parser stopped in: `""` for the
    /// text as a whole, `/items/0/name` for a value inside it.
    pub(crate) pointer: String,
    /// The parser's message.
    pub(crate) message: String,
}

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.pointer.is_empty() {
            write!(f, " (in the value at {})", self.pointer)?;
        }
        Ok(())
    }
}

/// Why a text is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAnObject {
    /// It is not JSON at all.
    NotJson(NotJson),
    /// It is JSON, but an array, a string, a number, a boolean or null.
    OtherJson,
}

impl NotAnObject {
    /// The JSON pointer of the offending value inside the text (`""`: the text itself).
    pub(crate) fn pointer(&self) -> &str {
        match self {
            NotAnObject::NotJson(not_json) => &not_json.pointer,
            NotAnObject::OtherJson => "",
        }
    }
}

impl fmt::Display for NotAnObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAnObject::NotJson(error) => write!(f, "it is not JSON: {error}"),
            NotAnObject::OtherJson => f.write_str("it is JSON of another kind"),
        }
    }
}

/// Whether `text` is one JSON value and nothing else, every string of it Unicode
/// text (no lone surrogate); the parser's message and where it stopped if not.
pub(crate) fn check_json(text: &str) -> Result<(), NotJson> {
    let path = RefCell::new(Vec::new());
    let mut parser = serde_json::Deserializer::from_str(text);
    Walk { path: &path }
        .deserialize(&mut parser)
        .and_then(|()| parser.end())
        .map_err(|error| NotJson {
            pointer: pointer(&path.borrow()),
            message: explained(error.to_string()),
        })
}

/// The parser's message, with what its terse words about `\u` escapes mean.
fn explained(message: String) -> String {
    if message.contains("hex escape") {
        format!(
            "a string holds a \\u escape that is not a Unicode character (a lone UTF-16 \
             surrogate, or an escape cut short): {message}"
        )
    } else {
        message
    }
}

/// Whether `text` is one JSON object and nothing else.
pub(crate) fn check_object(text: &str) -> Result<(), NotAnObject> {
    let parsed = check_json(text).map_err(NotAnObject::NotJson);
    if text.trim_start().starts_with('{') {
        parsed
    } else {
        parsed.and(Err(NotAnObject::OtherJson))
    }
}

/// `/a/0/b~1c` for the path `a`, `0`, `b/c`.
pub(crate) fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Reads one value, strings and keys as text, keeping the path to the value being
/// read: after a failure it is the path to where the parser stopped.
struct Walk<'p> {
    path: &'p RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            self.path.borrow_mut().push(index.to_string());
            if items.next_element_seed(Walk { path: self.path })?.is_none() {
                self.path.borrow_mut().pop();
                return Ok(());
            }
            self.path.borrow_mut().pop();
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        while let Some(key) = entries.next_key::<String>()? {
            self.path.borrow_mut().push(key);
            entries.next_value_seed(Walk { path: self.path })?;
            self.path.borrow_mut().pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_pass_and_everything_else_says_why() {
        assert_eq!(check_object(r#" {"a": [1, {"b": null}]} "#), Ok(()));
        assert_eq!(check_object("{}"), Ok(()));
        for other in ["[1, 2]", "42", "null", "\"text\"", "true"] {
            assert_eq!(check_object(other), Err(NotAnObject::OtherJson), "{other}");
        }
        for broken in ["", "{\"open\": ", "{} {}", "{\"a\": 1} trailing", "[1,"] {
            assert!(
                matches!(check_object(broken), Err(NotAnObject::NotJson(_))),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_lone_surrogate_is_not_json_and_its_value_is_named() {
        let refused = check_json(r#"{"a": [1, {"b/c": "x\ud800"}]}"#).unwrap_err();
        assert_eq!(refused.pointer, "/a/1/b~1c");
        assert!(refused.message.contains("surrogate"), "{refused}");
        for lone in [
            r#""\udc00""#,
            r#"["\ud800x"]"#,
            r#"{"\ud800": 1}"#,
            r#""\ud800\u0041""#,
        ] {
            assert!(check_json(lone).is_err(), "{lone}");
        }
        assert_eq!(check_json(r#""\ud83d\ude00 \u00e9""#), Ok(()));
        assert_eq!(
            check_object("[1]").unwrap_err().pointer(),
            "",
            "another kind of JSON is the text's fault as a whole"
        );
    }

    #[test]
    fn any_single_json_value_is_json() {
        for text in ["1", "\"s\"", "[]", "{}", " null "] {
            assert_eq!(check_json(text), Ok(()), "{text}");
        }
        assert!(check_json("{} []").is_err());
    }
}
