//! The integration tests of the `refold` host: one test binary, one module per part of
//! the engine, each running the real thing (real SQLite files, real child processes).

mod store;
mod support;
