//! `--backend-store-uri`: which database, and where.

use super::Backend;
use std::path::PathBuf;

/// A backend store URI as MLflow users write it: `sqlite:///relative.db` and
/// `sqlite:////absolute.db` (SQLAlchemy's convention), or `postgresql://...`.
/// Its `Debug` form hides credentials (see `redacted`), so logging it leaks none.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUri {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUri {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let uri = uri.trim();
        if let Some(rest) = uri.strip_prefix("sqlite:") {
            // sqlite:///a.db is relative, sqlite:////a.db absolute, sqlite://a.db relative.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.strip_prefix('/').unwrap_or(path);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(format!("'{uri}' names no database file"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        for scheme in ["postgresql://", "postgres://", "postgresql+psycopg2://"] {
            if let Some(rest) = uri.strip_prefix(scheme) {
                return Ok(Self::Postgres(format!("postgres://{rest}")));
            }
        }
        Err(format!(
            "unsupported backend store URI '{uri}': use sqlite:///path.db or postgresql://user@host/db"
        ))
    }

    /// The URI without its secrets, for logs: a PostgreSQL password becomes `***` and the
    /// query string (where libpq also takes `password=`) is left out.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:///{}", path.display()),
            Self::Postgres(url) => {
                let url = url.split('?').next().unwrap_or_default();
                let Some((scheme, rest)) = url.split_once("://") else {
                    return "postgres://***".into();
                };
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let authority = match authority.rsplit_once('@') {
                    Some((userinfo, host)) => match userinfo.split_once(':') {
                        Some((user, _password)) => format!("{user}:***@{host}"),
                        None => format!("{userinfo}@{host}"),
                    },
                    None => authority.to_owned(),
                };
                format!("{scheme}://{authority}/{path}")
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL sqlx connects with. SQLite paths are made absolute (a relative one would be
    /// read as a host name) and their folder is created.
    pub fn sqlx_url(&self) -> Result<String, sqlx::Error> {
        match self {
            Self::Postgres(url) => Ok(url.clone()),
            Self::Sqlite(path) => {
                let path = std::path::absolute(path).map_err(sqlx::Error::Io)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
                }
                Ok(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }
}

impl std::fmt::Debug for DatabaseUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        let uri = |s| DatabaseUri::parse(s).unwrap();
        assert_eq!(
            uri("postgresql://u:s3cret@h:5432/db?sslmode=require&password=x").redacted(),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            uri("postgresql://u:p@ss@h/db").redacted(),
            "postgres://u:***@h/db"
        );
        assert_eq!(uri("postgresql://u@h/db").redacted(), "postgres://u@h/db");
        assert_eq!(uri("postgresql://h/db").redacted(), "postgres://h/db");
        assert_eq!(uri("sqlite:////tmp/m.db").redacted(), "sqlite:////tmp/m.db");
        let debug = format!("{:?}", uri("postgresql://u:s3cret@h/db"));
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn reads_sqlalchemy_style_sqlite_uris() {
        assert_eq!(
            DatabaseUri::parse("sqlite:///mlflow.db"),
            Ok(DatabaseUri::Sqlite("mlflow.db".into()))
        );
        assert_eq!(
            DatabaseUri::parse("sqlite:////tmp/m.db"),
            Ok(DatabaseUri::Sqlite("/tmp/m.db".into()))
        );
        assert_eq!(
            DatabaseUri::parse("sqlite://data/m.db"),
            Ok(DatabaseUri::Sqlite("data/m.db".into()))
        );
    }

    #[test]
    fn reads_postgres_uris_and_refuses_others() {
        assert_eq!(
            DatabaseUri::parse("postgresql://u@h/db"),
            Ok(DatabaseUri::Postgres("postgres://u@h/db".into()))
        );
        assert!(DatabaseUri::parse("mysql://root@h/db").is_err());
        assert!(DatabaseUri::parse("sqlite:///").is_err());
    }
}
