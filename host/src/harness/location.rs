//! Where something is in the YAML a spec was written in, and in the JSON the harness
//! sends.
//!
//! A spec is written in YAML, but a decider reads its command as JSON text the harness
//! serialised; a guest that cannot read it names a line and column of that text
//! (`at line 1 column 13`), which the spec's author never saw. [`json_path_at`] turns
//! such a position into the path of the value there (`data.quantity`), and
//! [`YamlLines`] finds the line that value (or any case) was written on in the spec
//! file, so a message points at the YAML instead.
//!
//! The YAML parser keeps no positions of the values it returns, only of its errors, so
//! [`YamlLines`] walks the document to the value with a visitor that fails there: the
//! parser gives that failure the position of the value it stopped at.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// One step of a path into a document: a mapping's key or a sequence's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// `label` followed by `path` in the harness's dotted syntax: `when.data.lines[0]`.
pub(crate) fn dotted(label: &str, path: &[Step]) -> String {
    let mut text = label.to_owned();
    for step in path {
        let _ = match step {
            Step::Key(key) => write!(text, ".{key}"),
            Step::Index(index) => write!(text, "[{index}]"),
        };
    }
    text
}

/// The text of a spec file, to find the lines its values were written on.
#[derive(Debug, Clone)]
pub(crate) struct YamlLines {
    text: Arc<str>,
}

impl YamlLines {
    pub(crate) fn new(text: &str) -> YamlLines {
        YamlLines { text: text.into() }
    }

    /// The line (1-based) of the value at `path` from the document's root; when the
    /// path leaves the document, the line of the last value on it that exists.
    pub(crate) fn line(&self, path: &[Step]) -> Option<usize> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(&self.text);
        match Locate(path).deserialize(deserializer) {
            Ok(()) => None,
            Err(stopped) => stopped.location().map(|at| at.line()),
        }
    }

    /// The line of the case at `index` of the file's `cases`.
    pub(crate) fn case(&self, index: usize) -> Option<usize> {
        self.line(&[Step::Key("cases".to_owned()), Step::Index(index)])
    }
}

/// Walks to the value at its path and fails there, so the parser's error carries the
/// value's position.
struct Locate<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The failure that marks the value found.
fn here<E: de::Error>() -> E {
    E::custom("here")
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("the value to locate")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Step::Key(wanted), rest)) = self.0.split_first() else {
            return Err(here());
        };
        while let Some(key) = map.next_key::<serde_yaml_ng::Value>()? {
            if key.as_str() == Some(wanted) {
                return map.next_value_seed(Locate(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(here())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Step::Index(wanted), rest)) = self.0.split_first() else {
            return Err(here());
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(here());
            }
        }
        match seq.next_element_seed(Locate(rest))? {
            Some(()) => Ok(()),
            None => Err(here()),
        }
    }

    // Any other value (a scalar) is where the walk stops: the default `visit_*`
    // methods fail, and that failure carries the scalar's position.
}

/// The path of the innermost value of the compact JSON `text` (no whitespace between
/// tokens, as `serde_json::to_string` writes it) that holds the character at byte
/// `offset`; `None` past the end. A key points at its field's value.
pub(crate) fn json_path_at(text: &str, offset: usize) -> Option<Vec<Step>> {
    enum Frame {
        Object { key: Option<String>, in_value: bool },
        Array { index: usize },
    }
    fn path(stack: &[Frame]) -> Vec<Step> {
        stack
            .iter()
            .filter_map(|frame| match frame {
                Frame::Object {
                    key: Some(key),
                    in_value: true,
                } => Some(Step::Key(key.clone())),
                Frame::Array { index } => Some(Step::Index(*index)),
                Frame::Object { .. } => None,
            })
            .collect()
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' => {
                if at == offset {
                    return Some(path(&stack));
                }
                stack.push(if bytes[at] == b'{' {
                    Frame::Object {
                        key: None,
                        in_value: false,
                    }
                } else {
                    Frame::Array { index: 0 }
                });
                at += 1;
            }
            b'}' | b']' => {
                stack.pop();
                if at == offset {
                    return Some(path(&stack));
                }
                at += 1;
            }
            b':' | b',' => {
                if at == offset {
                    return Some(path(&stack));
                }
                match stack.last_mut() {
                    Some(Frame::Object { key, in_value }) if bytes[at] == b',' => {
                        *key = None;
                        *in_value = false;
                    }
                    Some(Frame::Object { in_value, .. }) => *in_value = true,
                    Some(Frame::Array { index }) => *index += 1,
                    None => {}
                }
                at += 1;
            }
            b'"' => {
                let start = at;
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                let end = at.min(bytes.len() - 1);
                at += 1;
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Object {
                        in_value: false,
                        ..
                    })
                );
                if is_key {
                    let key: String = serde_json::from_str(&text[start..=end]).ok()?;
                    if (start..=end).contains(&offset) {
                        let mut path = path(&stack);
                        path.push(Step::Key(key));
                        return Some(path);
                    }
                    if let Some(Frame::Object { key: slot, .. }) = stack.last_mut() {
                        *slot = Some(key);
                    }
                } else if (start..=end).contains(&offset) {
                    return Some(path(&stack));
                }
            }
            _ => {
                let start = at;
                while at < bytes.len() && !b",:]}".contains(&bytes[at]) {
                    at += 1;
                }
                if (start..at).contains(&offset) {
                    return Some(path(&stack));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Step {
        Step::Key(name.to_owned())
    }

    #[test]
    fn a_position_in_compact_json_names_the_value_there() {
        let text = r#"{"type":"AddItem","data":{"lines":[1,{"q":"x"}],"n":null}}"#;
        let at = |needle: &str| json_path_at(text, text.find(needle).unwrap());
        assert_eq!(at("{\"type"), Some(vec![]));
        assert_eq!(at("\"type"), Some(vec![key("type")]));
        assert_eq!(at("AddItem"), Some(vec![key("type")]));
        assert_eq!(at("{\"lines"), Some(vec![key("data")]));
        assert_eq!(
            at("1,"),
            Some(vec![key("data"), key("lines"), Step::Index(0)])
        );
        assert_eq!(
            at("\"x\""),
            Some(vec![key("data"), key("lines"), Step::Index(1), key("q")])
        );
        assert_eq!(at("null"), Some(vec![key("data"), key("n")]));
        // serde_json reports a missing field at the closing brace of its object.
        assert_eq!(json_path_at(text, text.len() - 2), Some(vec![key("data")]));
        assert_eq!(json_path_at(text, text.len()), None);
    }

    #[test]
    fn values_are_found_on_the_lines_they_were_written_on() {
        let yaml = "\
match: exact
cases:
  - name: first
    when: {type: A}
    then: {events: []}
  - name: second
    given:
      - &opened {type: Opened, data: {id: 1}}
    when:
      type: B
      data:
        lines: [1, 2]
    then: {events: []}
";
        let lines = YamlLines::new(yaml);
        let when = |index: usize, rest: &[Step]| {
            let mut path = vec![key("cases"), Step::Index(index), key("when")];
            path.extend_from_slice(rest);
            lines.line(&path)
        };
        assert_eq!(lines.case(0), Some(3));
        assert_eq!(lines.case(1), Some(6));
        assert_eq!(when(0, &[]), Some(4));
        assert_eq!(when(1, &[]), Some(10));
        assert_eq!(
            when(1, &[key("data"), key("lines"), Step::Index(1)]),
            Some(12)
        );
        // A path that leaves the document stops at the last value on it.
        assert_eq!(when(1, &[key("data"), key("nothing")]), Some(12));
        assert_eq!(lines.case(7), Some(3), "the line of `cases`");
    }
}
