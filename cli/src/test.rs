//! `refold test`: run spec files against a module and report each case.
//!
//! This is the harness on the command line, so specs can run in CI against a module
//! built from any language. The output is one line per case, the differences under
//! each failed one, and a closing `N passed, M failed` line. Compiled modules are kept
//! in a cache folder, so a second run of the same module compiles nothing (a Python
//! module takes seconds to compile); `--watch` runs again whenever the module or a spec
//! file changes.

use anyhow::{Context, bail};
use clap::Args;
use refold::harness::{CaseReport, ModuleUnderTest, SpecFile};
use refold::runtime::{Runtime, RuntimeConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// How often `--watch` looks at the files.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// How many compiled modules the cache folder keeps (the most recently compiled).
const CACHE_KEEPS: usize = 16;

/// Run given/when/then spec files against a module.
///
/// Each case prints `ok` or `FAIL` with its file and name (a failed case also with the
/// line it starts on); a failed case lists what differed, field by field, and a guest
/// fault (a trap, the deadline) on the FAIL line itself. Exits 0 when every case
/// passes, 1 when one fails, 2 when a spec file or the module cannot be used.
///
/// The compiled module is cached in `--cache-dir` (by default
/// `$XDG_CACHE_HOME/refold/compiled`, else `~/.cache/refold/compiled`), keyed by the
/// module's content hash and the wasmtime version, so running the same module again
/// compiles nothing; the folder keeps the 16 most recently compiled modules.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold test target/wasm32-wasip2/release/cart.wasm examples/cart/specs

  ok   examples/cart/specs/cart.yaml :: opening a cart
  FAIL examples/cart/specs/cart.yaml:24 :: confirming takes the item count and total from the state
    events[0].data.total: expected 3026, got 3025
  1 passed, 1 failed

  refold test --watch cart.wasm specs/     # again on every change, until Ctrl-C
  refold test cart_v2_prices.wasm examples/cart-v2/specs \
    --upcaster cart-upcaster=target/wasm32-wasip2/release/cart_upcaster.wasm")]
pub struct TestArgs {
    /// The module to test: a WebAssembly component (decider, projection, upcaster or
    /// workflow).
    module: PathBuf,
    /// Spec files, or directories whose `*.yaml` and `*.yml` files are all run.
    #[arg(required = true)]
    specs: Vec<PathBuf>,
    /// Run again whenever the module file or a spec file changes, until interrupted.
    #[arg(long)]
    watch: bool,
    /// Where compiled modules are cached.
    #[arg(long, env = "REFOLD_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Not an option of `refold test`, which opens no store: refused if given.
    #[arg(long, hide = true)]
    db: Option<PathBuf>,
    /// Not an option of `refold test`, which opens no store: refused if given.
    #[arg(long, hide = true)]
    store: Option<String>,
    /// An upcaster that spec files name (`upcasters: [NAME]`) to read their given
    /// events through; repeat for several.
    #[arg(long = "upcaster", value_name = "NAME=FILE", value_parser = name_and_file)]
    upcasters: Vec<(String, PathBuf)>,
}

fn name_and_file(text: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = text.split_once('=').ok_or_else(|| {
        format!("'{text}' is not NAME=FILE (e.g. cart-upcaster=cart_upcaster.wasm)")
    })?;
    Ok((name.to_owned(), PathBuf::from(file)))
}

/// Run every case of every spec file; exit code 1 if any case failed. With `--watch`,
/// run again on every change until interrupted.
pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_some() || args.store.is_some() {
        bail!(
            "refold test opens no store: leave out --db and --store (it runs the module in the harness, not in an engine)"
        );
    }
    let cache_dir = args.cache_dir.clone().or_else(default_cache_dir);
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: cache_dir.clone(),
        ..RuntimeConfig::default()
    })
    .with_context(|| match &cache_dir {
        Some(dir) => format!("cannot use the compile cache {}", dir.display()),
        None => "cannot start the wasm runtime".to_owned(),
    })?;
    if !args.watch {
        let outcome = run_once(&runtime, args);
        log_cache(&runtime, cache_dir.as_deref());
        return outcome;
    }
    loop {
        let before = fingerprint(args);
        if let Err(error) = run_once(&runtime, args) {
            println!("error: {error:#}");
        }
        log_cache(&runtime, cache_dir.as_deref());
        println!(
            "watching {} and the spec files for changes (Ctrl-C stops)",
            args.module.display()
        );
        let changed = wait_for_change(args, &before);
        println!("changed: {}", changed.display());
    }
}

/// Load the specs and the module, run every case, print the report.
fn run_once(runtime: &Runtime, args: &TestArgs) -> anyhow::Result<ExitCode> {
    let mut specs = Vec::new();
    for path in spec_files(&args.specs)? {
        specs.push(SpecFile::load(&path)?);
    }
    let name = args.module.file_stem().map_or_else(
        || "module".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let module = ModuleUnderTest::load_file(runtime, &name, &args.module)
        .with_context(|| format!("cannot load module {}", args.module.display()))?;
    let upcasters = args
        .upcasters
        .iter()
        .map(|(name, file)| {
            ModuleUnderTest::load_file(runtime, name, file)
                .with_context(|| format!("cannot load upcaster {}", file.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let upcasters: Vec<&ModuleUnderTest<'_>> = upcasters.iter().collect();

    // Every case runs before anything is printed: a spec that cannot run (e.g. one
    // for the other world) stops the command before any output.
    let mut reports = Vec::with_capacity(specs.len());
    for spec in &specs {
        reports.push((spec.path().display(), spec.run_with(&module, &upcasters)?));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for (file, cases) in reports {
        for case in cases {
            if case.verdict.passed() {
                passed += 1;
                println!("ok   {file} :: {}", case.name);
            } else {
                failed += 1;
                print_failure(&file.to_string(), &case);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `FAIL file:line :: name`, with a guest fault on the same line, then the other
/// differences, one per line.
fn print_failure(file: &str, case: &CaseReport) {
    let at = match case.line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    };
    let fault = case.verdict.fault();
    match fault {
        Some(fault) => println!("FAIL {at} :: {}: {fault}", case.name),
        None => println!("FAIL {at} :: {}", case.name),
    }
    for difference in case.verdict.differences() {
        if Some(difference.as_str()) != fault {
            println!("    {difference}");
        }
    }
}

/// `$XDG_CACHE_HOME/refold/compiled`, else `$HOME/.cache/refold/compiled`; none
/// without either (compiled modules then live in memory only).
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("refold").join("compiled"))
}

/// Log what the compile cache did (at info), and keep its folder from growing without
/// bound: only the [`CACHE_KEEPS`] most recently compiled modules stay.
fn log_cache(runtime: &Runtime, dir: Option<&Path>) {
    let stats = runtime.cache_stats();
    tracing::info!(
        dir = %dir.map_or_else(|| "none (memory only)".to_owned(), |d| d.display().to_string()),
        compiled = stats.compiled,
        loaded_from_disk = stats.loaded_from_disk,
        reused = stats.reused,
        "compile cache"
    );
    if let Some(dir) = dir {
        prune(dir, CACHE_KEEPS);
    }
}

/// Remove all but the `keep` newest compiled modules (`*.cwasm`) of `dir`. A failure
/// is logged: the cache works either way.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut artifacts: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let modified = path.metadata().ok()?.modified().ok()?;
            path.extension()
                .is_some_and(|ext| ext == "cwasm")
                .then_some((modified, path))
        })
        .collect();
    artifacts.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in artifacts.into_iter().skip(keep) {
        if let Err(error) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), %error, "cannot remove an old compiled module from the cache");
        }
    }
}

/// The module file and every spec file (directories listed again) with their
/// modification time and size, `None` for a file that cannot be read.
type Fingerprint = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn fingerprint(args: &TestArgs) -> Fingerprint {
    let mut files = vec![args.module.clone()];
    for path in &args.specs {
        match yaml_files_in(path) {
            Ok(listed) if path.is_dir() => files.extend(listed),
            _ => files.push(path.clone()),
        }
    }
    files
        .into_iter()
        .map(|file| {
            let stamp = std::fs::metadata(&file)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (file, stamp)
        })
        .collect()
}

/// Poll until the files differ from `before` and then hold still for one more poll
/// (an editor may write in steps); the first file that changed.
fn wait_for_change(args: &TestArgs, before: &Fingerprint) -> PathBuf {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let now = fingerprint(args);
        if now == *before {
            continue;
        }
        let mut settled = now;
        loop {
            std::thread::sleep(WATCH_EVERY);
            let again = fingerprint(args);
            if again == settled {
                break;
            }
            settled = again;
        }
        return settled
            .iter()
            .find(|entry| !before.contains(entry))
            .or_else(|| before.iter().find(|entry| !settled.contains(entry)))
            .map_or_else(|| args.module.clone(), |(file, _)| file.clone());
    }
}

/// The spec files named, with each directory replaced by its YAML files, sorted.
fn spec_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let listed = yaml_files_in(path)?;
            if listed.is_empty() {
                bail!("{} has no spec files (*.yaml or *.yml)", path.display());
            }
            files.extend(listed);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The `*.yaml` and `*.yml` files of `dir`, sorted.
fn yaml_files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let is_yaml = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
