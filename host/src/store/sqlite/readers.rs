//! The pool of read-only connections every read of the store uses.
//!
//! In WAL mode a reader sees the last committed state and neither blocks the writer nor
//! waits for it. Connections are opened on demand and a few idle ones kept for reuse;
//! each read runs on the calling thread.

use super::config::StoreConfig;
use super::errors::During;
use super::schema;
use crate::Result;
use crate::sync::lock;
use rusqlite::Connection;
use std::sync::Mutex;

/// How many idle read connections are kept for reuse.
const IDLE_READERS: usize = 8;

/// Read-only connections to the store's file.
#[derive(Debug)]
pub(super) struct Readers {
    config: StoreConfig,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(config: StoreConfig) -> Readers {
        Readers {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Run `read` on an idle connection (opening one if none is idle); its SQLite
    /// errors become storage errors naming `operation`.
    pub(super) fn read<T>(
        &self,
        operation: &'static str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.read_checked(|conn| read(conn).during(operation))
    }

    /// [`read`](Self::read) for reads that may refuse with an error of their own.
    pub(super) fn read_checked<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = lock(&self.idle).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = schema::connect(&self.config).during("open a read connection")?;
                conn.pragma_update(None, "query_only", true)
                    .during("open a read connection")?;
                conn
            }
        };
        let result = read(&conn);
        let mut idle = lock(&self.idle);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}
