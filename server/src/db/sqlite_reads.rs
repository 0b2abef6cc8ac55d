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

/// Idle connections kept for reuse; more may be open at once under load, the extra ones
/// are closed when done.
const IDLE_MAX: usize = 4;

/// Direct read connections to one SQLite file. Cloning it is cheap.
#[derive(Clone)]
pub struct SqliteReads {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReads {
    pub fn new(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `read` on a connection, on a blocking thread, and returns what it read.
    pub async fn run<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let idle = || inner.idle.lock().unwrap_or_else(|e| e.into_inner());
            let conn = match idle().pop() {
                Some(conn) => conn,
                None => open(&inner.path)?,
            };
            let out = read(&conn);
            let mut idle = idle();
            if idle.len() < IDLE_MAX {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| ApiError::internal(format!("a database read failed: {e}")))?
        .map_err(from_sqlite)
    }
}

/// Opens a connection that may only read. Not `SQLITE_OPEN_READ_ONLY`: a read-only
/// connection to a WAL database cannot always map the shared-memory index; `query_only`
/// refuses writes just the same. The busy timeout matches the pool's, and the page cache
/// the readers' (the process-wide soft heap limit, set by the pool, covers these too).
fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA query_only = 1; PRAGMA busy_timeout = 60000; PRAGMA cache_size = -8192;",
    )?;
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
