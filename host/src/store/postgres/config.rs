//! Where and how a [`PgStore`](super::PgStore) connects.

use crate::store::AppendLimits;
use crate::store::sqlite::Synchronous;
use crate::{Error, Result};
use std::str::FromStr;

/// The schema Refold's tables live in unless another is chosen.
pub const DEFAULT_SCHEMA: &str = "refold";

/// Where and how to open a [`PgStore`](super::PgStore).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgConfig {
    /// The connection settings, parsed from a `postgres://` URL or a key=value string.
    pub(super) connection: tokio_postgres::Config,
    /// The PostgreSQL schema Refold's tables live in (created if missing).
    pub schema: String,
    /// Durability of commits: [`Synchronous::Full`] is `synchronous_commit=on`,
    /// [`Synchronous::Normal`] is `synchronous_commit=off` (a commit survives a crash of
    /// Refold, but the server may lose its last commits if it crashes itself).
    pub synchronous: Synchronous,
    /// The largest event accepted, in bytes of type + data + metadata. Default: 1 MiB.
    pub max_event_size: usize,
    /// How many events and bytes one append call may carry. Default:
    /// [`AppendLimits::default`].
    pub append_limits: AppendLimits,
    /// How many connections the store's pool keeps open at most. Default: 16.
    pub pool_size: usize,
}

impl PgConfig {
    /// The default settings for the server and database that `connection` names: a
    /// `postgres://user:password@host:port/dbname?sslmode=disable` URL (a host that is a
    /// path, percent-encoded or as `?host=/run/postgresql`, is a Unix socket folder) or a
    /// `host=... dbname=...` string. Tables go into [`DEFAULT_SCHEMA`].
    pub fn new(connection: &str) -> Result<PgConfig> {
        let parsed =
            tokio_postgres::Config::from_str(connection).map_err(|e| Error::InvalidStoreUrl {
                url: super::redacted(connection),
                reason: format!("it is not a PostgreSQL connection string ({e})"),
            })?;
        if parsed.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(Error::InvalidStoreUrl {
                url: super::redacted(connection),
                reason: "sslmode=require asks for TLS, which this build of Refold does not \
                         speak to PostgreSQL yet: use sslmode=disable (or prefer) over a \
                         Unix socket, loopback or a tunnel"
                    .to_owned(),
            });
        }
        Ok(PgConfig {
            connection: parsed,
            schema: DEFAULT_SCHEMA.to_owned(),
            synchronous: Synchronous::default(),
            max_event_size: 1024 * 1024,
            append_limits: AppendLimits::default(),
            pool_size: 16,
        })
    }

    /// The same settings with the tables in `schema`: 1 to 48 lowercase ASCII letters,
    /// digits and `_`, not starting with a digit.
    pub fn with_schema(mut self, schema: &str) -> Result<PgConfig> {
        check_schema(schema)?;
        self.schema = schema.to_owned();
        Ok(self)
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

    /// The connection settings every connection of the store uses: the configured ones,
    /// with the schema as the search path and the durability as `synchronous_commit`.
    pub(super) fn session(&self) -> tokio_postgres::Config {
        let mut session = self.connection.clone();
        let synchronous_commit = match self.synchronous {
            Synchronous::Full => "on",
            Synchronous::Normal => "off",
        };
        let options = format!(
            "{} -c search_path={} -c synchronous_commit={synchronous_commit}",
            session.get_options().unwrap_or_default(),
            self.schema
        );
        session.options(options.trim_start());
        if session.get_application_name().is_none() {
            session.application_name("refold");
        }
        session
    }

    /// Where the store lives, for messages: the first host, port and database, and the
    /// schema (never the password).
    pub fn describe(&self) -> String {
        let host = match self.connection.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.connection.get_ports().first().copied().unwrap_or(5432);
        let database = self
            .connection
            .get_dbname()
            .or(self.connection.get_user())
            .unwrap_or_default();
        format!(
            "postgres://{host}:{port}/{database} (schema {})",
            self.schema
        )
    }
}

/// Refuse a schema name that is not a plain lowercase identifier short enough to name
/// the notification channel too.
fn check_schema(schema: &str) -> Result<()> {
    let plain = !schema.is_empty()
        && schema.len() <= 48
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(())
    } else {
        Err(Error::InvalidStoreUrl {
            url: format!("schema={schema}"),
            reason: format!(
                "'{schema}' cannot name the schema: use 1 to 48 lowercase letters, digits \
                 and '_', not starting with a digit (e.g. schema=refold)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_sets_the_schema_and_durability_after_the_users_options() {
        let config = PgConfig::new("postgres://u:p@db:6000/app?options=-c%20work_mem%3D8MB")
            .unwrap()
            .with_schema("tenant_1")
            .unwrap()
            .with_synchronous(Synchronous::Normal);
        assert_eq!(
            config.session().get_options(),
            Some("-c work_mem=8MB -c search_path=tenant_1 -c synchronous_commit=off")
        );
        assert_eq!(
            config.describe(),
            "postgres://db:6000/app (schema tenant_1)"
        );
    }

    #[test]
    fn schema_names_that_need_quoting_are_refused() {
        for bad in ["", "Refold", "1st", "a-b", "a b", &"x".repeat(49)] {
            let refused = PgConfig::new("postgres://localhost/db")
                .unwrap()
                .with_schema(bad);
            assert!(
                matches!(refused, Err(Error::InvalidStoreUrl { ref reason, .. }) if reason.contains("cannot name the schema")),
                "{bad:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn tls_is_refused_with_what_to_do_instead() {
        let refused = PgConfig::new("postgres://u:secret@db/app?sslmode=require").unwrap_err();
        let message = refused.to_string();
        assert!(
            message.contains("sslmode=require asks for TLS"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
}
