//! `refold bench`: the benchmark suite of `docs/workloads.md`, run and reported.
//!
//! The parent process picks the jobs, makes the stores W3 and W5 start from, and
//! re-runs this binary once per (run, variant, job), interleaved as the workload
//! definition asks, so every measurement starts in a fresh process on fresh files.
//! Each child runs one job ([`run_job`](super::run_job)) and prints its report as one
//! JSON line; the parent prints the tables and writes the JSON lines file.

use super::{Job, JobReport, Modules, Scale, Setup};
use crate::Durability;
use anyhow::{Context, bail};
use clap::Args;
use refold::store::sqlite::Synchronous;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Run the benchmark suite: W1, W1-64, W2, W2-batch, W3, W4, W4-16, W5, W6 and the
/// HTTP workloads H1, H1-32, H4, H4-32 and DCB of `docs/workloads.md`, each beside its
/// raw-SQLite, native or in-process baselines.
///
/// Every (run, variant, workload) runs in a fresh process on fresh temporary
/// databases; runs are interleaved (run 1 of everything, then run 2). Every workload
/// verifies its result and the suite stops at the first that fails. Prints a table of
/// medians over runs (each figure, its baseline, refold / baseline, peak RSS) and a
/// table of the spread over runs.
///
/// The default is one run: W1 at FULL alone is 100,000 commits that each wait for the
/// disk (about 5 minutes here), so three runs of the full suite take far longer than
/// one.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo build --release --target wasm32-wasip2 -p cart
  cargo build --release --target wasm32-wasip2 -p cart-summary
  refold bench --json bench.jsonl
  refold bench --quick --workloads W4,W5 --variants normal")]
pub struct BenchArgs {
    /// How many times each (workload, variant) runs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Reduced sizes for a smoke check (200 carts, a 1,000-event long stream, 500
    /// commands): every workload still runs and verifies; the output says so.
    #[arg(long)]
    quick: bool,
    /// Also write every figure as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Only these workloads (comma-separated), e.g. `W1,W5`; their baselines run too.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    workloads: Vec<String>,
    /// The folder holding cart.wasm and cart_summary.wasm.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/wasm32-wasip2/release"
    )]
    modules: PathBuf,
    /// Durability variants to run (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["full", "normal"])]
    variants: Vec<Durability>,
    /// Run only this job and print its report (the suite runs itself with it).
    #[arg(long, hide = true, requires_all = ["variant", "shared"])]
    one: Option<String>,
    /// The variant of `--one`.
    #[arg(long, hide = true, value_enum)]
    variant: Option<Durability>,
    /// The run number of `--one`.
    #[arg(long, hide = true, default_value_t = 1)]
    run: u32,
    /// The suite's shared folder, for `--one`.
    #[arg(long, hide = true)]
    shared: Option<PathBuf>,
}

/// Run the suite, or with `--one` a single job of it.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let scale = if args.quick {
        Scale::Quick
    } else {
        Scale::Full
    };
    if let (Some(one), Some(variant), Some(shared)) = (&args.one, args.variant, &args.shared) {
        let job = parse_job(one)?;
        let setup = Setup {
            synchronous: variant.into(),
            scale,
            modules: Modules::in_dir(&args.modules),
            shared: shared.clone(),
        };
        let report = super::run_job(job, &setup, args.run)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = selected_jobs(&args.workloads)?;
    let modules_dir = std::path::absolute(&args.modules)?;
    check_modules(&modules_dir, &jobs)?;
    let shared = tempfile::tempdir().context("cannot make a temporary folder")?;
    let setup = Setup {
        synchronous: Synchronous::Normal,
        scale,
        modules: Modules::in_dir(&modules_dir),
        shared: shared.path().to_owned(),
    };
    if scale == Scale::Quick {
        eprintln!("QUICK: reduced sizes {:?}", scale.sizes());
    }
    eprintln!("preparing the stores W3 and W5 start from");
    super::prepare(&setup, &jobs).context("cannot prepare the W1 store")?;

    let mut reports = Vec::new();
    for run in 1..=args.runs {
        for &variant in &args.variants {
            for &job in &jobs {
                let report = run_child(job, variant, run, args, &modules_dir, shared.path())?;
                reports.push(report);
            }
        }
    }

    if scale == Scale::Quick {
        println!(
            "QUICK: reduced sizes, not those of docs/workloads.md: {:?}",
            scale.sizes()
        );
    }
    for report in &reports {
        if report.job == jobs[0].name() && report.run == 1 {
            println!(
                "{}: journal_mode={} synchronous={} sqlite={}",
                report.variant,
                report.observed.journal,
                report.observed.synchronous,
                report.observed.sqlite
            );
        }
    }
    println!(
        "medians over {} run(s); ratio = refold / baseline\n",
        args.runs
    );
    print!("{}", super::report::tables(&reports));
    if let Some(path) = &args.json {
        let mut text = super::report::json_lines(&reports).join("\n");
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The job for a `--workloads` or `--one` name.
fn parse_job(name: &str) -> anyhow::Result<Job> {
    Job::for_workload(name).with_context(|| {
        let known: Vec<&str> = Job::ALL.iter().map(|job| job.name()).collect();
        format!(
            "unknown workload '{name}': choose among {} (W3-1k, W3-10k, W3-10k-snap, READ-ALL and FOLD run as W3)",
            known.join(", ")
        )
    })
}

/// The jobs to run, in suite order, with the baselines the selected ones need.
fn selected_jobs(names: &[String]) -> anyhow::Result<Vec<Job>> {
    if names.is_empty() {
        return Ok(Job::ALL.to_vec());
    }
    let mut wanted = Vec::new();
    for name in names {
        let job = parse_job(name)?;
        wanted.push(job);
        wanted.extend_from_slice(job.baselines());
    }
    Ok(Job::ALL
        .into_iter()
        .filter(|job| wanted.contains(job))
        .collect())
}

/// Fail with how to build them if the components the jobs need are missing.
fn check_modules(dir: &Path, jobs: &[Job]) -> anyhow::Result<()> {
    let modules = Modules::in_dir(dir);
    let needed = [
        (
            jobs.iter().any(|job| job.needs_cart()),
            &modules.cart,
            "cart",
        ),
        (
            jobs.iter().any(|job| job.needs_w1_store()),
            &modules.cart_summary,
            "cart-summary",
        ),
        (jobs.contains(&Job::Wf), &modules.stock, "stock"),
        (jobs.contains(&Job::Wf), &modules.payment, "payment"),
        (jobs.contains(&Job::Wf), &modules.order_flow, "order-flow"),
    ];
    for (needed, path, package) in needed {
        if needed && !path.is_file() {
            bail!(
                "cannot find {}: build it with `cargo build --release --target wasm32-wasip2 -p {package}`, \
                 or point --modules at the folder holding it",
                path.display()
            );
        }
    }
    Ok(())
}

/// Run `job` in a fresh process of this binary and collect its report.
fn run_child(
    job: Job,
    variant: Durability,
    run: u32,
    args: &BenchArgs,
    modules: &Path,
    shared: &Path,
) -> anyhow::Result<JobReport> {
    let variant_name = super::variant_name(variant.into());
    eprint!(
        "run {run}/{} {variant_name:<6} {:<6} ",
        args.runs,
        job.name()
    );
    let exe = std::env::current_exe().context("cannot locate the refold binary to re-run")?;
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .args(["--one", job.name()])
        .args(["--variant", &variant_name.to_ascii_lowercase()])
        .args(["--run", &run.to_string()])
        .arg("--shared")
        .arg(shared)
        .arg("--modules")
        .arg(modules)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if args.quick {
        command.arg("--quick");
    }
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("cannot start the {} job", job.name()))?;
    if !output.status.success() {
        bail!(
            "{} ({variant_name}, run {run}) failed ({}); its error is printed above",
            job.name(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let report: JobReport = serde_json::from_str(line)
        .with_context(|| format!("the {} job printed no report: {line:?}", job.name()))?;
    eprintln!(
        "{:>7.1} s, peak RSS {} MiB",
        started.elapsed().as_secs_f64(),
        report.peak_rss_kib / 1024
    );
    Ok(report)
}
