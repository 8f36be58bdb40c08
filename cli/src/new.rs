//! `refold new`: a module project of its own, in a folder outside any checkout.
//!
//! A project holds a minimal domain of the kind asked for, its spec file, what its
//! language's tools need (a standalone `Cargo.toml` depending on the `refold-guest`
//! SDK by path; a pinned `requirements.txt` or `package.json` and a copy of the WIT
//! package for Python and JavaScript) and a `build.sh` that makes `<name>.wasm`, so
//! `./build.sh && refold test <name>.wasm specs` passes from the first minute. The
//! files are templates compiled into the binary (`cli/templates/`), the same domain
//! in every language, so one spec file per kind serves all three.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// The WIT package, copied into Python and JavaScript projects for their tools.
const WIT: &str = include_str!("../../wit/refold.wit");

/// Create a module project: source, spec file and build script.
#[derive(Debug, Args)]
#[command(after_help = "\
Every kind is available in every language:

  kind            rust  python  javascript   world
  decider          yes     yes         yes   decider-module
  projection       yes     yes         yes   projection-module
  upcaster         yes     yes         yes   upcaster-module
  query-decider    yes     yes         yes   query-decider-module

Rust projects depend on the refold-guest SDK by path: --sdk, else REFOLD_SDK, else the
checkout this refold was built from. Python projects build with componentize-py,
JavaScript ones with componentize-qjs (QuickJS); build.sh installs the pinned tool into
the project on its first run.

Examples:
  refold new counter --kind decider
  refold new totals --kind projection --lang python
  refold new usernames --kind query-decider --lang javascript --dir ~/modules/usernames
  cd counter && ./build.sh && refold test counter.wasm specs")]
pub struct NewArgs {
    /// The module's name: lowercase letters, digits and `-`, starting with a letter.
    /// It names the folder, the package and the component `<name>.wasm`.
    name: String,
    /// What the module is.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The language it is written in.
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    lang: Language,
    /// The folder to create (default: `./<name>`); it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The refold-guest SDK a Rust project depends on: its folder, or a checkout of
    /// Refold holding it in `guest-sdk/`.
    #[arg(long, env = "REFOLD_SDK", value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// The kinds of module, one per world of the WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Write side: decides what a command on one stream means.
    Decider,
    /// Read side: folds events into read-model documents.
    Projection,
    /// Event evolution: reads stored event shapes as current ones.
    Upcaster,
    /// Write side over a query of tagged events: rules that span streams.
    QueryDecider,
}

impl Kind {
    /// The name templates and help use.
    fn name(self) -> &'static str {
        match self {
            Kind::Decider => "decider",
            Kind::Projection => "projection",
            Kind::Upcaster => "upcaster",
            Kind::QueryDecider => "query-decider",
        }
    }

    /// The WIT world the module implements.
    fn world(self) -> &'static str {
        match self {
            Kind::Decider => "decider-module",
            Kind::Projection => "projection-module",
            Kind::Upcaster => "upcaster-module",
            Kind::QueryDecider => "query-decider-module",
        }
    }

    /// The kind's spec file.
    fn spec(self) -> &'static str {
        match self {
            Kind::Decider => include_str!("../templates/specs/decider.yaml"),
            Kind::Projection => include_str!("../templates/specs/projection.yaml"),
            Kind::Upcaster => include_str!("../templates/specs/upcaster.yaml"),
            Kind::QueryDecider => include_str!("../templates/specs/query-decider.yaml"),
        }
    }
}

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Language {
    /// Rust with the refold-guest SDK, built with cargo for wasm32-wasip2.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-qjs.
    Javascript,
}

impl Language {
    /// Its name in the project's README.
    fn title(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Javascript => "JavaScript",
        }
    }
}

/// One file of a project: where it goes, its template, and whether it is run.
struct Template {
    path: String,
    text: &'static str,
    executable: bool,
    what: &'static str,
}

impl Template {
    fn new(path: impl Into<String>, text: &'static str, what: &'static str) -> Self {
        Template {
            path: path.into(),
            text,
            executable: false,
            what,
        }
    }

    fn script(path: &str, text: &'static str) -> Self {
        Template {
            executable: true,
            ..Template::new(path, text, "builds the component")
        }
    }
}

/// The files of a project of `kind` in `language` named `name`.
fn templates(name: &str, kind: Kind, language: Language) -> Vec<Template> {
    let source = match language {
        Language::Rust => Template::new(
            "src/lib.rs",
            match kind {
                Kind::Decider => include_str!("../templates/rust/decider.rs"),
                Kind::Projection => include_str!("../templates/rust/projection.rs"),
                Kind::Upcaster => include_str!("../templates/rust/upcaster.rs"),
                Kind::QueryDecider => include_str!("../templates/rust/query-decider.rs"),
            },
            "the module",
        ),
        Language::Python => Template::new(
            "src/app.py",
            match kind {
                Kind::Decider => include_str!("../templates/python/decider.py"),
                Kind::Projection => include_str!("../templates/python/projection.py"),
                Kind::Upcaster => include_str!("../templates/python/upcaster.py"),
                Kind::QueryDecider => include_str!("../templates/python/query-decider.py"),
            },
            "the module",
        ),
        Language::Javascript => Template::new(
            format!("{name}.js"),
            match kind {
                Kind::Decider => include_str!("../templates/javascript/decider.js"),
                Kind::Projection => include_str!("../templates/javascript/projection.js"),
                Kind::Upcaster => include_str!("../templates/javascript/upcaster.js"),
                Kind::QueryDecider => include_str!("../templates/javascript/query-decider.js"),
            },
            "the module",
        ),
    };
    let mut files = vec![source];
    match language {
        Language::Rust => files.extend([
            Template::new(
                "Cargo.toml",
                include_str!("../templates/rust/Cargo.toml"),
                "the package: a project of its own, depending on refold-guest",
            ),
            Template::script("build.sh", include_str!("../templates/rust/build.sh")),
        ]),
        Language::Python => files.extend([
            Template::new(
                "requirements.txt",
                include_str!("../templates/python/requirements.txt"),
                "the pinned componentize-py",
            ),
            Template::new(
                "wit/refold.wit",
                WIT,
                "the contract the tool builds against",
            ),
            Template::script("build.sh", include_str!("../templates/python/build.sh")),
        ]),
        Language::Javascript => files.extend([
            Template::new(
                "package.json",
                include_str!("../templates/javascript/package.json"),
                "the pinned componentize-qjs",
            ),
            Template::new(
                "wit/refold.wit",
                WIT,
                "the contract the tool builds against",
            ),
            Template::script("build.sh", include_str!("../templates/javascript/build.sh")),
        ]),
    }
    files.extend([
        Template::new(
            format!("specs/{name}.yaml"),
            kind.spec(),
            "the given/when/then cases",
        ),
        Template::new(
            ".gitignore",
            include_str!("../templates/gitignore"),
            "build outputs",
        ),
    ]);
    files
}

/// Create the project.
pub fn run(args: &NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let sdk = match args.lang {
        Language::Rust => Some(find_sdk(args.sdk.as_deref())?),
        Language::Python | Language::Javascript => None,
    };
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not empty: name a new folder with --dir, or remove it",
            dir.display()
        );
    }
    let files = templates(&args.name, args.kind, args.lang);
    let mut table: String = files
        .iter()
        .map(|file| format!("| `{}` | {} |\n", file.path, file.what))
        .collect();
    table.push_str("| `README.md` | this file |");
    let sdk = sdk.map(|sdk| sdk.display().to_string()).unwrap_or_default();
    let fill = |text: &str| {
        text.replace("{{files}}", &table)
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &args.name.replace('-', "_"))
            .replace("{{kind}}", args.kind.name())
            .replace("{{world}}", args.kind.world())
            .replace("{{language}}", args.lang.title())
            .replace("{{sdk}}", &sdk)
    };
    for file in &files {
        write(&dir.join(&file.path), &fill(file.text), file.executable)?;
    }
    write(&dir.join("README.md"), &fill(README), false)?;
    println!(
        "created {}: a {} in {}; next:\n  cd {} && ./build.sh && refold test {}.wasm specs",
        dir.display(),
        args.kind.name(),
        args.lang.title(),
        dir.display(),
        args.name
    );
    Ok(())
}

/// The project's README template; its file table is filled in per project.
const README: &str = include_str!("../templates/README.md");

/// Write one file of the project, making its folder.
fn write(path: &Path, text: &str, executable: bool) -> anyhow::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create the folder {}", folder.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    Ok(())
}

/// A module name is a package name, a file name and a deploy name at once.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_well = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_well || !rest_well || name.ends_with('-') || name.len() > 64 {
        bail!(
            "'{name}' cannot name a module: use lowercase letters, digits and `-`, starting \
             with a letter and not ending with `-` (at most 64), e.g. `cart-summary`"
        );
    }
    Ok(())
}

/// The folder of the refold-guest SDK: `given` (the SDK or a checkout holding it in
/// `guest-sdk/`), else the checkout this binary was built from.
fn find_sdk(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let (candidate, source) = match given {
        Some(dir) => (dir.to_path_buf(), "--sdk (or REFOLD_SDK)"),
        None => match built_from {
            Some(dir) => (dir, "the checkout refold was built from"),
            None => bail!("no refold-guest SDK: pass --sdk <checkout>/guest-sdk"),
        },
    };
    for dir in [candidate.clone(), candidate.join("guest-sdk")] {
        let manifest = dir.join("Cargo.toml");
        let is_sdk = std::fs::read_to_string(&manifest)
            .is_ok_and(|text| text.contains("name = \"refold-guest\""));
        if is_sdk {
            return std::fs::canonicalize(&dir)
                .with_context(|| format!("cannot resolve the folder {}", dir.display()));
        }
    }
    bail!(
        "no refold-guest SDK at {} (from {source}): a Rust project depends on it by path; \
         pass --sdk <checkout>/guest-sdk or set REFOLD_SDK to a Refold checkout",
        candidate.display()
    )
}
