//! The HTTP API end to end: the real `refold serve` as a child process on a loopback
//! port, spoken to by a real HTTP client.

mod appends;
mod errors;
mod flow;
mod hostile;
mod hot_deploy;
mod lifecycle;
mod live;
mod shared_file;
