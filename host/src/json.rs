//! The JSON checks of text that comes from outside (clients and guests), in one place.
//!
//! Events, commands and documents cross the engine as JSON text and are stored as
//! such; the engine only needs to know that a text is JSON (or a JSON object), never
//! its value, so the checks parse without building one.

use serde::de::IgnoredAny;
use std::fmt;

/// Why a text is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAnObject {
    /// It is not JSON at all; the parser's message.
    NotJson(String),
    /// It is JSON, but an array, a string, a number, a boolean or null.
    OtherJson,
}

impl fmt::Display for NotAnObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAnObject::NotJson(error) => write!(f, "it is not JSON: {error}"),
            NotAnObject::OtherJson => f.write_str("it is JSON of another kind"),
        }
    }
}

/// Whether `text` is one JSON value and nothing else; the parser's message if not.
pub(crate) fn check_json(text: &str) -> Result<(), String> {
    serde_json::from_str::<IgnoredAny>(text)
        .map(drop)
        .map_err(|e| e.to_string())
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
    fn any_single_json_value_is_json() {
        for text in ["1", "\"s\"", "[]", "{}", " null "] {
            assert_eq!(check_json(text), Ok(()), "{text}");
        }
        assert!(check_json("{} []").is_err());
    }
}
