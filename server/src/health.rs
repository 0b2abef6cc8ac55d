//! Probes for orchestrators: `/health` says the process is up (liveness), `/ready` that it
//! can serve (readiness): the database answers and its schema is the one this binary
//! was built for.

use crate::db::Db;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// How long `/ready` waits for the database before calling it unreachable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /health`.
pub async fn health() -> &'static str {
    "OK"
}

/// `GET /ready`: 200 when the database answers and its applied schema version equals the
/// newest migration embedded in this binary; 503 otherwise, naming the failed check.
pub async fn ready(State(db): State<Db>) -> (StatusCode, Json<Value>) {
    let expected = db.newest_migration();
    let applied = match tokio::time::timeout(DATABASE_TIMEOUT, db.schema_version()).await {
        Err(_) => {
            return not_ready(
                "database",
                format!(
                    "the database did not answer within {} s",
                    DATABASE_TIMEOUT.as_secs()
                ),
                json!({}),
            );
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database did not answer");
            return not_ready(
                "database",
                format!("the database did not answer: {e}"),
                json!({}),
            );
        }
        Ok(Ok(applied)) => applied.unwrap_or_default(),
    };
    if applied != expected {
        return not_ready(
            "schema",
            format!(
                "the database is at schema version {applied}; this binary needs {expected} \
                 (`ferroflow db upgrade` migrates it)"
            ),
            json!({ "schema_version": applied, "expected_schema_version": expected }),
        );
    }
    (
        StatusCode::OK,
        Json(json!({ "status": "ready", "schema_version": applied })),
    )
}

fn not_ready(check: &str, message: String, extra: Value) -> (StatusCode, Json<Value>) {
    let mut body = json!({ "status": "not ready", "failed_check": check, "message": message });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}
