//! Load shedding. At most `--max-in-flight` requests are served at once; a request over
//! that waits briefly for a slot and is otherwise answered at once with 503
//! `TEMPORARILY_UNAVAILABLE` and `Retry-After` (the mlflow client backs off and retries).
//! Without it, a crowd of clients queues without bound on the database pools: memory grows
//! with the crowd, and each caller waits out the pool's 30 s time-out before failing.
//! Liveness, readiness and metrics are never shed (see `startup::router`).

use crate::error::ApiError;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a request over the limit waits for a slot before it is turned away: long
/// enough to absorb a burst, short enough that a client is never left hanging.
pub const ADMISSION_WAIT: Duration = Duration::from_secs(1);

/// The slots of requests in flight; cloning shares them.
#[derive(Clone)]
pub struct Admission(Arc<Semaphore>);

impl Admission {
    pub fn new(max_in_flight: usize) -> Self {
        Self(Arc::new(Semaphore::new(max_in_flight.max(1))))
    }
}

/// The middleware: holds a slot while the handler runs (a streamed response body is not
/// counted once the handler has returned it).
pub async fn admit(State(admission): State<Admission>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(ADMISSION_WAIT, admission.0.clone().acquire_owned()).await {
        Ok(Ok(_slot)) => next.run(req).await,
        // Counted in `ferroflow_http_requests_total` with status 503, like every answer.
        _ => ApiError::unavailable("The server is overloaded; retry shortly.").into_response(),
    }
}
