//! The spec file format: named given/when/then cases for one module, in YAML.
//!
//! Spec files make a module's rules data, so the same examples test a module written
//! in any language, and `refold test` runs them without writing Rust. Every key is
//! checked: an unknown one is an error, not a silently skipped expectation.
//!
//! ```yaml
//! match: exact              # the file's default: exact (default) or partial
//! ignore: [metadata]        # paths every case skips (see IgnorePath)
//! cases:
//!   - name: confirming uses the state's totals
//!     given:
//!       - type: CartOpened
//!         data: {cartId: cart-0}
//!         stream: cart-0    # optional; default spec-stream
//!         metadata: {}      # optional
//!         partition: default # optional
//!         tags: [cart:cart-0] # optional: what a query decider's query matches
//!     when: {type: ConfirmCart, data: {cartId: cart-0}}   # or a string of JSON text
//!     match: partial        # optional: this case's mode
//!     ignore: [data.confirmedAt]  # optional: added to the file's
//!     then:
//!       events:             # or `rejection: true` / `rejection: "text it contains"`,
//!                           # or `invalid: true` / `invalid: "text"` (invalid command)
//!         - type: CartConfirmed
//!           data: {itemCount: 2}
//!           stream: cart-0  # optional: the stream a query decider names
//!           tags: [cart:cart-0] # optional: exactly these tags
//!   - name: a projection case has no `when`
//!     given: [...]
//!     then:
//!       documents:          # collection -> id -> document (null: must not exist)
//!         cart_summary:
//!           cart-0: {itemCount: 2}
//!       partitions:         # optional: documents of other partitions, same shape
//!         tenant-b: {cart_summary: {cart-0: null}}
//!   - name: an upcaster case has no `when` and expects `upcast`
//!     given:                # the events as stored
//!       - {type: ItemAdded, data: {unitPrice: 117}}
//!     then:
//!       upcast:             # the events readers see, in order
//!         - {type: ItemAdded, data: {price: {amount: 117, currency: EUR}}}
//! ```
//!
//! A decider or projection spec may read its `given` events through upcasters, as the
//! engine does with them deployed: `upcasters: [cart-upcaster]` at the top names them,
//! and [`SpecFile::run_with`] (`refold test --upcaster cart-upcaster=FILE`) is given
//! the modules. The `given` events are then the stored ones.

use super::decider::{DeciderExpectation, DeciderSpec, ExpectedEvent};
use super::location::{Step, YamlLines};
use super::projection::{ExpectedDocuments, ProjectionSpec};
use super::upcaster::UpcasterSpec;
use super::{Error, Result};
use super::{GivenEvent, IgnorePath, Mode, ModuleUnderTest, Rules, Spec, Verdict};
use crate::runtime::World;
use crate::store::DEFAULT_PARTITION;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A parsed, checked spec file.
#[derive(Debug, Clone)]
pub struct SpecFile {
    path: PathBuf,
    lines: YamlLines,
    upcasters: Vec<String>,
    cases: Vec<Case>,
}

/// The outcome of one case of a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// The line of the file the case starts on (1-based), where the YAML parser
    /// gives it.
    pub line: Option<usize>,
    /// What differed, if anything.
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
struct Case {
    /// Its index in the file's `cases`.
    index: usize,
    name: String,
    given: Vec<GivenEvent>,
    rules: Rules,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Decider {
        command: Value,
        expected: DeciderExpectation,
    },
    Projection(ExpectedDocuments),
    Upcaster(Vec<ExpectedEvent>),
}

impl Kind {
    fn world(&self) -> World {
        match self {
            Kind::Decider { .. } => World::Decider,
            Kind::Projection(_) => World::Projection,
            Kind::Upcaster(_) => World::Upcaster,
        }
    }

    /// What a case of this kind looks like, for an error about the wrong world.
    fn shape(&self) -> &'static str {
        match self {
            Kind::Decider { .. } => {
                "a projection case has no `when` and expects `documents`; an upcaster case has no `when` and expects `upcast`"
            }
            Kind::Projection(_) | Kind::Upcaster(_) => {
                "a decider case needs a `when` and expects `events`, a `rejection` or `invalid`"
            }
        }
    }
}

impl SpecFile {
    /// Read and check the spec file at `path`.
    pub fn load(path: &Path) -> Result<SpecFile> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
            path: path.to_owned(),
            source,
        })?;
        SpecFile::parse(path, &text)
    }

    /// Check the spec in `text`; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<SpecFile> {
        let error = |case: Option<&str>, problem: String| Error::Spec {
            file: path.to_owned(),
            case: case.map(str::to_owned),
            problem,
        };
        let raw: RawFile =
            serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text))
                .map_err(|e| error(case_name(text, e.path()).as_deref(), e.inner().to_string()))?;
        if raw.cases.is_empty() {
            return Err(error(
                None,
                "there are no cases: add some under `cases`".to_owned(),
            ));
        }
        let file_rules =
            rules(Rules::default(), raw.mode, &raw.ignore).map_err(|p| error(None, p))?;
        let mut names = BTreeSet::new();
        let mut cases = Vec::with_capacity(raw.cases.len());
        for (index, raw_case) in raw.cases.into_iter().enumerate() {
            if !names.insert(raw_case.name.clone()) {
                return Err(error(
                    Some(&raw_case.name),
                    "another case has the same name: names must be unique".to_owned(),
                ));
            }
            let name = raw_case.name.clone();
            cases.push(case(index, raw_case, &file_rules).map_err(|p| error(Some(&name), p))?);
        }
        Ok(SpecFile {
            path: path.to_owned(),
            lines: YamlLines::new(text),
            upcasters: raw.upcasters,
            cases,
        })
    }

    /// The file the spec was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The upcasters the file's `given` events are read through, by name.
    pub fn upcasters(&self) -> &[String] {
        &self.upcasters
    }

    /// Run every case against `module`, in file order. A case for another world
    /// (a decider case for a projection module, say) is an error, and so is a file
    /// that names upcasters (see [`run_with`](Self::run_with)).
    pub fn run(&self, module: &ModuleUnderTest<'_>) -> Result<Vec<CaseReport>> {
        self.run_with(module, &[])
    }

    /// [`run`](Self::run), reading the `given` events through the upcasters the file
    /// names, found among `upcasters` by module name (others are not used).
    pub fn run_with(
        &self,
        module: &ModuleUnderTest<'_>,
        upcasters: &[&ModuleUnderTest<'_>],
    ) -> Result<Vec<CaseReport>> {
        let named = self
            .upcasters
            .iter()
            .map(|name| {
                upcasters
                    .iter()
                    .find(|u| u.module().info().name == *name)
                    .copied()
                    .ok_or_else(|| Error::Spec {
                        file: self.path.clone(),
                        case: None,
                        problem: format!(
                            "the file reads its events through upcaster '{name}', which was not given: pass it (refold test --upcaster {name}=FILE)"
                        ),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let info = module.module().info();
        if let Some(case) = self.cases.iter().find(|c| c.kind.world() != info.world) {
            return Err(Error::Spec {
                file: self.path.clone(),
                case: Some(case.name.clone()),
                problem: format!(
                    "this is a {} case, but module '{}' is a {} module: {}",
                    case.kind.world().name(),
                    info.name,
                    info.world.name(),
                    case.kind.shape()
                ),
            });
        }
        self.cases
            .iter()
            .map(|case| {
                Ok(CaseReport {
                    name: case.name.clone(),
                    line: self.lines.case(case.index),
                    verdict: case.run(module, &self.lines, &named)?,
                })
            })
            .collect()
    }
}

impl Case {
    fn run(
        &self,
        module: &ModuleUnderTest<'_>,
        lines: &YamlLines,
        upcasters: &[&ModuleUnderTest<'_>],
    ) -> Result<Verdict> {
        match &self.kind {
            Kind::Decider { command, expected } => self
                .spec(DeciderSpec::new(module), upcasters)?
                .when(command.clone())
                .written_at(
                    lines.clone(),
                    vec![
                        Step::Key("cases".to_owned()),
                        Step::Index(self.index),
                        Step::Key("when".to_owned()),
                    ],
                )
                .then(expected),
            Kind::Projection(expected) => self
                .spec(ProjectionSpec::new(module), upcasters)?
                .then_documents(expected),
            Kind::Upcaster(expected) => UpcasterSpec::new(module)
                .given(self.given.iter().cloned())
                .matching(self.rules.clone())
                .then_events(expected.iter().cloned()),
        }
    }

    /// `spec` with this case's history and rules, reading through `upcasters`.
    fn spec<'m, 'r, W>(
        &self,
        spec: Spec<'m, 'r, W>,
        upcasters: &[&ModuleUnderTest<'_>],
    ) -> Result<Spec<'m, 'r, W>> {
        let spec = spec
            .given(self.given.iter().cloned())
            .matching(self.rules.clone());
        if upcasters.is_empty() {
            Ok(spec)
        } else {
            spec.through(upcasters)
        }
    }
}

/// The name of the case an error's path points into, if the YAML says it.
fn case_name(text: &str, path: &serde_path_to_error::Path) -> Option<String> {
    let mut segments = path.iter();
    let index = match (segments.next(), segments.next()) {
        (
            Some(serde_path_to_error::Segment::Map { key }),
            Some(serde_path_to_error::Segment::Seq { index }),
        ) if key == "cases" => *index,
        _ => return None,
    };
    let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    document["cases"][index]["name"].as_str().map(str::to_owned)
}

/// `base` with `mode` (when given) and `ignore` added.
fn rules(base: Rules, mode: Option<Mode>, ignore: &[String]) -> std::result::Result<Rules, String> {
    let rules = match mode {
        Some(mode) => base.with_mode(mode),
        None => base,
    };
    ignore.iter().try_fold(rules, |rules, path| {
        IgnorePath::parse(path)
            .map(|path| rules.ignoring_path(path))
            .map_err(|e| e.to_string())
    })
}

/// A checked case, or what is wrong with it.
fn case(index: usize, raw: RawCase, file_rules: &Rules) -> std::result::Result<Case, String> {
    let rules = rules(file_rules.clone(), raw.mode, &raw.ignore)?;
    let given = raw
        .given
        .into_iter()
        .enumerate()
        .map(|(index, event)| given_event(event).map_err(|p| format!("given[{index}]: {p}")))
        .collect::<std::result::Result<_, _>>()?;
    let then = raw.then;
    if let Some(upcast) = then.upcast {
        if raw.when.is_some()
            || then.events.is_some()
            || then.rejection.is_some()
            || then.invalid.is_some()
            || then.documents.is_some()
            || then.partitions.is_some()
        {
            return Err("`then` expects `upcast`, which is all an upcaster case has: no `when`, and no `events`, `rejection`, `invalid` or `documents`".to_owned());
        }
        return Ok(Case {
            index,
            name: raw.name,
            given,
            rules,
            kind: Kind::Upcaster(expected_events(upcast)),
        });
    }
    let answers: Vec<&str> = [
        ("events", then.events.is_some()),
        ("rejection", then.rejection.is_some()),
        ("invalid", then.invalid.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect();
    if let Some((last, others @ [_, ..])) = answers.split_last() {
        return Err(format!(
            "`then` has {}`{}` and `{last}`: a command gives one answer",
            if others.len() == 1 { "both " } else { "" },
            others.join("`, `")
        ));
    }
    let kind = match raw.when {
        None if !answers.is_empty() => {
            return Err("`then` expects events, a rejection or an invalid command, but there is no `when`: a decider case needs a command".to_owned());
        }
        Some(_) if then.documents.is_some() || then.partitions.is_some() => {
            return Err("`then` expects documents, but there is a `when`: a projection case has only `given` and `then.documents`".to_owned());
        }
        Some(when) => Kind::Decider {
            command: command(when)?,
            expected: decider_expectation(then.events, then.rejection, then.invalid)?,
        },
        None => Kind::Projection(expected_documents(then.documents, then.partitions)?),
    };
    Ok(Case {
        index,
        name: raw.name,
        given,
        rules,
        kind,
    })
}

fn given_event(raw: RawEvent) -> std::result::Result<GivenEvent, String> {
    require_object("data", &raw.data)?;
    let mut event = GivenEvent::new(&raw.event_type, raw.data);
    if let Some(metadata) = raw.metadata {
        require_object("metadata", &metadata)?;
        event = event.with_metadata(metadata);
    }
    if let Some(stream) = raw.stream {
        event = event.in_stream(&stream);
    }
    if let Some(partition) = raw.partition {
        event = event.in_partition(&partition);
    }
    if let Some(tags) = raw.tags {
        event = event.with_tags(tags);
    }
    Ok(event)
}

fn require_object(what: &str, value: &Value) -> std::result::Result<(), String> {
    match value {
        Value::Object(_) => Ok(()),
        other => Err(format!(
            "`{what}` must be a mapping (a JSON object), not {}",
            kind_of(other)
        )),
    }
}

/// The command of `when`: a mapping, or a string holding a JSON object.
fn command(when: Value) -> std::result::Result<Value, String> {
    let command = match when {
        Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            format!("`when` is a string but not JSON text ({e}): write the command as a YAML mapping or as JSON")
        })?,
        other => other,
    };
    require_object("when", &command)?;
    Ok(command)
}

fn decider_expectation(
    events: Option<Vec<RawExpectedEvent>>,
    rejection: Option<Value>,
    invalid: Option<Value>,
) -> std::result::Result<DeciderExpectation, String> {
    if let Some(events) = events {
        return Ok(DeciderExpectation::Events(expected_events(events)));
    }
    match (rejection, invalid) {
        (Some(rejection), _) => {
            refusal("rejection", rejection).map(DeciderExpectation::Rejection)
        }
        (None, Some(invalid)) => refusal("invalid", invalid).map(DeciderExpectation::Invalid),
        (None, None) => Err(
            "`then` expects neither events nor a rejection: give `events` (`[]` for none), `rejection` or `invalid`"
                .to_owned(),
        ),
    }
}

/// `then.rejection` or `then.invalid`: `true` for any, or the text the message contains.
fn refusal(key: &str, value: Value) -> std::result::Result<Option<String>, String> {
    match value {
        Value::Bool(true) => Ok(None),
        Value::String(text) => Ok(Some(text)),
        other => Err(format!(
            "`then.{key}` must be `true` or the text the {} contains, not {}",
            if key == "invalid" {
                "module's answer"
            } else {
                "rejection"
            },
            kind_of(&other)
        )),
    }
}

fn expected_events(events: Vec<RawExpectedEvent>) -> Vec<ExpectedEvent> {
    events
        .into_iter()
        .map(|raw| {
            let event = match raw.data {
                Some(data) => ExpectedEvent::new(&raw.event_type, data),
                None => ExpectedEvent::of_type(&raw.event_type),
            };
            let event = match raw.metadata {
                Some(metadata) => event.with_metadata(metadata),
                None => event,
            };
            let event = match raw.stream {
                Some(stream) => event.in_stream(&stream),
                None => event,
            };
            match raw.tags {
                Some(tags) => event.with_tags(tags),
                None => event,
            }
        })
        .collect()
}

fn expected_documents(
    documents: Option<Collections>,
    partitions: Option<BTreeMap<String, Collections>>,
) -> std::result::Result<ExpectedDocuments, String> {
    if documents.is_none() && partitions.is_none() {
        return Err("`then` expects nothing: give `events` or `rejection` (with a `when`) for a decider case, `documents` for a projection case".to_owned());
    }
    let default = documents.map(|d| (DEFAULT_PARTITION.to_owned(), d));
    let mut expected = ExpectedDocuments::new();
    for (partition, collections) in default.into_iter().chain(partitions.unwrap_or_default()) {
        for (collection, ids) in collections {
            for (id, document) in ids {
                if let Some(document) = &document {
                    require_object(&format!("{collection}.{id}"), document)?;
                }
                expected = expected.in_partition(&partition, &collection, &id, document);
            }
        }
    }
    Ok(expected)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Documents by collection, then id; `None` (YAML `null`): must not exist.
type Collections = BTreeMap<String, BTreeMap<String, Option<Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "match")]
    mode: Option<Mode>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    upcasters: Vec<String>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    given: Vec<RawEvent>,
    when: Option<Value>,
    #[serde(rename = "match")]
    mode: Option<Mode>,
    #[serde(default)]
    ignore: Vec<String>,
    then: RawThen,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "type")]
    event_type: String,
    data: Value,
    stream: Option<String>,
    metadata: Option<Value>,
    partition: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThen {
    events: Option<Vec<RawExpectedEvent>>,
    rejection: Option<Value>,
    invalid: Option<Value>,
    documents: Option<Collections>,
    partitions: Option<BTreeMap<String, Collections>>,
    upcast: Option<Vec<RawExpectedEvent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectedEvent {
    #[serde(rename = "type")]
    event_type: String,
    data: Option<Value>,
    metadata: Option<Value>,
    stream: Option<String>,
    tags: Option<Vec<String>>,
}
