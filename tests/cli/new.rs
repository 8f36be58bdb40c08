//! `refold new`: every kind of module in every language, created in a folder outside
//! the repository, built with its own `build.sh`, and passing its own specs with
//! `refold test`; and the refusals of what cannot make a project.
//!
//! The builds share what the rest of the suite built: Rust projects the target
//! directory (and the workspace's lock file, so no dependency is built again), Python
//! and JavaScript projects the tools `examples/build-polyglot.sh` installed into the
//! repository, linked into the project where its `build.sh` looks for them.

use super::{exited, refold_with};
use crate::support::guests::{self, CART_JS, CART_PY, target_dir, workspace_root};
use crate::support::wait::output_within;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every kind `refold new` makes.
const KINDS: [&str; 4] = ["decider", "projection", "upcaster", "query-decider"];

/// How long one project's build may take: a cold Rust build of the SDK's dependencies,
/// or a Python build on a loaded machine.
const BUILD_PATIENCE: Duration = Duration::from_secs(600);

/// Create, build and test a project of each kind in `language`; `prepare` readies a
/// fresh project folder for its build (shared tools or lock file).
fn every_kind_passes_its_specs(language: &str, prepare: impl Fn(&Path)) {
    let started = Instant::now();
    let temp = tempfile::tempdir().expect("a temp folder");
    for kind in KINDS {
        let name = format!("my-{kind}");
        let project = temp.path().join(&name);
        let dir = project.display().to_string();
        let output = refold_with(
            &[
                "new", &name, "--kind", kind, "--lang", language, "--dir", &dir,
            ],
            &[],
        );
        let (stdout, _) = exited(&output, 0);
        assert!(
            stdout.starts_with(&format!("created {dir}: a {kind}")),
            "{stdout}"
        );
        prepare(&project);

        let child = Command::new(project.join("build.sh"))
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", target_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("build.sh runs");
        let built = output_within(child, BUILD_PATIENCE, &format!("{dir}/build.sh"));
        let (stdout, _) = exited(&built, 0);
        assert_eq!(stdout, format!("built {name}.wasm\n"));

        let wasm = project.join(format!("{name}.wasm")).display().to_string();
        let specs = project.join("specs").display().to_string();
        let output = refold_with(&["test", &wasm, &specs], &[]);
        let (stdout, _) = exited(&output, 0);
        assert!(stdout.ends_with(" passed, 0 failed\n"), "{stdout}");
        assert!(!stdout.contains("\n0 passed"), "{stdout}");
    }
    eprintln!(
        "refold new: four {language} projects created, built and tested in {:.1?}",
        started.elapsed()
    );
}

/// Link `name` of the repository into `project`.
fn link_from_repository(project: &Path, name: &str) {
    std::os::unix::fs::symlink(workspace_root().join(name), project.join(name))
        .expect("the tool folder links into the project");
}

#[test]
fn every_kind_in_rust_builds_and_passes_its_specs() {
    every_kind_passes_its_specs("rust", |project| {
        std::fs::copy(
            workspace_root().join("Cargo.lock"),
            project.join("Cargo.lock"),
        )
        .expect("the workspace's lock file copies");
    });
}

#[test]
fn every_kind_in_python_builds_and_passes_its_specs() {
    guests::polyglot(CART_PY);
    every_kind_passes_its_specs("python", |project| link_from_repository(project, ".venv"));
}

#[test]
fn every_kind_in_javascript_builds_and_passes_its_specs() {
    guests::polyglot(CART_JS);
    every_kind_passes_its_specs("javascript", |project| {
        link_from_repository(project, "node_modules")
    });
}

#[test]
fn a_project_pins_the_tools_the_repository_uses() {
    let temp = tempfile::tempdir().expect("a temp folder");
    for language in ["python", "javascript"] {
        let dir = temp.path().join(language).display().to_string();
        let output = refold_with(
            &[
                "new", "pinned", "--kind", "decider", "--lang", language, "--dir", &dir,
            ],
            &[],
        );
        exited(&output, 0);
    }
    let script = std::fs::read_to_string(workspace_root().join("examples/build-polyglot.sh"))
        .expect("the polyglot build script reads");
    let requirements =
        std::fs::read_to_string(temp.path().join("python/requirements.txt")).expect("written");
    let pinned = script
        .lines()
        .find_map(|line| line.strip_prefix("COMPONENTIZE_PY_VERSION="))
        .expect("the script pins componentize-py");
    assert!(
        requirements.contains(&format!("componentize-py=={pinned}\n")),
        "{requirements}"
    );
    let version = |path: &Path| {
        let package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("package.json reads"))
                .expect("package.json is JSON");
        package["devDependencies"]["componentize-qjs"].clone()
    };
    assert_eq!(
        version(&temp.path().join("javascript/package.json")),
        version(&workspace_root().join("package.json"))
    );
    let wit = std::fs::read(workspace_root().join("wit/refold.wit")).expect("the WIT reads");
    for language in ["python", "javascript"] {
        let copied = std::fs::read(temp.path().join(language).join("wit/refold.wit"));
        assert_eq!(copied.ok(), Some(wit.clone()), "{language} has the WIT");
    }
}

#[test]
fn what_cannot_make_a_project_is_refused() {
    let temp = tempfile::tempdir().expect("a temp folder");
    let dir = |name: &str| temp.path().join(name).display().to_string();

    let output = refold_with(
        &["new", "Bad_Name", "--kind", "decider", "--dir", &dir("a")],
        &[],
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.starts_with("error: 'Bad_Name' cannot name a module: use lowercase letters"),
        "{stderr}"
    );

    std::fs::create_dir(temp.path().join("full")).expect("a folder");
    std::fs::write(temp.path().join("full/keep.txt"), "mine").expect("a file");
    let output = refold_with(
        &["new", "counter", "--kind", "decider", "--dir", &dir("full")],
        &[],
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.contains("full exists and is not empty: name a new folder with --dir"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(temp.path().join("full/keep.txt"))
            .ok()
            .as_deref(),
        Some("mine")
    );

    let nowhere = temp.path().join("no-sdk");
    let output = refold_with(
        &["new", "counter", "--kind", "decider", "--dir", &dir("b")],
        &[("REFOLD_SDK", OsStr::new(&nowhere))],
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.starts_with(&format!(
            "error: no refold-guest SDK at {} (from --sdk (or REFOLD_SDK))",
            nowhere.display()
        )),
        "{stderr}"
    );
    assert!(!temp.path().join("b").exists(), "nothing is created");

    let output = refold_with(
        &["new", "counter", "--kind", "saga", "--dir", &dir("c")],
        &[],
    );
    let (_, stderr) = exited(&output, 2);
    assert!(
        stderr.contains("invalid value 'saga' for '--kind <KIND>'"),
        "{stderr}"
    );
}
