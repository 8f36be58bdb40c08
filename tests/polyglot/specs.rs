//! The example spec files, written for the Rust modules, pass unchanged against the
//! Python and JavaScript ones.

use super::{Language, load, runtime};
use crate::support::guests::{self, COURSES_JS, workspace_root};
use refold::harness::{CaseReport, ModuleUnderTest, SpecFile};

/// Run the spec file at `spec` (from the repository root) against `bytes` loaded as
/// `name`: the names and differences of the cases that failed, and how many ran.
fn run_spec(name: &str, bytes: Vec<u8>, spec: &str) -> (Vec<(String, Vec<String>)>, usize) {
    // Loaded once through the shared loader first, so the harness finds it compiled.
    load(name, &bytes);
    let module = ModuleUnderTest::load(runtime(), name, bytes).expect("the component loads");
    let reports: Vec<CaseReport> = SpecFile::load(&workspace_root().join(spec))
        .unwrap()
        .run(&module)
        .unwrap();
    let failed = reports
        .iter()
        .filter(|r| !r.verdict.passed())
        .map(|r| (r.name.clone(), r.verdict.differences().to_vec()))
        .collect();
    (failed, reports.len())
}

#[test]
fn the_cart_spec_passes_against_the_python_and_javascript_carts() {
    for language in Language::OTHERS {
        let (failed, ran) = run_spec(
            "cart",
            language.decider_wasm(),
            "examples/cart/specs/cart.yaml",
        );
        assert_eq!(failed, [], "{language:?}");
        assert_eq!(ran, 14, "{language:?}");
    }
}

#[test]
fn the_cart_summary_spec_passes_against_the_python_and_javascript_summaries() {
    for language in Language::OTHERS {
        let (failed, ran) = run_spec(
            "cart-summary",
            language.projection_wasm(),
            "examples/cart-summary/specs/cart-summary.yaml",
        );
        assert_eq!(failed, [], "{language:?}");
        assert_eq!(ran, 7, "{language:?}");
    }
}

#[test]
fn the_courses_spec_passes_against_the_javascript_query_decider() {
    let (failed, ran) = run_spec(
        "courses",
        guests::polyglot(COURSES_JS),
        "examples/courses/specs/courses.yaml",
    );
    assert_eq!(failed, Vec::<(String, Vec<String>)>::new());
    assert_eq!(ran, 14);
}
