//! Coalesces single-point `log-metric` calls. Whatever calls are waiting when the
//! previous write finishes become one writer job: one lookup of their runs, one
//! multi-row insert and one summary upsert, whatever their number. Each caller still
//! gets its own answer (a deleted run fails only its own calls) and only after the
//! commit that holds its point.
//!
//! At shutdown `drain` closes the queue (new calls get 503) and writes every call already
//! queued before returning: an accepted call is never dropped.

use super::write;
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::store::points::{self, Point};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The most calls one job takes.
const MAX_BATCH: usize = 4096;
/// Calls waiting before callers wait: back-pressure instead of unbounded memory.
const QUEUE: usize = 16_384;

struct Call {
    run_uuid: String,
    point: Point,
    done: oneshot::Sender<Result<()>>,
}

/// The handle handlers use; cloning it is cheap.
#[derive(Clone)]
pub struct PointQueue {
    calls: mpsc::Sender<Call>,
    stop: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl PointQueue {
    pub fn start(db: Db) -> Self {
        let (calls, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let task = tokio::spawn(coalesce(db, rx, stop.clone()));
        Self {
            calls,
            stop,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    /// Refuses new calls, writes every call already queued (through the writer, which
    /// must therefore be drained after this), and returns once they are answered.
    pub async fn drain(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the log-metric queue failed");
        }
    }

    /// Logs one point of the run `run_uuid`; returns once it is committed.
    pub async fn log(&self, run_uuid: String, point: Point) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.calls
            .send(Call {
                run_uuid,
                point,
                done,
            })
            .await
            .map_err(|_| ApiError::unavailable("The server is shutting down."))?;
        answer
            .await
            .map_err(|_| ApiError::unavailable("The write was interrupted; retry it."))?
    }
}

async fn coalesce(db: Db, mut rx: mpsc::Receiver<Call>, stop: CancellationToken) {
    let mut calls = Vec::new();
    loop {
        // Once stopped, the queue is closed: senders get an error, and `recv_many` hands
        // out what is already queued, then 0.
        let received = tokio::select! {
            biased;
            () = stop.cancelled(), if !rx.is_closed() => {
                rx.close();
                continue;
            }
            n = rx.recv_many(&mut calls, MAX_BATCH) => n,
        };
        if received == 0 {
            return;
        }
        let (items, dones): (Vec<(String, Point)>, Vec<_>) = calls
            .drain(..)
            .map(|c| ((c.run_uuid, c.point), c.done))
            .unzip();
        let backend = db.backend;
        let outcome = write(&db, items, move |conn, items| {
            Box::pin(async move {
                let uuids: Vec<&str> = items.iter().map(|(u, _)| u.as_str()).collect();
                let ids = points::active_ids(conn, backend, &uuids).await?;
                let mut good = Vec::with_capacity(items.len());
                let mut answers = Vec::with_capacity(items.len());
                for (uuid, point) in items {
                    match &ids[uuid] {
                        Ok(id) => {
                            good.push((*id, point));
                            answers.push(Ok(()));
                        }
                        Err(e) => answers.push(Err(e.clone())),
                    }
                }
                points::log(conn, &good).await?;
                Ok(answers)
            })
        })
        .await;
        match outcome {
            Ok(answers) => {
                let written = answers.iter().filter(|a| a.is_ok()).count();
                crate::telemetry::metrics::written(written, 0, 0);
                for (done, answer) in dones.into_iter().zip(answers) {
                    let _ = done.send(answer);
                }
            }
            Err(e) => {
                for done in dones {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}
