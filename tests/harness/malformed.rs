//! A malformed spec file is an error naming the file, the case when known, and the
//! problem, with the line and column where the YAML parser gives them.

use super::load_spec;
use refold::harness::{Error, SpecFile};
use std::path::Path;

/// The case and problem of a spec error about `file`.
fn spec_error(result: refold::harness::Result<SpecFile>, file: &str) -> (Option<String>, String) {
    match result {
        Err(Error::Spec {
            file: path,
            case,
            problem,
        }) => {
            assert!(path.ends_with(file), "the error names {}", path.display());
            (case, problem)
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}

#[test]
fn bad_yaml_syntax_names_the_file_line_and_column() {
    let file = "tests/fixtures/malformed-syntax.yaml";
    let (case, problem) = spec_error(load_spec(file), file);
    assert_eq!(case, None);
    assert!(
        problem.starts_with("did not find expected '-' indicator at line 8 column 4"),
        "{problem}"
    );
}

#[test]
fn an_unknown_key_names_the_case_and_the_key() {
    let file = "tests/fixtures/malformed-unknown-key.yaml";
    let error = load_spec(file).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("malformed-unknown-key.yaml, case 'confirming an empty cart': "),
        "{message}"
    );
    let (case, problem) = spec_error(Err(error), file);
    assert_eq!(case.as_deref(), Some("confirming an empty cart"));
    assert!(
        problem.starts_with("cases[1]: unknown field `expect`, expected one of"),
        "{problem}"
    );
    assert!(problem.ends_with("at line 9 column 5"), "{problem}");
}

#[test]
fn a_command_that_is_not_json_names_the_case() {
    let file = "tests/fixtures/malformed-command.yaml";
    let (case, problem) = spec_error(load_spec(file), file);
    assert_eq!(case.as_deref(), Some("confirming with a broken command"));
    assert!(
        problem.starts_with(
            "`when` is a string but not JSON text (expected value at line 1 column 1)"
        ),
        "{problem}"
    );
}

#[test]
fn a_case_expecting_neither_events_nor_a_rejection_names_the_case() {
    let file = "tests/fixtures/malformed-expects-nothing.yaml";
    let (case, problem) = spec_error(load_spec(file), file);
    assert_eq!(case.as_deref(), Some("confirming without an expectation"));
    assert_eq!(
        problem,
        "`then` expects neither events nor a rejection: give `events` (`[]` for none), `rejection` or `invalid`"
    );
}

#[test]
fn other_mistakes_are_named_too() {
    let parse = |text: &str| {
        spec_error(
            SpecFile::parse(Path::new("inline.yaml"), text),
            "inline.yaml",
        )
    };
    let decider_case = "cases:\n  - name: c\n    when: {type: X}\n";

    let (_, problem) = parse(&format!(
        "{decider_case}    then: {{events: [], rejection: true}}\n"
    ));
    assert!(
        problem.starts_with("`then` has both `events` and `rejection`"),
        "{problem}"
    );

    let (_, problem) = parse(&format!("{decider_case}    then: {{rejection: false}}\n"));
    assert!(
        problem.starts_with("`then.rejection` must be `true` or the text"),
        "{problem}"
    );

    let (_, problem) = parse(&format!("{decider_case}    then: {{documents: {{}}}}\n"));
    assert!(
        problem.starts_with("`then` expects documents, but there is a `when`"),
        "{problem}"
    );

    let (_, problem) = parse(&format!(
        "{decider_case}    then: {{events: [], documents: {{}}}}\n"
    ));
    assert!(
        problem.starts_with("`then` expects documents, but there is a `when`"),
        "{problem}"
    );

    let (_, problem) = parse("cases:\n  - name: c\n    then: {events: []}\n");
    assert!(
        problem.starts_with(
            "`then` expects events, a rejection or an invalid command, but there is no `when`"
        ),
        "{problem}"
    );

    let (_, problem) = parse(&format!(
        "{decider_case}    then: {{rejection: true, invalid: true}}\n"
    ));
    assert_eq!(
        problem,
        "`then` has both `rejection` and `invalid`: a command gives one answer"
    );

    let (_, problem) = parse(&format!("{decider_case}    then: {{invalid: 3}}\n"));
    assert_eq!(
        problem,
        "`then.invalid` must be `true` or the text the module's answer contains, not a number"
    );

    let (case, problem) = parse(&format!(
        "{decider_case}    ignore: ['data..total']\n    then: {{events: []}}\n"
    ));
    assert_eq!(case.as_deref(), Some("c"));
    assert_eq!(
        problem,
        "ignore path 'data..total' is malformed: a field name is empty"
    );

    let (_, problem) = parse(&format!(
        "match: fuzzy\n{decider_case}    then: {{events: []}}\n"
    ));
    assert!(
        problem.starts_with("match: unknown variant `fuzzy`, expected `exact` or `partial`"),
        "{problem}"
    );

    let (case, problem) = parse(&format!(
        "{decider_case}    then: {{events: []}}\n  - name: c\n    when: {{type: X}}\n    then: {{events: []}}\n"
    ));
    assert_eq!(case.as_deref(), Some("c"));
    assert_eq!(
        problem,
        "another case has the same name: names must be unique"
    );

    let (_, problem) = parse(
        "cases:\n  - name: c\n    given: [{type: X, data: [1]}]\n    when: {type: X}\n    then: {events: []}\n",
    );
    assert_eq!(
        problem,
        "given[0]: `data` must be a mapping (a JSON object), not a list"
    );

    let (case, problem) = parse("cases: []\n");
    assert_eq!(case, None);
    assert_eq!(problem, "there are no cases: add some under `cases`");
}
