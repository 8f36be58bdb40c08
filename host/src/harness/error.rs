//! The harness's own error: a spec that cannot be read or run, or an engine error met
//! while running one.

use std::path::PathBuf;

/// The result type of the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a test run (a failing case is a [`Verdict`](super::Verdict), not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed: the module did not load, or a call failed in a way that is
    /// not the module's answer.
    #[error(transparent)]
    Engine(#[from] crate::Error),
    /// A spec file is malformed: bad YAML, an unknown key, a command that is not JSON,
    /// a case that expects nothing, or a case for the other world.
    #[error(
        "spec file {}{}: {problem}",
        file.display(),
        case.as_ref().map(|case| format!(", case '{case}'")).unwrap_or_default()
    )]
    Spec {
        /// The spec file.
        file: PathBuf,
        /// The case, when the problem is inside one whose name is known.
        case: Option<String>,
        /// What is wrong, with the line and column where the YAML parser gives them.
        problem: String,
    },
    /// An ignore path is not in the harness's dotted path syntax.
    #[error("ignore path '{path}' is malformed: {problem}")]
    IgnorePath {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}
