//! How PostgreSQL's errors become the engine's: as the cause of a storage error that
//! says what the store was doing.

use crate::{Error, Result};
use std::sync::Arc;
use tokio_postgres::error::SqlState;

/// Name the operation a database call was part of.
pub(super) trait During<T> {
    fn during(self, operation: &'static str) -> Result<T>;
}

impl<T> During<T> for Result<T, tokio_postgres::Error> {
    fn during(self, operation: &'static str) -> Result<T> {
        self.map_err(|source| Error::Storage {
            operation,
            source: Arc::new(source),
        })
    }
}

impl<T> During<T> for Result<T, deadpool_postgres::PoolError> {
    fn during(self, operation: &'static str) -> Result<T> {
        self.map_err(|source| Error::Storage {
            operation,
            source: Arc::new(source),
        })
    }
}

/// Whether `error` is a unique (or primary key) constraint failing.
pub(super) fn is_unique(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// What a write whose `COMMIT` failed is told: nothing of it was stored.
pub(super) fn commit_failed(error: tokio_postgres::Error) -> Error {
    Error::CommitFailed {
        source: Arc::new(error),
    }
}
