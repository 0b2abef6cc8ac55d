//! Row-heavy reads from the SQLite file without sqlx. sqlx runs each SQLite connection on a
//! worker thread and hands rows over one at a time, about 3 µs each: a 10,000-point history
//! page read as rows cost 30 ms, and read as one text row (the way around it) SQLite spent
//! most of the page turning numbers into text that Rust then parsed back. Here a few
//! connections to the same file, through the same bundled SQLite, run on tokio's blocking
//! threads and read typed columns directly (bench/PROFILE.md, "get-history").
//!
//! Only reads go this way: every write still goes through the writer, so a read here sees
//! exactly what has been committed (and acknowledged) before it starts.

use crate::error::{ApiError, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The most connections open (and reads running) at once, as many as the read pool has on
/// two cores; further reads wait for one. Connections stay open for reuse. PostgreSQL's
/// typed reads (`db::Reads`) take the same number.
pub const CONNECTIONS: usize = 8;

/// Direct read connections to one SQLite file. Cloning it is cheap.
#[derive(Clone)]
pub struct SqliteReads {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl SqliteReads {
    pub fn new(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(CONNECTIONS)),
            }),
        }
    }

    /// Runs `read` on a connection, on a blocking thread, and returns what it read.
    pub async fn run<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        // The permit travels with the blocking task: a caller that gives up (a client gone)
        // does not free its connection's place while the read still runs.
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the direct read connections are closed"))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = || inner.idle.lock().unwrap_or_else(|e| e.into_inner());
            let conn = match idle().pop() {
                Some(conn) => conn,
                None => open(&inner.path)?,
            };
            let out = read(&conn);
            idle().push(conn);
            out
        })
        .await
        .map_err(|e| ApiError::internal(format!("a database read failed: {e}")))?
        .map_err(from_sqlite)
    }
}

/// Renders a sea-query statement as SQLite SQL with `?` parameters, prepares it (cached on
/// the connection) and binds its values in order.
pub fn prepare<'c, S: sea_query::QueryStatementWriter>(
    conn: &'c Connection,
    statement: &S,
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let (sql, values) = statement.build(sea_query::SqliteQueryBuilder);
    let mut prepared = conn.prepare_cached(&sql)?;
    for (i, value) in values.into_iter().enumerate() {
        bind(&mut prepared, i + 1, value)?;
    }
    Ok(prepared)
}

fn bind(
    statement: &mut rusqlite::Statement<'_>,
    at: usize,
    value: sea_query::Value,
) -> rusqlite::Result<()> {
    use sea_query::Value as V;
    match value {
        V::Bool(v) => statement.raw_bind_parameter(at, v),
        V::TinyInt(v) => statement.raw_bind_parameter(at, v),
        V::SmallInt(v) => statement.raw_bind_parameter(at, v),
        V::Int(v) => statement.raw_bind_parameter(at, v),
        V::BigInt(v) => statement.raw_bind_parameter(at, v),
        V::TinyUnsigned(v) => statement.raw_bind_parameter(at, v),
        V::SmallUnsigned(v) => statement.raw_bind_parameter(at, v),
        V::Unsigned(v) => statement.raw_bind_parameter(at, v),
        V::BigUnsigned(v) => {
            let v = v
                .map(i64::try_from)
                .transpose()
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            statement.raw_bind_parameter(at, v)
        }
        V::Float(v) => statement.raw_bind_parameter(at, v.map(f64::from)),
        V::Double(v) => statement.raw_bind_parameter(at, v),
        V::String(v) => statement.raw_bind_parameter(at, v.as_deref()),
        V::Char(v) => statement.raw_bind_parameter(at, v.map(String::from)),
        V::Bytes(v) => statement.raw_bind_parameter(at, v.as_deref()),
        #[allow(unreachable_patterns)] // variants of sea-query features not enabled here
        other => Err(rusqlite::Error::ToSqlConversionFailure(
            format!("no SQLite binding for {other:?}").into(),
        )),
    }
}

/// Opens a connection that may only read. Not `SQLITE_OPEN_READ_ONLY`: a read-only
/// connection to a WAL database cannot always map the shared-memory index; `query_only`
/// refuses writes just the same. Otherwise set up as the pool's readers are (the
/// process-wide soft heap limit, set by the pool, covers these too).
fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA query_only = 1;")?;
    conn.execute_batch(super::SQLITE_READ_SETTINGS)?;
    Ok(conn)
}

/// As for sqlx's errors: a file locked past the busy timeout or unreadable now is 503 (a
/// retry may succeed); anything else is a 500 with the detail in the log.
fn from_sqlite(e: rusqlite::Error) -> ApiError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable("The database is temporarily unavailable; retry shortly.")
        }
        _ => {
            tracing::error!(error = %e, "database error");
            ApiError::internal("Internal database error; see the server log.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A burst of reads opens no more than `CONNECTIONS` connections and every read is
    /// answered; a statement that fails comes back as an error, not a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_are_bounded_and_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reads.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);",
            )
            .unwrap();
        let reads = SqliteReads::new(path);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let burst = (0..40).map(|_| {
            let (reads, running, most) = (reads.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                reads
                    .run(move |conn| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        conn.query_row("SELECT x FROM t", [], |row| row.get::<_, i64>(0))
                    })
                    .await
            })
        });
        for read in futures::future::join_all(burst).await {
            assert_eq!(read.unwrap().unwrap(), 7);
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most > 1 && most <= CONNECTIONS, "{most} reads at once");
        assert!(reads.inner.idle.lock().unwrap().len() <= CONNECTIONS);

        let refused = reads
            .run(|conn| conn.execute("INSERT INTO t VALUES (8)", []))
            .await;
        assert!(refused.is_err(), "query_only refuses writes");
        let missing = reads
            .run(|conn| conn.query_row("SELECT y FROM t", [], |row| row.get::<_, i64>(0)))
            .await;
        assert!(missing.is_err());
    }
}
