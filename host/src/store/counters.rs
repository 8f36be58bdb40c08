//! The work counters every backend keeps, and the [`StoreMetrics`] read from them: one
//! set of fields, so both backends report the same figures the same way.

use super::StoreMetrics;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

/// A store's counters, shared by its writer (or committer) and its readers.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) appends: AtomicU64,
    pub(super) events_appended: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) conflicts: AtomicU64,
    pub(super) events_read: AtomicU64,
    pub(super) writes_submitted: AtomicU64,
    pub(super) writes_grouped: AtomicU64,
}

impl Counters {
    /// The counters now.
    pub(super) fn metrics(&self) -> StoreMetrics {
        StoreMetrics {
            appends: self.appends.load(Relaxed),
            events_appended: self.events_appended.load(Relaxed),
            commits: self.commits.load(Relaxed),
            conflicts: self.conflicts.load(Relaxed),
            events_read: self.events_read.load(Relaxed),
            writes_submitted: self.writes_submitted.load(Acquire),
            writes_grouped: self.writes_grouped.load(Acquire),
        }
    }
}
