//! Refold's end-to-end tests: one test binary (each extra one would re-link wasmtime),
//! one module per part of the engine, each running the real thing: real SQLite files,
//! real components built from source on first use, real child processes.

mod bench;
mod cli;
mod commands;
mod engine;
mod harness;
mod http;
mod polyglot;
mod projections;
mod runtime;
mod sandbox;
mod store;
mod support;
mod ui;
mod upcasting;
mod workflows;
