//! The HTTP API end to end: the real `refold serve` as a child process on a loopback
//! port, spoken to by a real HTTP client.
//!
//! Every test runs on SQLite; a smoke subset (the first session's flow, multi-stream
//! appends, a restart, the live feed, deploys and rollbacks) runs on PostgreSQL too, with
//! `refold serve --store postgres://…`; several nodes on one PostgreSQL schema, killed
//! and paused, are PostgreSQL only (`nodes.rs`).

mod appends;
mod command_ids;
mod deploys;
mod errors;
mod flow;
mod hostile;
mod hot_deploy;
mod lifecycle;
pub(crate) mod live;
mod logs;
mod metrics;
mod nodes;
mod operators;
mod schemas;
mod shared_file;
mod tags;
mod traces;
