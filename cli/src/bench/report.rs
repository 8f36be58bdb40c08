//! What the suite reports, and how: figures and job reports, medians over runs, the
//! two tables and the JSON lines of `docs/workloads.md`'s output format.
//!
//! A job reports raw per-run figures; everything that combines runs (medians, spread,
//! pairing a figure with its baselines) happens here, in the parent process, so the
//! statistics are computed one way for every workload.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Who produced a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum System {
    /// Refold, through its public API.
    #[serde(rename = "refold")]
    Refold,
    /// The same work with raw rusqlite and prepared statements.
    #[serde(rename = "raw-sqlite")]
    RawSqlite,
    /// The same guest logic compiled into the host (no wasm boundary).
    #[serde(rename = "native")]
    Native,
    /// The same requests made through the library in the same process (no HTTP).
    #[serde(rename = "in-process")]
    InProcess,
}

impl System {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            System::Refold => "refold",
            System::RawSqlite => "raw-sqlite",
            System::Native => "native",
            System::InProcess => "in-process",
        }
    }
}

/// What a figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Events appended, folded or applied per second.
    EventsPerS,
    /// Commands handled per second.
    CommandsPerS,
    /// Workflow inputs handled per second (each with its steps written and its
    /// commands sent).
    InputsPerS,
    /// Median latency, in milliseconds.
    MedianMs,
    /// 99th percentile latency (nearest rank), in milliseconds.
    P99Ms,
}

impl Metric {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::EventsPerS => "events_per_s",
            Metric::CommandsPerS => "commands_per_s",
            Metric::InputsPerS => "inputs_per_s",
            Metric::MedianMs => "median_ms",
            Metric::P99Ms => "p99_ms",
        }
    }
}

/// One number a job measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Who produced it.
    pub system: System,
    /// The workload or ceiling, e.g. `W3-1k` or `BULK`.
    pub workload: String,
    /// What it measures.
    pub metric: Metric,
    /// The value.
    pub value: f64,
}

/// The SQLite settings a job observed on its connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// `journal_mode` (`wal`).
    pub journal: String,
    /// `synchronous` (`full` or `normal`).
    pub synchronous: String,
    /// The SQLite library version.
    pub sqlite: String,
}

/// Everything one job process reports to the suite, as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// The job's name.
    pub job: String,
    /// `FULL` or `NORMAL`.
    pub variant: String,
    /// The run number, from 1.
    pub run: u32,
    /// `full` or `quick` sizes.
    pub scale: String,
    /// SQLite settings observed.
    pub observed: Observed,
    /// What it measured.
    pub figures: Vec<Figure>,
    /// The process's peak resident memory (`VmHWM`) at its end, in KiB.
    pub peak_rss_kib: u64,
}

/// The process's peak resident memory so far, in KiB (0 where `/proc` has none).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Median and 99th percentile of a series of latencies.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    /// Median, in milliseconds.
    pub median_ms: f64,
    /// 99th percentile by nearest rank, in milliseconds.
    pub p99_ms: f64,
}

impl Latencies {
    /// The summary of `timings` (zeros when empty).
    pub fn of(timings: &[Duration]) -> Latencies {
        let mut ms: Vec<f64> = timings.iter().map(|t| t.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Latencies {
            median_ms: median_sorted(&ms),
            p99_ms: nearest_rank(&ms, 99.0),
        }
    }
}

/// The median of sorted values (mean of the middle two for an even count; 0 if none).
fn median_sorted(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

/// The `p`-th percentile of sorted values by nearest rank: the smallest value with at
/// least `p`% of the values at or below it (0 if none).
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A line of the output format: one figure of one run.
#[derive(Serialize)]
struct FigureLine<'a> {
    system: &'a str,
    variant: &'a str,
    run: u32,
    workload: &'a str,
    metric: &'a str,
    value: f64,
}

/// The per-run line of the output format: the settings observed.
#[derive(Serialize)]
struct InfoLine<'a> {
    system: &'a str,
    variant: &'a str,
    run: u32,
    info: Info<'a>,
}

#[derive(Serialize)]
struct Info<'a> {
    journal: &'a str,
    synchronous: &'a str,
    sqlite: &'a str,
    /// `full`, or `quick` when the sizes are reduced.
    scale: &'a str,
}

/// The JSON lines of `reports`: for each variant and run, one info line per system
/// that reported in it, then every figure.
pub fn json_lines(reports: &[JobReport]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut announced: Vec<(&str, u32, System)> = Vec::new();
    for report in reports {
        for figure in &report.figures {
            let key = (report.variant.as_str(), report.run, figure.system);
            if !announced.contains(&key) {
                announced.push(key);
                lines.push(to_line(&InfoLine {
                    system: figure.system.name(),
                    variant: &report.variant,
                    run: report.run,
                    info: Info {
                        journal: &report.observed.journal,
                        synchronous: &report.observed.synchronous,
                        sqlite: &report.observed.sqlite,
                        scale: &report.scale,
                    },
                }));
            }
        }
        for figure in &report.figures {
            lines.push(to_line(&FigureLine {
                system: figure.system.name(),
                variant: &report.variant,
                run: report.run,
                workload: &figure.workload,
                metric: figure.metric.name(),
                value: figure.value,
            }));
        }
    }
    lines
}

fn to_line(line: &impl Serialize) -> String {
    serde_json::to_string(line).expect("report lines are plain JSON")
}

/// One figure over every run: its per-run values and the peak memory of the jobs that
/// produced it.
struct Series {
    system: System,
    variant: String,
    workload: String,
    metric: Metric,
    values: Vec<f64>,
    peak_rss_kib: Vec<f64>,
}

impl Series {
    fn median(&self) -> f64 {
        median(&self.values)
    }
}

/// Every figure's series, in the order the figures first appeared.
fn series(reports: &[JobReport]) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    let mut index: HashMap<(System, String, String, Metric), usize> = HashMap::new();
    for report in reports {
        for figure in &report.figures {
            let key = (
                figure.system,
                report.variant.clone(),
                figure.workload.clone(),
                figure.metric,
            );
            let at = *index.entry(key).or_insert_with(|| {
                all.push(Series {
                    system: figure.system,
                    variant: report.variant.clone(),
                    workload: figure.workload.clone(),
                    metric: figure.metric,
                    values: Vec::new(),
                    peak_rss_kib: Vec::new(),
                });
                all.len() - 1
            });
            all[at].values.push(figure.value);
            all[at].peak_rss_kib.push(report.peak_rss_kib as f64);
        }
    }
    all
}

/// The figures a Refold figure is compared to: the same workload and metric by native
/// logic and by raw SQLite, and for the append workloads the BULK ceiling.
fn baselines_of<'a>(figure: &Series, all: &'a [Series]) -> Vec<&'a Series> {
    let bulk = matches!(figure.workload.as_str(), "W1" | "W1-64" | "W2" | "W2-batch");
    all.iter()
        .filter(|other| {
            other.variant == figure.variant
                && other.metric == figure.metric
                && other.system != System::Refold
                && (other.workload == figure.workload || (bulk && other.workload == "BULK"))
        })
        .collect()
}

/// The two tables: medians over runs (each Refold figure with each of its baselines
/// and the ratio refold / baseline, then the ceilings), and the number of runs with
/// the max/min spread of every figure.
pub fn tables(reports: &[JobReport]) -> String {
    let all = series(reports);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<19} {:<7} {:<14} {:>11} {:<24} {:>11} {:>6} {:>9}",
        "workload", "variant", "metric", "refold", "baseline", "value", "ratio", "peak RSS"
    );
    let rss = |series: &Series| format!("{:.0} MiB", median(&series.peak_rss_kib) / 1024.0);
    for figure in all.iter().filter(|s| s.system == System::Refold) {
        let baselines = baselines_of(figure, &all);
        let refold = figure.median();
        if baselines.is_empty() {
            let _ = writeln!(
                out,
                "{:<19} {:<7} {:<14} {:>11} {:<24} {:>11} {:>6} {:>9}",
                figure.workload,
                figure.variant,
                figure.metric.name(),
                number(refold),
                "-",
                "-",
                "-",
                rss(figure)
            );
        }
        for baseline in baselines {
            let value = baseline.median();
            let _ = writeln!(
                out,
                "{:<19} {:<7} {:<14} {:>11} {:<24} {:>11} {:>6.2} {:>9}",
                figure.workload,
                figure.variant,
                figure.metric.name(),
                number(refold),
                format!("{} {}", baseline.system.name(), baseline.workload),
                number(value),
                refold / value,
                rss(figure)
            );
        }
    }
    let refold_workloads: Vec<&str> = all
        .iter()
        .filter(|s| s.system == System::Refold)
        .map(|s| s.workload.as_str())
        .collect();
    for ceiling in all
        .iter()
        .filter(|s| s.system != System::Refold && !refold_workloads.contains(&s.workload.as_str()))
    {
        let _ = writeln!(
            out,
            "{:<19} {:<7} {:<14} {:>11} {:<24} {:>11} {:>6} {:>9}",
            ceiling.workload,
            ceiling.variant,
            ceiling.metric.name(),
            "-",
            format!("{} (ceiling)", ceiling.system.name()),
            number(ceiling.median()),
            "-",
            rss(ceiling)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<19} {:<7} {:<10} {:<14} {:>4} {:>11} {:>11} {:>7}",
        "workload", "variant", "system", "metric", "runs", "min", "max", "max/min"
    );
    for s in &all {
        let min = s.values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            out,
            "{:<19} {:<7} {:<10} {:<14} {:>4} {:>11} {:>11} {:>7.2}",
            s.workload,
            s.variant,
            s.system.name(),
            s.metric.name(),
            s.values.len(),
            number(min),
            number(max),
            max / min
        );
    }
    out
}

/// A figure with as many decimals as its size needs.
fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 99.0), 20.0);
        assert_eq!(nearest_rank(&values, 50.0), 10.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn json_lines_follow_the_output_format() {
        let report = JobReport {
            job: "W1".to_owned(),
            variant: "FULL".to_owned(),
            run: 2,
            scale: "full".to_owned(),
            observed: Observed {
                journal: "wal".to_owned(),
                synchronous: "full".to_owned(),
                sqlite: "3.50.0".to_owned(),
            },
            figures: vec![Figure {
                system: System::Refold,
                workload: "W1".to_owned(),
                metric: Metric::EventsPerS,
                value: 1234.5,
            }],
            peak_rss_kib: 1,
        };
        assert_eq!(
            json_lines(&[report]),
            [
                r#"{"system":"refold","variant":"FULL","run":2,"info":{"journal":"wal","synchronous":"full","sqlite":"3.50.0","scale":"full"}}"#,
                r#"{"system":"refold","variant":"FULL","run":2,"workload":"W1","metric":"events_per_s","value":1234.5}"#,
            ]
        );
    }
}
