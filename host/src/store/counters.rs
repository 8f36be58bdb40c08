//! The work counters every backend keeps, and the [`StoreMetrics`] read from them: one
//! set of fields, so both backends report the same figures the same way; and the
//! histograms of their appends' latency and their commit groups' sizes.

use super::StoreMetrics;
use crate::metrics::{latency_histogram, observe_since, size_histogram};
use prometheus_client::metrics::histogram::Histogram;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::time::Instant;
use tracing::Instrument;

/// A store's histograms, for `GET /metrics`.
#[derive(Debug, Clone)]
pub struct StoreHistograms {
    /// Seconds from an append's call to its commit (or refusal).
    pub append_seconds: Histogram,
    /// Writes committed together by each group commit.
    pub group_size: Histogram,
}

impl Default for StoreHistograms {
    fn default() -> Self {
        StoreHistograms {
            append_seconds: latency_histogram(),
            group_size: size_histogram(),
        }
    }
}

/// A store's counters, shared by its writer (or committer) and its readers.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) histograms: StoreHistograms,
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

impl Counters {
    /// Run the append `append` of `streams` streams inside an `append` span, and
    /// record how long it took.
    pub(super) async fn timed_append<T>(
        &self,
        streams: usize,
        append: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let outcome = append
            .instrument(tracing::info_span!("append", streams))
            .await;
        observe_since(&self.histograms.append_seconds, started);
        outcome
    }

    /// Record a group commit of `writes` writes.
    pub(super) fn grouped(&self, writes: usize) {
        self.histograms.group_size.observe(writes as f64);
    }
}
