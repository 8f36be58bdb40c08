//! `refold test`: run spec files against a module and report each case.
//!
//! This is the harness on the command line, so specs can run in CI against a module
//! built from any language. The output is one line per case, the differences under
//! each failed one, and a closing `N passed, M failed` line.

use anyhow::{Context, bail};
use clap::Args;
use refold::harness::{ModuleUnderTest, SpecFile};
use refold::runtime::{Runtime, RuntimeConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run given/when/then spec files against a module.
///
/// Each case prints `ok` or `FAIL` with its file and name; a failed case lists what
/// differed, field by field. Exits 0 when every case passes, 1 when one fails, 2 when
/// a spec file or the module cannot be used.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  refold test target/wasm32-wasip2/release/cart.wasm examples/cart/specs

  ok   examples/cart/specs/cart.yaml :: opening a cart
  FAIL examples/cart/specs/cart.yaml :: confirming takes the item count and total from the state
    events[0].data.total: expected 3026, got 3025
  1 passed, 1 failed

  refold test cart_v2_prices.wasm examples/cart-v2/specs \
    --upcaster cart-upcaster=target/wasm32-wasip2/release/cart_upcaster.wasm")]
pub struct TestArgs {
    /// The module to test: a WebAssembly component (decider, projection or upcaster).
    module: PathBuf,
    /// Spec files, or directories whose `*.yaml` and `*.yml` files are all run.
    #[arg(required = true)]
    specs: Vec<PathBuf>,
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

/// Run every case of every spec file; exit code 1 if any case failed.
pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let mut specs = Vec::new();
    for path in spec_files(&args.specs)? {
        specs.push(SpecFile::load(&path)?);
    }
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let name = args.module.file_stem().map_or_else(
        || "module".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let module = ModuleUnderTest::load_file(&runtime, &name, &args.module)
        .with_context(|| format!("cannot load module {}", args.module.display()))?;
    let upcasters = args
        .upcasters
        .iter()
        .map(|(name, file)| {
            ModuleUnderTest::load_file(&runtime, name, file)
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
                println!("FAIL {file} :: {}", case.name);
                for difference in case.verdict.differences() {
                    println!("    {difference}");
                }
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

/// The spec files named, with each directory replaced by its YAML files, sorted.
fn spec_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(yaml_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

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
    if files.is_empty() {
        bail!("{} has no spec files (*.yaml or *.yml)", dir.display());
    }
    files.sort();
    Ok(files)
}
