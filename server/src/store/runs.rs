//! Runs: their info row, lifecycle, and assembling a full `Run` for responses.

use crate::db::{Backend, Conn, Db, Reads, SqliteReads, sqlite_reads};
use crate::error::{ApiError, Result};
use crate::store::{inputs, logged_models, now_ms, run_data};
use app::models::{KeyValue, Run, RunData, RunInfo};
use futures::FutureExt;
use sqlx::Row;

pub const RUN_NAME_TAG: &str = "mlflow.runName";
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

const INFO_COLUMNS: &str = "id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

/// A run's internal integer key alongside its public info.
pub struct RunRow {
    pub id: i64,
    pub info: RunInfo,
}

/// The columns of `INFO_COLUMNS`, in order.
type InfoColumns = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
);

impl RunRow {
    fn from_columns(c: InfoColumns) -> Self {
        let (id, uuid, experiment_id, run_name, user_id, status, start_time, end_time) =
            (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7);
        RunRow {
            id,
            info: RunInfo {
                run_id: uuid.clone(),
                run_uuid: uuid,
                experiment_id: experiment_id.to_string(),
                run_name,
                user_id,
                status,
                start_time,
                end_time,
                lifecycle_stage: c.8,
                artifact_uri: c.9,
            },
        }
    }
}

/// Reads a row selected with `INFO_COLUMNS` (the search compiler selects the same).
pub fn info_from_row(row: &sqlx::any::AnyRow) -> Result<RunRow> {
    Ok(RunRow::from_columns((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
    )))
}

/// The same, from a direct SQLite read (`db::SqliteReads`).
fn info_from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow::from_columns((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    )))
}

pub(crate) fn not_found(run_id: &str) -> ApiError {
    ApiError::not_found(format!("Run with id={run_id} not found"))
}

pub async fn get_row(db: &Db, run_id: &str) -> Result<RunRow> {
    let row = sqlx::query(&format!(
        "SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = $1"
    ))
    .bind(run_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| not_found(run_id))?;
    info_from_row(&row)
}

/// The internal ids of runs by uuid, in one statement per chunk of uuids; the first
/// uuid, in the order given, that names no run is MLflow's "not found".
pub async fn ids(db: &Db, run_ids: &[&str]) -> Result<Vec<i64>> {
    use sea_query::{Alias, Expr, Query};
    let mut found = std::collections::HashMap::with_capacity(run_ids.len());
    for chunk in run_ids.chunks(crate::store::IN_CHUNK) {
        let mut q = Query::select();
        q.columns(["run_uuid", "id"].map(Alias::new))
            .from(Alias::new("runs"))
            .and_where(Expr::col(Alias::new("run_uuid")).is_in(chunk.iter().copied()));
        let (sql, values) = crate::store::build(&q, db.backend);
        let rows: Vec<(String, i64)> = sqlx::query_as_with(&sql, values)
            .fetch_all(&db.pool)
            .await?;
        found.extend(rows);
    }
    run_ids
        .iter()
        .map(|uuid| found.get(*uuid).copied().ok_or_else(|| not_found(uuid)))
        .collect()
}

async fn get_row_in(conn: &mut Conn, run_id: &str) -> Result<RunRow> {
    let row = sqlx::query(&format!(
        "SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = $1"
    ))
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| not_found(run_id))?;
    info_from_row(&row)
}

/// The internal key of a run that may be written to. Every write checks this, as
/// MLflow's `_check_run_is_active` does.
/// It also records the write for the stuck-run reaper (see `touch_stale`).
pub async fn active_id(conn: &mut Conn, run_id: &str) -> Result<i64> {
    let row =
        sqlx::query("SELECT id, lifecycle_stage, last_write_time FROM runs WHERE run_uuid = $1")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| not_found(run_id))?;
    let stage: String = row.try_get(1)?;
    if stage != "active" {
        return Err(not_active(run_id, &stage));
    }
    let id: i64 = row.try_get(0)?;
    let now = now_ms();
    if write_is_stale(row.try_get(2)?, now) {
        touch(conn, &[id], now).await?;
    }
    Ok(id)
}

/// How often a run's `last_write_time` is brought up to date: the reaper's threshold is
/// hours, so a minute's precision costs one small update per run and minute instead of
/// one per write.
pub const TOUCH_EVERY_MS: i64 = 60_000;

/// Whether a run whose last recorded write is `last_write_time` needs it updated now.
pub fn write_is_stale(last_write_time: Option<i64>, now: i64) -> bool {
    last_write_time.is_none_or(|t| t < now - TOUCH_EVERY_MS)
}

/// Records a write to the runs `ids` (internal keys) at `now`; callers pass only the runs
/// whose record is stale, so this runs about once a minute per written run.
pub async fn touch(conn: &mut Conn, ids: &[i64], now: i64) -> Result<()> {
    for chunk in crate::store::statement_chunks(ids, crate::store::IN_CHUNK) {
        let mut p = crate::store::Params::on(conn);
        let time = p.placeholder();
        let list: Vec<String> = chunk.iter().map(|_| p.placeholder()).collect();
        let sql = format!(
            "UPDATE runs SET last_write_time = {time} WHERE id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) fn not_active(run_id: &str, stage: &str) -> ApiError {
    ApiError::invalid(format!(
        "The run {run_id} must be in the 'active' state. Current state is {stage}."
    ))
}

/// A whole run: info, latest metrics, params, tags and dataset inputs.
pub async fn get(db: &Db, run_id: &str) -> Result<Run> {
    let row = get_row(db, run_id).await?;
    let mut runs = assemble(db, vec![row], None).await?;
    runs.pop().ok_or_else(|| not_found(run_id))
}

/// Attaches data to run rows. With `columns`, only the named params, tags and metrics
/// are read (the search projection); without, everything.
pub async fn assemble(
    db: &Db,
    rows: Vec<RunRow>,
    columns: Option<&run_data::Columns>,
) -> Result<Vec<Run>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut data = run_data::load(db, &ids, columns).await?;
    let (mut datasets, mut models) = if columns.is_none() {
        (
            inputs::load(db, &ids).await?,
            logged_models::of_runs(db, &ids).await?,
        )
    } else {
        Default::default()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut inputs = datasets.remove(&r.id).unwrap_or_default();
            let (model_outputs, model_inputs) = models.remove(&r.id).unwrap_or_default();
            inputs.model_inputs = model_inputs;
            Run {
                data: data.remove(&r.id).unwrap_or_else(RunData::default),
                inputs,
                outputs: app::models::RunOutputs { model_outputs },
                info: r.info,
            }
        })
        .collect())
}

/// One page of a run search, compiled to SQL (filter, order, page: one statement, or two
/// for a page ordered by a metric, see `search::runs_page`), then the page's data in a few
/// bulk reads. The flag tells whether more pages follow.
pub async fn search(
    db: &Db,
    query: &crate::search::RunQuery<'_>,
    columns: Option<&run_data::Columns>,
) -> Result<(Vec<Run>, bool)> {
    let (rows, more) = search_rows(db, query).await?;
    Ok((assemble(db, rows, columns).await?, more))
}

/// One page of a run search as info rows (with their internal keys), for callers that
/// read the page's data themselves (the UI grid and its CSV export).
pub async fn search_rows(
    db: &Db,
    query: &crate::search::RunQuery<'_>,
) -> Result<(Vec<RunRow>, bool)> {
    let probe = crate::search::RunQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut rows = match &db.reads {
        Reads::Sqlite(reads) => sqlite_search_rows(reads, &probe).await?,
        Reads::Postgres(_) => postgres_search_rows(db, &probe).await?,
    };
    let more = rows.len() as u64 > query.limit;
    rows.truncate(query.limit as usize);
    Ok((rows, more))
}

/// On SQLite the page's statements run directly (`db::SqliteReads`), all on one blocking
/// thread: through sqlx each statement and each of up to 1,001 rows was a hand-off
/// between threads (bench/PROFILE.md, "Search pages read directly").
async fn sqlite_search_rows(
    reads: &SqliteReads,
    query: &crate::search::RunQuery<'_>,
) -> Result<Vec<RunRow>> {
    let owned = crate::search::OwnedRunQuery::from(query);
    reads
        .run(move |conn| {
            let query = owned.query();
            // The statements answer synchronously, so the page is read in a single poll.
            crate::search::runs_page::read(
                &query,
                Backend::Sqlite,
                |statement| std::future::ready(sqlite_rows(conn, &statement)),
                |statement| std::future::ready(sqlite_count(conn, &statement)),
            )
            .now_or_never()
            .expect("a page of ready statements completes in one poll")
        })
        .await
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    statement: &sea_query::SelectStatement,
) -> rusqlite::Result<Vec<RunRow>> {
    let mut prepared = sqlite_reads::prepare(conn, statement)?;
    let rows = prepared.raw_query().mapped(info_from_sqlite);
    rows.collect()
}

fn sqlite_count(
    conn: &rusqlite::Connection,
    statement: &sea_query::SelectStatement,
) -> rusqlite::Result<i64> {
    let mut prepared = sqlite_reads::prepare(conn, statement)?;
    let mut rows = prepared.raw_query();
    rows.next()?.map_or(Ok(0), |row| row.get(0))
}

async fn postgres_search_rows(db: &Db, query: &crate::search::RunQuery<'_>) -> Result<Vec<RunRow>> {
    let backend = db.backend;
    let rows = crate::search::runs_page::read(
        query,
        backend,
        |statement| {
            let pool = db.pool.clone();
            async move {
                let (sql, values) = crate::store::build(&statement, backend);
                sqlx::query_with(&sql, values).fetch_all(&pool).await
            }
        },
        |statement| {
            let pool = db.pool.clone();
            async move {
                let (sql, values) = crate::store::build(&statement, backend);
                sqlx::query_scalar_with(&sql, values).fetch_one(&pool).await
            }
        },
    )
    .await?;
    rows.iter().map(info_from_row).collect()
}

/// The metric, param and tag keys of the most recent `sample` runs of some experiments,
/// sorted: what the grid offers as columns without scanning every run.
pub async fn recent_keys(db: &Db, experiment_ids: &[i64], sample: i64) -> Result<[Vec<String>; 3]> {
    let mut out: [Vec<String>; 3] = Default::default();
    if experiment_ids.is_empty() {
        return Ok(out);
    }
    for (i, table) in ["latest_metrics", "params", "tags"].iter().enumerate() {
        let mut p = crate::store::Params::new(db.backend);
        let ids = experiment_ids
            .iter()
            .map(|_| p.placeholder())
            .collect::<Vec<_>>()
            .join(", ");
        let limit = p.placeholder();
        let sql = format!(
            "SELECT DISTINCT key FROM {table} WHERE run_id IN \
             (SELECT id FROM runs WHERE experiment_id IN ({ids}) ORDER BY start_time DESC LIMIT {limit}) \
             ORDER BY key"
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for id in experiment_ids {
            q = q.bind(*id);
        }
        out[i] = q.bind(sample).fetch_all(&db.pool).await?;
    }
    Ok(out)
}

/// A readable random run name, as MLflow gives runs created without one.
pub fn generate_name() -> String {
    use rand::seq::IndexedRandom;
    const ADJECTIVES: &[&str] = &[
        "able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
        "glad", "grand", "keen", "kind", "lucky", "merry", "nimble", "polite", "quick", "quiet",
        "rare", "sharp", "shy", "smart", "swift", "tidy", "vivid", "warm", "wise", "zesty",
    ];
    const NOUNS: &[&str] = &[
        "ant", "bass", "bear", "crane", "deer", "doe", "eel", "finch", "fox", "frog", "gull",
        "hare", "hawk", "ibis", "jay", "koi", "lark", "lynx", "mole", "moth", "newt", "owl",
        "puma", "quail", "ram", "seal", "slug", "toad", "wasp", "yak",
    ];
    let mut rng = rand::rng();
    format!(
        "{}-{}-{}",
        ADJECTIVES.choose(&mut rng).unwrap_or(&"able"),
        NOUNS.choose(&mut rng).unwrap_or(&"ant"),
        rand::Rng::random_range(&mut rng, 0..1000)
    )
}

pub struct NewRun {
    pub run_uuid: String,
    pub experiment_id: i64,
    pub user_id: String,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
}

/// The name a new run gets: the request's, else its `mlflow.runName` tag, else a random
/// one. A request whose name and tag disagree is refused, as in MLflow.
pub fn resolve_name(run_name: Option<&str>, tags: &[KeyValue]) -> Result<String> {
    let tag = tags
        .iter()
        .find(|t| t.key == RUN_NAME_TAG)
        .map(|t| t.value.as_str());
    match (run_name.filter(|n| !n.is_empty()), tag) {
        (Some(name), Some(tag)) if name != tag => Err(ApiError::invalid(format!(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different \
             values (run_name='{name}', mlflow.runName='{tag}')."
        ))),
        (Some(name), _) => Ok(name.to_owned()),
        (None, Some(tag)) if !tag.is_empty() => Ok(tag.to_owned()),
        _ => Ok(generate_name()),
    }
}

/// Inserts a run (RUNNING, active) with its tags; its name is also its `mlflow.runName`.
/// The uuid is chosen by the caller so that a replayed job creates the same run.
/// Returns the whole new run, so that answering needs no second read.
pub async fn create(conn: &mut Conn, new: &NewRun, name: &str) -> Result<Run> {
    let start_time = new.start_time.unwrap_or_else(now_ms);
    // The experiment is checked by the insert itself (one statement instead of two in the
    // common case); only when nothing was inserted is it read, to say why.
    let inserted = sqlx::query(
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri, last_write_time) \
         SELECT $1, experiment_id, $2, $3, 'RUNNING', $4, 'active', rtrim(artifact_location, '/') || '/' || $1 || '/artifacts', $5 \
         FROM experiments WHERE experiment_id = $6 AND lifecycle_stage = 'active' \
         RETURNING id, artifact_uri",
    )
    .bind(&new.run_uuid)
    .bind(name)
    .bind(&new.user_id)
    .bind(start_time)
    .bind(now_ms())
    .bind(new.experiment_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(inserted) = inserted else {
        return Err(experiment_refused(conn, new.experiment_id).await);
    };
    let (id, artifact_uri): (i64, String) = (inserted.try_get(0)?, inserted.try_get(1)?);
    let mut tags: Vec<KeyValue> = new
        .tags
        .iter()
        .filter(|t| t.key != RUN_NAME_TAG)
        .cloned()
        .collect();
    tags.push(KeyValue {
        key: RUN_NAME_TAG.into(),
        value: name.to_owned(),
    });
    // The name is already the run's: the tags go in without `set_tags`' rename.
    run_data::upsert_tags(conn, id, &tags).await?;
    let info = RunInfo {
        run_id: new.run_uuid.clone(),
        run_uuid: new.run_uuid.clone(),
        run_name: name.to_owned(),
        experiment_id: new.experiment_id.to_string(),
        user_id: new.user_id.clone(),
        status: "RUNNING".into(),
        start_time: Some(start_time),
        end_time: None,
        artifact_uri,
        lifecycle_stage: "active".into(),
    };
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags.dedup_by(|later, earlier| {
        // The last value of a key wins, as in `set_tags`.
        let same = later.key == earlier.key;
        if same {
            std::mem::swap(&mut earlier.value, &mut later.value);
        }
        same
    });
    Ok(Run {
        info,
        data: RunData {
            tags,
            ..RunData::default()
        },
        inputs: Default::default(),
        outputs: Default::default(),
    })
}

/// Why a run cannot be created in `experiment_id`: it does not exist, or is not active.
async fn experiment_refused(conn: &mut Conn, experiment_id: i64) -> ApiError {
    let stage: std::result::Result<Option<String>, sqlx::Error> =
        sqlx::query_scalar("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1")
            .bind(experiment_id)
            .fetch_optional(&mut *conn)
            .await;
    match stage {
        Err(e) => e.into(),
        Ok(None) => ApiError::not_found(format!("No Experiment with id={experiment_id} exists")),
        Ok(Some(stage)) => ApiError::invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
        )),
    }
}

pub const STATUSES: &[&str] = &["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

/// Parses a run status given as a name or its proto number.
pub fn parse_status(s: &str) -> Result<&'static str> {
    let by_number = match s {
        "1" => Some("RUNNING"),
        "2" => Some("SCHEDULED"),
        "3" => Some("FINISHED"),
        "4" => Some("FAILED"),
        "5" => Some("KILLED"),
        _ => None,
    };
    by_number
        .or_else(|| STATUSES.iter().copied().find(|v| v.eq_ignore_ascii_case(s)))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid value '{s}' for parameter 'status': expected one of {}",
                STATUSES.join(", ")
            ))
        })
}

/// Applies `runs/update`; renaming also updates the `mlflow.runName` tag.
pub async fn update(
    conn: &mut Conn,
    run_id: &str,
    status: Option<&str>,
    end_time: Option<i64>,
    run_name: Option<&str>,
) -> Result<RunInfo> {
    let run_name = run_name.filter(|n| !n.is_empty());
    // One statement in the common case; absent fields keep their values.
    let row = sqlx::query(&format!(
        "UPDATE runs SET status = COALESCE($1, status), end_time = COALESCE($2, end_time), name = COALESCE($3, name) \
         WHERE run_uuid = $4 AND lifecycle_stage = 'active' RETURNING {INFO_COLUMNS}"
    ))
    .bind(status)
    .bind(end_time)
    .bind(run_name)
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        // Missing or not active: `active_id` says which, in MLflow's words.
        active_id(conn, run_id).await?;
        return Err(ApiError::internal("the run changed during its update"));
    };
    let row = info_from_row(&row)?;
    if let Some(name) = run_name {
        run_data::set_tags(
            conn,
            row.id,
            &[KeyValue {
                key: RUN_NAME_TAG.into(),
                value: name.into(),
            }],
        )
        .await?;
    }
    Ok(row.info)
}

/// Soft-deletes a run. Deleting a deleted run is a no-op, so a retried call succeeds.
pub async fn delete(conn: &mut Conn, run_id: &str) -> Result<()> {
    let row = get_row_in(conn, run_id).await?;
    if row.info.lifecycle_stage == "active" {
        sqlx::query("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(row.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn restore(conn: &mut Conn, run_id: &str) -> Result<()> {
    let row = get_row_in(conn, run_id).await?;
    sqlx::query("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE id = $1")
        .bind(row.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
