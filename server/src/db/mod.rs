//! The database: which kind it is, the connection pools, migrations, and the writer that
//! every write goes through.
//!
//! One store speaks to SQLite and PostgreSQL through sqlx's `Any` driver; where their SQL
//! differs, the search compiler asks sea-query for the dialect and the migrations have a
//! folder per kind.

pub mod sqlite_reads;
mod uri;
pub mod writer;

pub use crate::search::Backend;
pub use sqlite_reads::SqliteReads;
pub use uri::DatabaseUri;
pub use writer::Writer;

use sqlx::{
    Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};
use std::time::Duration;

pub type Pool = sqlx::AnyPool;
pub type Conn = sqlx::AnyConnection;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// A connected database: a pool for reads, the writer for writes, and connections for
/// the reads of many rows (`Reads`).
#[derive(Clone)]
pub struct Db {
    pub backend: Backend,
    pub pool: Pool,
    pub writer: Writer,
    pub reads: Reads,
}

/// Connections for the reads that return many rows (history pages, a search page's
/// params, tags and metrics), which go around sqlx's `Any` driver: on SQLite it hands
/// every row across threads, on PostgreSQL it copies every row into its own form. So
/// SQLite's are read directly (`sqlite_reads`) and PostgreSQL's through sqlx's own
/// PostgreSQL driver, as typed binary columns.
#[derive(Clone)]
pub enum Reads {
    Sqlite(SqliteReads),
    Postgres(sqlx::PgPool),
}

impl Db {
    /// Connects, migrates (under the database's migration lock), and starts the writer.
    pub async fn connect(uri: &DatabaseUri) -> Result<Self, sqlx::Error> {
        let db = Self::connect_unmigrated(uri).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects without touching the schema.
    pub async fn connect_unmigrated(uri: &DatabaseUri) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = uri.backend();
        let url = uri.sqlx_url()?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        let pool = pool_options(backend, (cores * 4).max(8))
            .connect(&url)
            .await?;
        // SQLite has one writer at a time, so the writer owns the only write connection;
        // PostgreSQL takes several concurrent write transactions. Either way the writer's
        // connections are its own, apart from the readers'.
        let (writers, write_pool) = match backend {
            Backend::Sqlite => {
                // The writer never checkpoints: a checkpoint inside a commit stalls every
                // caller waiting on that commit. A background task does it instead.
                let write_pool = pool_options(backend, 1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlite_pragmas(conn).await?;
                            // The writer's cache holds the b-tree pages every insert
                            // walks; readers share the OS page cache instead.
                            conn.execute(
                                "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -65536",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                tokio::spawn(checkpoint_wal(pool.clone()));
                (1, write_pool)
            }
            // Each writer task holds a connection of its own (see `writer`), so they come
            // from a pool of their own rather than from the readers'.
            Backend::Postgres => {
                const WRITERS: u32 = 4;
                let write_pool = pool_options(backend, WRITERS).connect(&url).await?;
                (WRITERS as usize, write_pool)
            }
        };
        let writer = Writer::start(backend, write_pool, writers);
        let reads = match uri {
            DatabaseUri::Sqlite(path) => Reads::Sqlite(SqliteReads::new(path.clone())),
            // Generic plans from the first execution: a custom plan for a page's 1,000 run
            // ids scanned all of `latest_metrics` in parallel (24 ms), where the generic
            // plan, which PostgreSQL adopts only after five executions on a connection,
            // walks its primary key (2 ms). These statements always want the index.
            DatabaseUri::Postgres(_) => Reads::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(sqlite_reads::CONNECTIONS as u32)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET plan_cache_mode = force_generic_plan")
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect_lazy(&url)?,
            ),
        };
        Ok(Self {
            backend,
            pool,
            writer,
            reads,
        })
    }

    /// Applies pending migrations, under a lock held in the database so that replicas
    /// starting together migrate exactly once: sqlx takes an advisory lock on PostgreSQL;
    /// on SQLite (where sqlx takes none) a row in a lock table plays that part.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        let run = |migrator: &'static Migrator| async move {
            migrator
                .run(&self.pool)
                .await
                .map_err(|e| sqlx::Error::Migrate(Box::new(e)))
        };
        match self.backend {
            Backend::Postgres => run(&POSTGRES_MIGRATIONS).await,
            Backend::Sqlite => {
                self.sqlite_migration_lock().await?;
                let result = run(&SQLITE_MIGRATIONS).await;
                sqlx::query("DELETE FROM _ferroflow_migration_lock")
                    .execute(&self.pool)
                    .await?;
                result
            }
        }
    }

    /// Waits for and takes the SQLite migration lock. A holder that died leaves its row
    /// behind; rows older than two minutes are taken to be such and cleared.
    async fn sqlite_migration_lock(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS _ferroflow_migration_lock (id INTEGER PRIMARY KEY, acquired_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        loop {
            let now = crate::store::now_ms();
            sqlx::query("DELETE FROM _ferroflow_migration_lock WHERE acquired_at < $1")
                .bind(now - 120_000)
                .execute(&self.pool)
                .await?;
            let taken = sqlx::query(
                "INSERT INTO _ferroflow_migration_lock (id, acquired_at) VALUES (1, $1) ON CONFLICT DO NOTHING",
            )
            .bind(now)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The version of the newest migration this binary embeds: `/ready` expects the
    /// database at exactly this version.
    pub fn newest_migration(&self) -> i64 {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).max().unwrap_or_default()
    }

    /// The pools and their names in metrics: `main` (reads) and `writer` (the writer's
    /// connections: one on SQLite).
    pub fn pools(&self) -> Vec<(&'static str, &Pool)> {
        vec![("main", &self.pool), self.writer.pool()]
    }

    /// Runs every queued write (see `Writer::drain`), then closes the pools, waiting for
    /// connections in use to come back.
    pub async fn close(&self) {
        self.writer.drain().await;
        for (_, pool) in self.pools() {
            pool.close().await;
        }
        if let Reads::Postgres(pool) = &self.reads {
            pool.close().await;
        }
    }

    /// The newest applied migration version, for `/ready` and the admin page.
    pub async fn schema_version(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
    }
}

/// Takes a connection from `pool`, recording in `ferroflow_db_pool_acquire_wait_seconds`
/// the acquisitions that found no idle connection (and so waited for one to come back
/// or be opened) and how long they waited. sqlx has no hook for this, so it covers only
/// the acquisitions made here: the writer's, at its start and after a failed batch (it
/// holds its connection otherwise), so a wait here means the writer could not get back to
/// the database. Reads acquire inside sqlx and are not covered; the pool gauges sampled at
/// scrape time (`telemetry::metrics`) show their pressure.
pub async fn acquire(
    pool: &Pool,
    name: &'static str,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
    if pool.num_idle() > 0 {
        return pool.acquire().await;
    }
    let started = std::time::Instant::now();
    let conn = pool.acquire().await;
    crate::telemetry::metrics::pool_waited(name, started.elapsed());
    conn
}

fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // When the database is down, a request waits this long for a connection before it
        // is answered 503 (which clients retry); longer only keeps callers hanging.
        .acquire_timeout(Duration::from_secs(10));
    match backend {
        Backend::Postgres => options,
        // A connection to a file cannot have gone away while idle: testing it when taken
        // would only cost a round trip to sqlx's connection thread.
        Backend::Sqlite => options
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn))),
    }
}

/// WAL lets readers run beside the writer; the busy timeout makes a connection wait for
/// a lock instead of failing with "database is locked"; synchronous=FULL makes every
/// acknowledged commit survive power loss, affordable because the writer commits in
/// groups. Each connection keeps its own page cache: 8 MiB for each of the readers (the
/// OS caches the file for all of them) keeps a large database from costing the cache size
/// times the pool size in memory.
///
/// The soft heap limit bounds all of SQLite's memory in the process, every connection's
/// cache together: past it SQLite reuses the least recently used page of any cache
/// instead of allocating (the bundled build has SQLITE_ENABLE_MEMORY_MANAGEMENT, so the
/// caches share one LRU). The limit, 64 MiB, covers page caches, statements and in-memory
/// sorts; it is per process, and every connection repeats it.
pub async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA soft_heap_limit = 67108864;",
    )
    .await?;
    conn.execute(SQLITE_READ_SETTINGS).await?;
    Ok(())
}

/// What a connection needs to read (see `sqlite_pragmas`), shared with the direct
/// readers of `sqlite_reads`.
const SQLITE_READ_SETTINGS: &str =
    "PRAGMA busy_timeout = 60000; PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY;";

/// Copies committed pages from the WAL into the database file, beside the writer (a
/// passive checkpoint never blocks it). Under steady writes the WAL never gets a moment
/// to start over, so past ~32 MiB a restarting checkpoint briefly holds the writer back
/// (little is left to copy by then) and makes the next commit write from its start.
async fn checkpoint_wal(pool: Pool) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        let frames = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok(row) => sqlx::Row::try_get::<i64, _>(&row, 1).unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                continue;
            }
        };
        if frames > 8_192
            && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                .execute(&pool)
                .await
        {
            tracing::warn!(error = %e, "restarting WAL checkpoint failed");
        }
    }
}
