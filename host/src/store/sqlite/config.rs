//! Where and how a [`SqliteStore`](super::SqliteStore) opens its file.

use crate::store::AppendLimits;
use std::path::PathBuf;
use std::time::Duration;

/// How long a connection waits for a lock held by another process on the same file
/// before giving up.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How durable a committed write is: SQLite's `synchronous` setting, in WAL mode.
///
/// An append is acknowledged only after its transaction committed; this setting decides
/// what "committed" survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=FULL`: every commit waits until the write-ahead log is flushed to the
    /// disk (`fdatasync`). An acknowledged append survives a process crash, an operating
    /// system crash and a power loss. Costs one disk flush per commit, which group
    /// commit shares among all the appends of a group.
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits are written to the write-ahead log without waiting
    /// for the disk; the log is flushed at checkpoints. An acknowledged append survives a
    /// process crash, but the last commits before an operating system crash or a power
    /// loss may be lost (the database itself stays consistent: whole transactions go).
    Normal,
}

/// Where and how to open a [`SqliteStore`](super::SqliteStore).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The database file; created if missing.
    pub path: PathBuf,
    /// Durability of commits. Default: [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// The largest event accepted, in bytes of type + data + metadata. Default: 1 MiB.
    pub max_event_size: usize,
    /// How many events and bytes one append call may carry. Default:
    /// [`AppendLimits::default`].
    pub append_limits: AppendLimits,
    /// How long to wait for a lock held by another process on the file. Default: 5 s.
    pub busy_timeout: Duration,
}

impl StoreConfig {
    /// The default settings for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            synchronous: Synchronous::default(),
            max_event_size: 1024 * 1024,
            append_limits: AppendLimits::default(),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

    /// The same settings with other append limits.
    pub fn with_append_limits(mut self, limits: AppendLimits) -> Self {
        self.append_limits = limits;
        self
    }

    /// The same settings with another durability.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
}
