//! Group commit. Every write runs as a job on a writer task; a writer takes all the jobs
//! waiting in its queue, runs them in one transaction and commits once, then answers each
//! caller. A caller's 200 therefore always follows its commit, and 20,000 single-point
//! writes a second cost a few hundred commits instead of 20,000.
//!
//! A job that fails (say a param that may not change) must not take its neighbours down:
//! the batch is rolled back, the failed job set aside and the rest run again together;
//! set-aside jobs then run alone, so every caller gets exactly its own outcome. Jobs are
//! therefore written to be re-runnable.
//!
//! Each writer task keeps its connection from one batch to the next. Taking it from the
//! pool for every batch cost two pings (sqlx tests a connection when it is taken and
//! again when it is given back), and on SQLite every ping is two thread hand-offs to
//! sqlx's connection thread: as much as a small batch's own statements. A connection is
//! given back, and a fresh one taken, only after it failed.
//!
//! At shutdown `drain` closes the queue (new jobs are refused with 503) and returns once
//! every job already queued has run and been answered: nothing a caller was promised is
//! dropped.

use super::{Backend, Conn, Pool};
use crate::error::{ApiError, Result};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::Executor;
use sqlx::pool::PoolConnection;
use std::any::Any;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The most jobs one transaction takes; bounds a transaction's size and latency.
const MAX_BATCH: usize = 512;
/// Queue depth before callers wait: back-pressure instead of unbounded memory.
const QUEUE: usize = 16_384;

type Output = Box<dyn Any + Send>;
type JobFn = Box<dyn for<'c> FnMut(&'c mut Conn) -> BoxFuture<'c, Result<Output>> + Send>;

struct Job {
    run: JobFn,
    done: oneshot::Sender<Result<Output>>,
}

/// The handle requests use to write. Cloning it is cheap.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// The writer's pool's name in metrics.
const POOL_NAME: &str = "writer";

struct Shared {
    /// The pool the writer takes its connections from.
    pool: Pool,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Writer {
    /// Starts `tasks` writer tasks over `pool`, which metrics call `writer`.
    pub fn start(backend: Backend, pool: Pool, tasks: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let stop = CancellationToken::new();
        let handles = (0..tasks)
            .map(|_| tokio::spawn(write_loop(backend, pool.clone(), rx.clone(), stop.clone())))
            .collect();
        Self {
            queue,
            shared: Arc::new(Shared {
                pool,
                stop,
                tasks: std::sync::Mutex::new(handles),
            }),
        }
    }

    /// The writer's pool and its name in metrics.
    pub fn pool(&self) -> (&'static str, &Pool) {
        (POOL_NAME, &self.shared.pool)
    }

    /// Refuses new jobs, runs every job already queued, and returns once the writer tasks
    /// have answered them all and stopped. Later calls return at once.
    pub async fn drain(&self) {
        self.shared.stop.cancel();
        let tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a writer task failed");
            }
        }
    }

    /// Runs `job` inside a write transaction and returns its output once that transaction
    /// has committed. The job may run more than once (see the module docs) and must give
    /// the same result each time.
    pub async fn run<T, F>(&self, mut job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnMut(&'c mut Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let run: JobFn = Box::new(move |conn| {
            let fut = job(conn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Output) })
        });
        self.queue
            .send(Job { run, done })
            .await
            .map_err(|_| ApiError::unavailable("The server is shutting down."))?;
        let output = answer
            .await
            .map_err(|_| ApiError::unavailable("The write was interrupted; retry it."))??;
        output
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| ApiError::internal("writer returned the wrong type"))
    }
}

async fn write_loop(
    backend: Backend,
    pool: Pool,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    stop: CancellationToken,
) {
    let mut held = None;
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            // Once stopped, the queue is closed: senders get an error, and `recv` hands
            // out what is already queued, then `None`.
            let first = tokio::select! {
                biased;
                () = stop.cancelled(), if !rx.is_closed() => {
                    rx.close();
                    rx.recv().await
                }
                job = rx.recv() => job,
            };
            match first {
                Some(job) => batch.push(job),
                None => return,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        let mut link = Link {
            pool: &pool,
            held: &mut held,
        };
        run_batch(backend, &mut link, batch).await;
    }
}

/// A writer task's connection: the one it holds, and the pool that gives it a new one
/// when it has none.
struct Link<'a> {
    pool: &'a Pool,
    held: &'a mut Option<PoolConnection<sqlx::Any>>,
}

impl Link<'_> {
    /// Begins a transaction on the held connection, or on one from the pool when there is
    /// none or the held one fails to begin (it may have died with a database restart since
    /// its last batch; the pool tests the one it hands out).
    async fn begin(&mut self, sql: &str) -> Result<&mut Conn, Retry> {
        let begun = match self.held.as_deref_mut() {
            Some(conn) => conn.execute(sql).await.is_ok(),
            None => false,
        };
        if !begun {
            self.reset().await;
            let conn = super::acquire(self.pool, POOL_NAME)
                .await
                .map_err(Retry::Fatal)?;
            let conn: &mut Conn = self.held.insert(conn);
            conn.execute(sql).await.map_err(classify)?;
        }
        Ok(self
            .held
            .as_deref_mut()
            .expect("a connection was just taken"))
    }

    /// Gives the connection back after a failure that may have broken it or left it inside
    /// a transaction (a COMMIT refused with SQLITE_BUSY keeps it open): rolled back, if it
    /// can be, then checked by the pool, which closes it if broken. The next batch takes
    /// another.
    async fn reset(&mut self) {
        if let Some(mut conn) = self.held.take() {
            let _ = (&mut *conn).execute("ROLLBACK").await;
        }
    }
}

async fn run_batch(backend: Backend, link: &mut Link<'_>, batch: Vec<Job>) {
    // A failed job is set aside and the others retried together, so a batch costs one
    // transaction per failure plus one, not one per job. The failed jobs then run alone:
    // their answer must not depend on writes of neighbours that were rolled back.
    let mut pending = batch;
    let mut set_aside = Vec::new();
    while !pending.is_empty() {
        let results = match attempt(backend, link, &mut pending).await {
            Ok(results) => results,
            Err(e) => {
                for job in pending.drain(..).chain(set_aside.drain(..)) {
                    let _ = job.done.send(Err(e.clone()));
                }
                return;
            }
        };
        match results.iter().position(Result::is_err) {
            Some(first_failure) if pending.len() > 1 => {
                set_aside.push(pending.remove(first_failure))
            }
            _ => {
                for (job, result) in pending.drain(..).zip(results) {
                    let _ = job.done.send(result);
                }
            }
        }
    }
    for mut job in set_aside {
        let result = match attempt(backend, link, std::slice::from_mut(&mut job)).await {
            Ok(mut r) => r
                .pop()
                .unwrap_or_else(|| Err(ApiError::internal("empty batch"))),
            Err(e) => Err(e),
        };
        let _ = job.done.send(result);
    }
}

/// Runs the jobs in one transaction. Commits only if all succeed. The outer error is a
/// failure of the transaction itself (connection lost, commit failed): nothing committed.
/// Deadlocks and serialization failures (PostgreSQL) are retried a few times.
async fn attempt(
    backend: Backend,
    link: &mut Link<'_>,
    batch: &mut [Job],
) -> Result<Vec<Result<Output>>> {
    let mut tries = 0;
    loop {
        tries += 1;
        let attempted = attempt_once(backend, link, batch).await;
        if attempted.is_err() {
            link.reset().await;
        }
        match attempted {
            Err(Retry::Transient(e)) if tries < 5 => {
                tracing::debug!(error = %e, tries, "retrying write batch");
                tokio::time::sleep(std::time::Duration::from_millis(5 * tries)).await;
            }
            Err(Retry::Transient(e)) | Err(Retry::Fatal(e)) => return Err(e.into()),
            Ok(results) => return Ok(results),
        }
    }
}

enum Retry {
    Transient(sqlx::Error),
    Fatal(sqlx::Error),
}

fn classify(e: sqlx::Error) -> Retry {
    let transient = e
        .as_database_error()
        .and_then(|d| d.code())
        // 40P01 deadlock, 40001 serialization failure; SQLITE_BUSY(5) should not reach us
        // with a single writer and a busy timeout, but is safe to retry.
        .is_some_and(|c| matches!(&*c, "40P01" | "40001" | "5" | "517"));
    if transient {
        Retry::Transient(e)
    } else {
        Retry::Fatal(e)
    }
}

/// Runs the batch once. After an error the connection's state is in doubt (say, a failed
/// COMMIT on SQLite leaves the transaction open), so `attempt` gives it back.
async fn attempt_once(
    backend: Backend,
    link: &mut Link<'_>,
    batch: &mut [Job],
) -> Result<Vec<Result<Output>>, Retry> {
    // IMMEDIATE takes SQLite's write lock up front, so the transaction can never fail
    // half-way with SQLITE_BUSY when it upgrades from reading to writing.
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let started = std::time::Instant::now();
    let conn = link.begin(begin).await?;
    let mut results = Vec::with_capacity(batch.len());
    let mut failed_db: Option<sqlx::Error> = None;
    for job in batch.iter_mut() {
        // A panicking job must neither kill this task (SQLite has only one writer) nor
        // unwind past the open transaction: it becomes that job's error.
        let r = std::panic::AssertUnwindSafe((job.run)(conn))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!("a write job panicked; its batch is rolled back");
                Err(ApiError::internal(
                    "The write failed unexpectedly; see the server log.",
                ))
            });
        let failed = r.as_ref().err().map(|e| e.code);
        results.push(r);
        match failed {
            None => {}
            // The database went away: nothing in this transaction can commit. Said as a
            // lost connection, so every caller in the batch is answered 503 (retry).
            Some(app::models::ErrorCode::TemporarilyUnavailable) => {
                failed_db = Some(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the database connection failed during a write",
                )));
                break;
            }
            // The batch will be rolled back and replayed job by job; running the rest
            // now would be wasted (and PostgreSQL has aborted the transaction anyway).
            Some(_) => break,
        }
    }
    if let Some(e) = failed_db {
        let _ = (&mut *conn).execute("ROLLBACK").await;
        return Err(Retry::Fatal(e));
    }
    if results.len() < batch.len() || results.iter().any(Result::is_err) {
        (&mut *conn)
            .execute("ROLLBACK")
            .await
            .map_err(Retry::Fatal)?;
        // Jobs after the failure did not run; report them as failed so the caller
        // replays each alone.
        while results.len() < batch.len() {
            results.push(Err(ApiError::unavailable("not run")));
        }
        return Ok(results);
    }
    (&mut *conn).execute("COMMIT").await.map_err(classify)?;
    tracing::debug!(
        jobs = batch.len(),
        micros = started.elapsed().as_micros() as u64,
        "write batch committed"
    );
    Ok(results)
}
