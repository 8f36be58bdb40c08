//! How an expected JSON value is compared with what a module produced.
//!
//! Specs rarely want byte equality: a timestamp the module makes up, metadata a test does
//! not care about, fields a case is not about. [`Rules`] says how strictly to compare (a
//! [`Mode`]) and which parts to skip ([`IgnorePath`]s). The comparison reports every
//! difference as one line naming the field (`events[0].data.total: expected 3026, got
//! 3025`), so a failing case says what is wrong instead of printing two blobs.

use super::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;

/// How strictly expected objects are compared with actual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Objects have exactly the expected fields, arrays exactly the expected elements.
    #[default]
    Exact,
    /// Expected objects may omit fields (the actual ones may have more); arrays still
    /// have the expected length and compare element by element, each partially.
    Partial,
}

/// A part of a compared value to skip, in dotted path syntax.
///
/// A path is a sequence of steps, starting at the compared item (an event, or a
/// document): `name` (or `.name` after the first step) is an object field, `*` is any
/// field, `[3]` is an array element and `[*]` any element. `data.confirmedAt`,
/// `metadata`, `data.lines[*].addedAt` and `data.*.price` are paths. A path skips the
/// value it names and everything inside it, on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnorePath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    AnyField,
    Index(usize),
    AnyIndex,
}

/// Where the comparison is inside the compared item.
#[derive(Debug, Clone)]
enum At {
    Field(String),
    Index(usize),
}

impl IgnorePath {
    /// Parse `text` in the dotted path syntax.
    pub fn parse(text: &str) -> Result<IgnorePath> {
        parse_steps(text)
            .map(|steps| IgnorePath {
                text: text.to_owned(),
                steps,
            })
            .map_err(|problem| Error::IgnorePath {
                path: text.to_owned(),
                problem,
            })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches(&self, at: &[At]) -> bool {
        self.steps.len() == at.len()
            && self
                .steps
                .iter()
                .zip(at)
                .all(|(step, at)| match (step, at) {
                    (Step::Field(name), At::Field(field)) => name == field,
                    (Step::AnyField, At::Field(_)) | (Step::AnyIndex, At::Index(_)) => true,
                    (Step::Index(index), At::Index(at)) => index == at,
                    _ => false,
                })
    }
}

fn parse_steps(text: &str) -> std::result::Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (inside, after) = after
                .split_once(']')
                .ok_or_else(|| "an opening `[` has no closing `]`".to_owned())?;
            steps.push(match inside {
                "*" => Step::AnyIndex,
                index => Step::Index(index.parse().map_err(|_| {
                    format!("`[{index}]` is not an array index: use a number or `*`")
                })?),
            });
            rest = after;
            continue;
        }
        if !steps.is_empty() {
            rest = rest
                .strip_prefix('.')
                .ok_or_else(|| format!("expected `.` or `[` before `{rest}`"))?;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        steps.push(match name {
            "" => return Err("a field name is empty".to_owned()),
            "*" => Step::AnyField,
            name => Step::Field(name.to_owned()),
        });
        rest = after;
    }
    if steps.is_empty() {
        return Err("the path is empty".to_owned());
    }
    Ok(steps)
}

/// How a case compares expected values with actual ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    mode: Mode,
    ignore: Vec<IgnorePath>,
}

impl Rules {
    /// Exact comparison, nothing ignored: the default.
    pub fn exact() -> Rules {
        Rules::default()
    }

    /// Partial comparison (see [`Mode::Partial`]), nothing ignored.
    pub fn partial() -> Rules {
        Rules::exact().with_mode(Mode::Partial)
    }

    /// The same rules with another mode.
    pub fn with_mode(mut self, mode: Mode) -> Rules {
        self.mode = mode;
        self
    }

    /// The same rules, also skipping `path` (see [`IgnorePath`] for the syntax).
    pub fn ignoring(mut self, path: &str) -> Result<Rules> {
        self.ignore.push(IgnorePath::parse(path)?);
        Ok(self)
    }

    /// The same rules, also skipping an already parsed path.
    pub fn ignoring_path(mut self, path: IgnorePath) -> Rules {
        self.ignore.push(path);
        self
    }

    /// How strictly objects are compared.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The paths skipped.
    pub fn ignored(&self) -> &[IgnorePath] {
        &self.ignore
    }

    /// Compare `expected` with `actual`; each difference becomes one line starting
    /// with `label` followed by the path of the field that differs.
    pub(crate) fn diff(&self, label: &str, expected: &Value, actual: &Value) -> Vec<String> {
        let mut differences = Vec::new();
        self.diff_at(&mut Vec::new(), label, expected, actual, &mut differences);
        differences
    }

    fn is_ignored(&self, at: &[At]) -> bool {
        self.ignore.iter().any(|path| path.matches(at))
    }

    fn diff_at(
        &self,
        at: &mut Vec<At>,
        label: &str,
        expected: &Value,
        actual: &Value,
        differences: &mut Vec<String>,
    ) {
        if self.is_ignored(at) {
            return;
        }
        match (expected, actual) {
            (Value::Object(expected), Value::Object(actual)) => {
                for (key, expected) in expected {
                    at.push(At::Field(key.clone()));
                    match actual.get(key) {
                        Some(actual) => self.diff_at(at, label, expected, actual, differences),
                        None if !self.is_ignored(at) => differences.push(format!(
                            "{}: expected {}, got no such field",
                            path(label, at),
                            show(expected)
                        )),
                        None => {}
                    }
                    at.pop();
                }
                if self.mode == Mode::Exact {
                    for (key, actual) in actual.iter().filter(|(k, _)| !expected.contains_key(*k)) {
                        at.push(At::Field(key.clone()));
                        if !self.is_ignored(at) {
                            differences.push(format!(
                                "{}: expected no such field, got {}",
                                path(label, at),
                                show(actual)
                            ));
                        }
                        at.pop();
                    }
                }
            }
            (Value::Array(expected), Value::Array(actual)) => {
                if expected.len() != actual.len() {
                    differences.push(format!(
                        "{}: expected {} elements, got {}",
                        path(label, at),
                        expected.len(),
                        actual.len()
                    ));
                    return;
                }
                for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                    at.push(At::Index(index));
                    self.diff_at(at, label, expected, actual, differences);
                    at.pop();
                }
            }
            (Value::Number(expected), Value::Number(actual)) if same_number(expected, actual) => {}
            (expected, actual) if expected == actual => {}
            (expected, actual) => differences.push(format!(
                "{}: expected {}, got {}",
                path(label, at),
                show(expected),
                show(actual)
            )),
        }
    }
}

/// `1` and `1.0` are the same number, whichever way YAML or the guest wrote it.
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i128(), b.as_i128()) {
        (Some(a), Some(b)) => a == b,
        _ => a.as_f64() == b.as_f64(),
    }
}

fn path(label: &str, at: &[At]) -> String {
    let mut path = label.to_owned();
    for step in at {
        match step {
            At::Field(name) => {
                let _ = write!(path, ".{name}");
            }
            At::Index(index) => {
                let _ = write!(path, "[{index}]");
            }
        }
    }
    path
}

/// A value as compact JSON, shortened when long.
pub(crate) fn show(value: &Value) -> String {
    const SHOWN: usize = 120;
    let text = value.to_string();
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
