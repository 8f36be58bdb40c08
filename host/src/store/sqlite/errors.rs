//! How SQLite's errors become the engine's: as the cause of a storage error that says
//! what the store was doing.

use crate::{Error, Result};
use std::sync::Arc;

/// A rusqlite error as a storage error that says what the store was doing.
pub(super) fn failed(operation: &'static str) -> impl Fn(rusqlite::Error) -> Error + Copy {
    move |source| Error::Storage {
        operation,
        source: Arc::new(source),
    }
}

/// Name the operation a rusqlite call was part of.
pub(super) trait During<T> {
    fn during(self, operation: &'static str) -> Result<T>;
}

impl<T> During<T> for rusqlite::Result<T> {
    fn during(self, operation: &'static str) -> Result<T> {
        self.map_err(failed(operation))
    }
}
