//! The append guard, [`ExpectedVersion`]: a leaf both the store and the error type use.

use std::fmt;

/// The append guard: what the stream's version must be for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must have at least one event.
    Exists,
    /// The stream's version must be exactly this (0 = must not exist).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

impl std::str::FromStr for ExpectedVersion {
    type Err = String;

    /// `any`, `no-stream`, `exists`, or a version number.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "any" => Ok(ExpectedVersion::Any),
            "no-stream" => Ok(ExpectedVersion::NoStream),
            "exists" => Ok(ExpectedVersion::Exists),
            number => number.parse().map(ExpectedVersion::Exact).map_err(|_| {
                format!(
                    "expected version '{text}' is not any, no-stream, exists or a version number"
                )
            }),
        }
    }
}
