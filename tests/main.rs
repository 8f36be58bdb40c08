//! Refold's end-to-end tests: one test binary (each extra one would re-link wasmtime),
//! one module per part of the engine. Guest components are built from source on
//! first use; see `support::guests`.

mod polyglot;
mod runtime;
mod support;
