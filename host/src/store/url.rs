//! Naming a store: `sqlite:<path>` or `postgres://…`, as `--store` and `REFOLD_STORE`
//! take it.
//!
//! One string picks the backend and says where its data is, so the command line, the
//! environment and an embedder name a store the same way, and
//! [`Engine::open`](crate::engine::Engine::open) is the one place that turns it into a
//! [`Storage`](super::Storage).

use super::postgres::{DEFAULT_SCHEMA, PgConfig, redacted};
use crate::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which store to open, parsed from a store URL.
///
/// - `sqlite:<path>`: the SQLite file at `<path>` (relative to the working directory;
///   `sqlite:///var/lib/refold.db` is the absolute path `/var/lib/refold.db`). Created
///   if missing.
/// - `postgres://user:password@host:port/dbname?…` (or `postgresql://`): a PostgreSQL
///   database, with tokio-postgres's connection options in the query (`sslmode=disable`
///   or `prefer`; `host=/run/postgresql` or a percent-encoded path as the host for a
///   Unix socket; `connect_timeout=10`; …) and one option of Refold's own:
///   `schema=<name>`, the schema its tables live in (default `refold`, created if
///   missing), so several stores can share one database.
#[derive(Debug, Clone)]
pub enum StoreUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A schema of a PostgreSQL database.
    Postgres(Box<PgConfig>),
}

impl StoreUrl {
    /// The SQLite file at `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> StoreUrl {
        StoreUrl::Sqlite(path.into())
    }
}

impl FromStr for StoreUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<StoreUrl> {
        let refuse = |reason: &str| Error::InvalidStoreUrl {
            url: redacted(url),
            reason: reason.to_owned(),
        };
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(refuse(
                    "it names no file after 'sqlite:' (e.g. sqlite:refold.db)",
                ));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (connection, schema) = take_schema(url);
            let config = PgConfig::new(&connection)?
                .with_schema(schema.as_deref().unwrap_or(DEFAULT_SCHEMA))?;
            return Ok(StoreUrl::Postgres(Box::new(config)));
        }
        Err(refuse(
            "it starts with neither 'sqlite:' nor 'postgres://' (a bare file name is \
             sqlite:<file>)",
        ))
    }
}

/// `url` without its `schema=` query option, and that option's value.
fn take_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(value) => {
                schema = Some(value.to_owned());
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    let connection = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (connection, schema)
}

impl fmt::Display for StoreUrl {
    /// The store for messages: the file, or the PostgreSQL server, database and schema
    /// (never a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "{}", path.display()),
            StoreUrl::Postgres(config) => f.write_str(&config.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> String {
        match url.parse::<StoreUrl>() {
            Err(Error::InvalidStoreUrl { reason, .. }) => reason,
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        let path = |url: &str| match url.parse::<StoreUrl>().unwrap() {
            StoreUrl::Sqlite(path) => path,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(path("sqlite:refold.db"), PathBuf::from("refold.db"));
        assert_eq!(path("sqlite:data/x.db"), PathBuf::from("data/x.db"));
        assert_eq!(
            path("sqlite:///var/lib/x.db"),
            PathBuf::from("/var/lib/x.db")
        );
        assert!(refusal("sqlite:").contains("names no file"));
    }

    #[test]
    fn postgres_urls_take_a_schema_and_the_drivers_options() {
        let config = |url: &str| match url.parse::<StoreUrl>().unwrap() {
            StoreUrl::Postgres(config) => config,
            other => panic!("{url}: {other:?}"),
        };
        let plain = config("postgres://app:pw@db.internal:6432/events");
        assert_eq!(plain.schema, "refold");
        assert_eq!(
            plain.describe(),
            "postgres://db.internal:6432/events (schema refold)"
        );
        let chosen = config("postgresql://app@db/events?sslmode=disable&schema=tenant_7");
        assert_eq!(chosen.schema, "tenant_7");
        let socket = config("postgres://app@%2Frun%2Fpostgresql/events?schema=s");
        assert_eq!(
            socket.describe(),
            "postgres:///run/postgresql:5432/events (schema s)"
        );
        let host_option = config("postgres://app@localhost/events?host=/tmp/pg");
        assert!(host_option.describe().starts_with("postgres://localhost"));
    }

    #[test]
    fn a_bad_url_says_what_is_wrong_and_shows_a_good_one_without_the_password() {
        let error = "mysql://root:hunter2@db/x".parse::<StoreUrl>().unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("neither 'sqlite:' nor 'postgres://'"),
            "{message}"
        );
        assert!(
            message.contains("postgres://user:password@localhost:5432/refold"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        assert!(refusal("postgres://db/x?schema=Bad-Name").contains("cannot name the schema"));
        assert!(refusal("postgres://db/x?bogus=1").contains("not a PostgreSQL connection string"));
    }
}
