//! The histograms and labelled counts behind `GET /metrics`, in the shapes of the
//! `prometheus-client` crate. Each part of the engine keeps the ones it measures
//! beside its counters (the store its appends and commit groups, the runtime its
//! guest calls and faults, the command handler its commands, the projection engine
//! its batches), and the HTTP API encodes them all at each scrape.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::time::Instant;

/// The labels of one series: (name, value) pairs, in the order they are printed.
pub type Labels = Vec<(&'static str, String)>;

/// Histograms of durations in seconds, one per set of labels.
pub type Latencies = Family<Labels, Histogram, fn() -> Histogram>;

/// Counters, one per set of labels.
pub type Counts = Family<Labels, Counter>;

/// A histogram of durations: buckets from 100 µs to about 26 s, each twice the last.
pub(crate) fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 19))
}

/// A histogram of sizes: buckets 1, 2, 4, ... 4096.
pub(crate) fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// Latency histograms with no series yet.
pub(crate) fn latencies() -> Latencies {
    Family::new_with_constructor(latency_histogram)
}

/// Record the time since `started` in `histogram`, in seconds.
pub(crate) fn observe_since(histogram: &Histogram, started: Instant) {
    histogram.observe(started.elapsed().as_secs_f64());
}

/// What the runtime measures of guest calls, shared by every module it loads.
#[derive(Debug)]
pub struct GuestMetrics {
    /// Seconds of each guest call, by module name.
    pub call_seconds: Latencies,
    /// Guest faults, by module name and kind of fault ([`crate::GuestFault::kind`]).
    pub faults: Counts,
}

impl Default for GuestMetrics {
    fn default() -> Self {
        GuestMetrics {
            call_seconds: latencies(),
            faults: Counts::default(),
        }
    }
}
