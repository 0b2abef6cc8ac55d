//! Search compiled to SQL and run against the real schema (every file in
//! migrations/<backend>): a temporary SQLite file, and a throw-away PostgreSQL database
//! created through `FERROFLOW_TEST_POSTGRES` (default postgres://postgres@127.0.0.1:5432/test;
//! skipped when that default does not answer). Both go through sqlx's `Any` driver and
//! sea-query-binder; on SQLite every case is also read directly (rusqlite), as the server
//! reads search pages there.

use ferroflow::search::runs_page;
use ferroflow::search::sql::{OrderVia, Part, Plan, SemiJoin, runs_page_with};
use ferroflow::search::{
    Backend, ExperimentQuery, RunQuery, ViewType, experiments_page, parse_experiment_filter,
    parse_experiment_order_by, parse_run_filter, parse_run_order_by,
};
use sea_query::{PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder};
use sea_query_binder::{SqlxBinder, SqlxValues};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use std::path::PathBuf;
use std::time::{Duration, Instant};

// ---- databases ----------------------------------------------------------------------

/// Every migration of the backend, in order, as the server's migrator would apply them.
fn migrations(backend: Backend) -> String {
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("migration"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn sqlite_pool(path: &std::path::Path) -> AnyPool {
    install_default_drivers();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        // The server's connection settings, so timings are comparable.
        .after_connect(|conn, _| Box::pin(ferroflow::db::sqlite_pragmas(conn)))
        .connect(&url)
        .await
        .expect("open sqlite");
    pool.execute(sqlx::raw_sql(&migrations(Backend::Sqlite)))
        .await
        .expect("sqlite migration");
    pool
}

/// The admin connection for throw-away databases; `FERROFLOW_TEST_POSTGRES` as in the
/// other server tests.
fn postgres_admin_url() -> (String, bool) {
    match std::env::var("FERROFLOW_TEST_POSTGRES") {
        Ok(url) => (url, true),
        Err(_) => ("postgres://postgres@127.0.0.1:5432/test".to_owned(), false),
    }
}

/// A freshly created PostgreSQL database (named `ff_test_*`, so scripts/test.sh sweeps up
/// any a crashed run leaves), or `None` when no server answers and none was asked for.
async fn postgres_db() -> Option<(AnyPool, String)> {
    install_default_drivers();
    let (admin_url, required) = postgres_admin_url();
    let admin = match AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(&admin_url)
        .await
    {
        Ok(pool) => pool,
        Err(e) if !required => {
            eprintln!("PostgreSQL not reachable ({e}); skipping the PostgreSQL checks");
            return None;
        }
        Err(e) => panic!("FERROFLOW_TEST_POSTGRES is set but PostgreSQL is not reachable: {e}"),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("ff_test_search_{}_{nanos}", std::process::id());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    admin.close().await;
    let (prefix, _) = admin_url
        .rsplit_once('/')
        .expect("database URL ends in /<name>");
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .connect(&format!("{prefix}/{name}"))
        .await
        .expect("connect to the new database");
    pool.execute(sqlx::raw_sql(&migrations(Backend::Postgres)))
        .await
        .expect("postgres migration");
    Some((pool, name))
}

async fn drop_postgres_db(pool: AnyPool, name: &str) {
    pool.close().await;
    let admin = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&postgres_admin_url().0)
        .await
        .expect("admin");
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("drop database");
    admin.close().await;
}

fn build(stmt: &SelectStatement, backend: Backend) -> (String, SqlxValues) {
    match backend {
        Backend::Sqlite => stmt.build_sqlx(SqliteQueryBuilder),
        Backend::Postgres => stmt.build_sqlx(PostgresQueryBuilder),
    }
}

// ---- test data ------------------------------------------------------------------------

/// Runs of experiment 1 (r1..r5 active, r6 deleted) and one run (r7) of experiment 2.
/// Inserted in reverse so insertion order cannot stand in for the tie-breakers.
///
/// | run | name  | user  | status   | start | end  | loss | acc  | params              | tags                        |
/// |-----|-------|-------|----------|-------|------|------|------|---------------------|-----------------------------|
/// | r1  | Alpha | alice | FINISHED | 1000  | 2000 | 0.5  | 0.9  | lr 0.1, opt Adam, bs 32 | team Vision, note x*y, rank b |
/// | r2  | beta  | bob   | FINISHED | 2000  | -    | NaN  | 0.8  | lr 0.01, opt adam, bs 16 | team vision, rank d      |
/// | r3  | gamma | alice | RUNNING  | 3000  | -    | 0.2  | -    | lr 0.1, bs 32       | -                           |
/// | r4  | delta | carol | FAILED   | -     | -    | -    | -    | opt SGD             | team NLP, rank a            |
/// | r5  | eps   | bob   | FINISHED | 2000  | 2500 | 0.5  | -1   | lr 1e-3, bs 8       | note a[b]?, rank c          |
/// | r6  | zeta  | dave  | FINISHED | 5000  | -    | 0.1  | -    | lr 0.1              | (deleted)                   |
/// | r7  | eta   | erin  | FINISHED | 4000  | -    | 0.3  | -    | -                   | (experiment 2)              |
///
/// Datasets: mnist/abc123 used by r1 (context train) and r2 (eval); cifar/def456 used by
/// r2 (train) and r3 (no context).
const SEED: &str = r"
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES
  (0, 'Default', '/a/0', 'active', 100, 100),
  (1, 'alpha-exp', '/a/1', 'active', 300, 500),
  (2, 'Beta-exp', '/a/2', 'active', 200, 600),
  (3, 'gamma', '/a/3', 'deleted', 300, 300),
  (4, 'delta_exp', '/a/4', 'active', 400, 400);
INSERT INTO experiment_tags (experiment_id, key, value) VALUES
  (1, 'owner', 'Ann'), (1, 'stage', 'prod'), (2, 'owner', 'bob'), (3, 'owner', 'Ann');
INSERT INTO runs (id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) VALUES
  (17, 'r7', 2, 'eta', 'erin', 'FINISHED', 4000, NULL, 'active', 's3://b/7'),
  (16, 'r6', 1, 'zeta', 'dave', 'FINISHED', 5000, NULL, 'deleted', 's3://b/6'),
  (15, 'r5', 1, 'eps', 'bob', 'FINISHED', 2000, 2500, 'active', 's3://b/5'),
  (14, 'r4', 1, 'delta', 'carol', 'FAILED', NULL, NULL, 'active', 'file:///4'),
  (13, 'r3', 1, 'gamma', 'alice', 'RUNNING', 3000, NULL, 'active', 's3://b/3'),
  (12, 'r2', 1, 'beta', 'bob', 'FINISHED', 2000, NULL, 'active', 's3://b/2'),
  (11, 'r1', 1, 'Alpha', 'alice', 'FINISHED', 1000, 2000, 'active', 'S3://b/1');
INSERT INTO latest_metrics (run_id, experiment_id, key, value, timestamp, step, is_nan, min_value, max_value, count) VALUES
  (11, 1, 'loss', 0.5, 1, 0, 0, 0.5, 0.5, 1), (11, 1, 'acc', 0.9, 1, 0, 0, 0.9, 0.9, 1),
  (12, 1, 'loss', 0, 1, 0, 1, NULL, NULL, 1), (12, 1, 'acc', 0.8, 1, 0, 0, 0.8, 0.8, 1),
  (13, 1, 'loss', 0.2, 1, 0, 0, 0.2, 0.2, 1),
  (15, 1, 'loss', 0.5, 1, 0, 0, 0.5, 0.5, 1), (15, 1, 'acc', -1, 1, 0, 0, -1, -1, 1),
  (16, 1, 'loss', 0.1, 1, 0, 0, 0.1, 0.1, 1),
  (17, 2, 'loss', 0.3, 1, 0, 0, 0.3, 0.3, 1);
INSERT INTO params (run_id, key, value) VALUES
  (11, 'lr', '0.1'), (11, 'opt', 'Adam'), (11, 'bs', '32'),
  (12, 'lr', '0.01'), (12, 'opt', 'adam'), (12, 'bs', '16'),
  (13, 'lr', '0.1'), (13, 'bs', '32'),
  (14, 'opt', 'SGD'),
  (15, 'lr', '1e-3'), (15, 'bs', '8'),
  (16, 'lr', '0.1');
INSERT INTO tags (run_id, key, value) VALUES
  (11, 'team', 'Vision'), (11, 'note', 'x*y'), (11, 'rank', 'b'),
  (12, 'team', 'vision'), (12, 'rank', 'd'),
  (14, 'team', 'NLP'), (14, 'rank', 'a'),
  (15, 'note', 'a[b]?'), (15, 'rank', 'c');
INSERT INTO datasets (id, dataset_uuid, experiment_id, name, digest, source_type, source) VALUES
  (1, 'd1', 1, 'mnist', 'abc123', 'local', 'x'), (2, 'd2', 1, 'cifar', 'def456', 'local', 'y');
INSERT INTO run_inputs (run_id, dataset_id) VALUES (11, 1), (12, 1), (12, 2), (13, 2);
INSERT INTO run_input_tags (run_id, dataset_id, key, value) VALUES
  (11, 1, 'mlflow.data.context', 'train'), (12, 1, 'mlflow.data.context', 'eval'),
  (12, 2, 'mlflow.data.context', 'train');
";

// ---- cases ----------------------------------------------------------------------------

struct RunCase {
    filter: &'static str,
    order_by: &'static [&'static str],
    view: ViewType,
    experiments: &'static [i64],
    offset: u64,
    limit: u64,
    expected: &'static [&'static str],
}

const fn case(filter: &'static str, expected: &'static [&'static str]) -> RunCase {
    RunCase {
        filter,
        order_by: &[],
        view: ViewType::ActiveOnly,
        experiments: &[1],
        offset: 0,
        limit: 100,
        expected,
    }
}

const fn ordered(order_by: &'static [&'static str], expected: &'static [&'static str]) -> RunCase {
    RunCase {
        order_by,
        ..case("", expected)
    }
}

/// Default order for the active runs of experiment 1 is r3, r2, r5, r1, r4: start_time
/// DESC with NULL last, r2/r5 tied at 2000 and broken by run_uuid.
fn run_cases() -> Vec<RunCase> {
    vec![
        // defaults, views, experiments
        case("", &["r3", "r2", "r5", "r1", "r4"]),
        RunCase {
            view: ViewType::DeletedOnly,
            ..case("", &["r6"])
        },
        RunCase {
            view: ViewType::All,
            ..case("", &["r6", "r3", "r2", "r5", "r1", "r4"])
        },
        RunCase {
            experiments: &[1, 2],
            ..case("metrics.loss >= 0.3", &["r7", "r5", "r1"])
        },
        RunCase {
            experiments: &[],
            ..case("", &[])
        },
        // metrics: latest value; NaN only matches !=; missing never matches
        case("metrics.loss < 0.4", &["r3"]),
        case("metrics.loss = 0.5", &["r5", "r1"]),
        case("metrics.loss != 0.5", &["r3", "r2"]),
        case("metrics.loss != 0", &["r3", "r2", "r5", "r1"]),
        case("metrics.loss = 0", &[]),
        case("metrics.loss >= 0", &["r3", "r5", "r1"]),
        case("metrics.loss <= 0.5", &["r3", "r5", "r1"]),
        case("metrics.loss > 0.2", &["r5", "r1"]),
        case("metric.acc > -2", &["r2", "r5", "r1"]),
        case("metrics.acc > -1", &["r2", "r1"]),
        case("metrics.missing > 0", &[]),
        // params: =, != (has the key with another value), LIKE case-sensitive, ILIKE, IS NULL
        case("params.opt = 'adam'", &["r2"]),
        case("params.opt != 'SGD'", &["r2", "r1"]),
        case("params.opt LIKE 'a%'", &["r2"]),
        case("params.opt LIKE 'A%'", &["r1"]),
        case("params.opt LIKE '_dam'", &["r2", "r1"]),
        case("params.opt ILIKE 'ADAM'", &["r2", "r1"]),
        case("params.opt ILIKE 'a%'", &["r2", "r1"]),
        case("params.opt IS NULL", &["r3", "r5"]),
        case("params.opt IS NOT NULL", &["r2", "r1", "r4"]),
        case("params.lr = '0.1'", &["r3", "r1"]),
        RunCase {
            view: ViewType::All,
            ..case("params.lr = '0.1'", &["r6", "r3", "r1"])
        },
        case("parameter.lr = \"1e-3\"", &["r5"]),
        // tags, including GLOB specials that must stay literal
        case("tags.team LIKE 'V%'", &["r1"]),
        case("tags.team LIKE '%ision'", &["r2", "r1"]),
        case("tags.team ILIKE 'V%'", &["r2", "r1"]),
        case("tags.team = 'vision'", &["r2"]),
        case("tags.team != 'vision'", &["r1", "r4"]),
        case("tags.team IS NULL", &["r3", "r5"]),
        case("tag.team IS NOT NULL", &["r2", "r1", "r4"]),
        case("tags.note LIKE 'x*y'", &["r1"]),
        case("tags.note LIKE 'x*'", &[]),
        case("tags.note LIKE 'x_y'", &["r1"]),
        case("tags.note LIKE 'a[b]?'", &["r5"]),
        case("tags.note LIKE 'a[b]%'", &["r5"]),
        case("tags.note LIKE 'a%?'", &["r5"]),
        case("tags.note ILIKE 'A[B]?'", &["r5"]),
        case(r"tags.note LIKE 'x\*y'", &["r1"]),
        case(r"tags.note LIKE 'x\_y'", &[]),
        case("tags.`note` = 'x*y'", &["r1"]),
        // attributes
        case("attributes.run_name = 'Alpha'", &["r1"]),
        case("run_name LIKE '%a'", &["r3", "r2", "r1", "r4"]),
        case("`Run name` LIKE 'a%'", &[]),
        case("run_name ILIKE 'a%'", &["r1"]),
        case("run_name != 'beta'", &["r3", "r5", "r1", "r4"]),
        case("attributes.run_id IN ('r1', 'r3', 'zzz')", &["r3", "r1"]),
        case("run_id NOT IN ('r1')", &["r3", "r2", "r5", "r4"]),
        case("run_id = 'r5'", &["r5"]),
        case("run_id LIKE 'r%'", &["r3", "r2", "r5", "r1", "r4"]),
        case("status = 'FINISHED'", &["r2", "r5", "r1"]),
        case("status != 'FINISHED'", &["r3", "r4"]),
        case("user_id = 'alice'", &["r3", "r1"]),
        case("artifact_uri LIKE 's3://%'", &["r3", "r2", "r5"]),
        case("artifact_uri ILIKE 's3://%'", &["r3", "r2", "r5", "r1"]),
        case("start_time >= 2000", &["r3", "r2", "r5"]),
        case("created < 2000", &["r1"]),
        case("attributes.start_time = 2000", &["r2", "r5"]),
        case("start_time != 2000", &["r3", "r1"]),
        case("end_time > 0", &["r5", "r1"]),
        case("end_time <= 2000.5", &["r1"]),
        // AND, OR, parentheses
        case("user_id = 'alice' AND metrics.loss < 1", &["r3", "r1"]),
        case(
            "params.opt = 'SGD' OR (user_id = 'alice' AND metrics.loss < 0.3)",
            &["r3", "r4"],
        ),
        case(
            "params.opt = 'SGD' OR user_id = 'alice' AND metrics.loss < 0.3",
            &["r3", "r4"],
        ),
        case(
            "(params.opt = 'SGD' OR user_id = 'alice') AND metrics.loss < 0.3",
            &["r3"],
        ),
        case("params.opt IS NULL OR tags.team IS NULL", &["r3", "r5"]),
        case(
            "(status = 'RUNNING' OR status = 'FAILED') AND (params.bs = '32' OR params.opt = 'SGD')",
            &["r3", "r4"],
        ),
        case(
            "((run_id = 'r1')) OR ((run_id = 'r2' OR run_id = 'r4'))",
            &["r2", "r1", "r4"],
        ),
        // datasets
        case("datasets.name = 'mnist'", &["r2", "r1"]),
        case("dataset.name LIKE 'M%'", &[]),
        case("datasets.name ILIKE 'M%'", &["r2", "r1"]),
        case("datasets.context = 'train'", &["r2", "r1"]),
        case("datasets.context = 'eval'", &["r2"]),
        case("datasets.context IN ('eval', 'x')", &["r2"]),
        case("datasets.digest IN ('def456')", &["r3", "r2"]),
        case("datasets.name != 'mnist'", &["r3", "r2"]),
        case("datasets.name NOT IN ('cifar')", &["r2", "r1"]),
        case(
            "datasets.name = 'mnist' AND datasets.context = 'eval'",
            &["r2"],
        ),
        // ordering: metrics (NaN after values, missing last, both directions)
        ordered(&["metrics.loss ASC"], &["r3", "r5", "r1", "r2", "r4"]),
        ordered(&["metrics.loss DESC"], &["r5", "r1", "r3", "r2", "r4"]),
        ordered(&["metrics.acc DESC"], &["r1", "r2", "r5", "r3", "r4"]),
        ordered(&["metrics.acc"], &["r5", "r2", "r1", "r3", "r4"]),
        // params and tags (missing last both ways)
        ordered(&["params.bs ASC"], &["r2", "r3", "r1", "r5", "r4"]),
        ordered(&["params.bs DESC"], &["r5", "r3", "r1", "r2", "r4"]),
        ordered(&["tags.rank"], &["r4", "r1", "r5", "r2", "r3"]),
        ordered(&["tags.rank DESC"], &["r2", "r5", "r1", "r4", "r3"]),
        // attributes; explicit start_time replaces the implicit one, NULL last both ways
        ordered(&["start_time ASC"], &["r1", "r2", "r5", "r3", "r4"]),
        ordered(&["created DESC"], &["r3", "r2", "r5", "r1", "r4"]),
        ordered(&["end_time ASC"], &["r1", "r5", "r3", "r2", "r4"]),
        ordered(&["end_time DESC"], &["r5", "r1", "r3", "r2", "r4"]),
        ordered(&["user_id DESC"], &["r4", "r2", "r5", "r3", "r1"]),
        ordered(&["run_id DESC"], &["r5", "r4", "r3", "r2", "r1"]),
        ordered(
            &["status ASC", "metrics.acc DESC"],
            &["r4", "r1", "r2", "r5", "r3"],
        ),
        ordered(
            &["params.lr DESC", "run_id ASC"],
            &["r5", "r1", "r3", "r2", "r4"],
        ),
        ordered(&["params.lr ASC"], &["r2", "r3", "r1", "r5", "r4"]),
        // filter + order + paging
        RunCase {
            order_by: &["metrics.loss DESC"],
            ..case("metrics.loss != 0.2", &["r5", "r1", "r2"])
        },
        RunCase {
            limit: 2,
            ..case("", &["r3", "r2"])
        },
        RunCase {
            limit: 2,
            offset: 2,
            ..case("", &["r5", "r1"])
        },
        RunCase {
            limit: 2,
            offset: 4,
            ..case("", &["r4"])
        },
        RunCase {
            limit: 2,
            offset: 5,
            ..case("", &[])
        },
        RunCase {
            limit: 2,
            offset: 1,
            ..ordered(&["metrics.loss ASC"], &["r5", "r1"])
        },
        RunCase {
            limit: 1,
            offset: 3,
            ..ordered(&["metrics.loss DESC"], &["r2"])
        },
        RunCase {
            offset: u64::MAX,
            ..case("", &[])
        },
        // pages that cross from the runs with a real value of the order metric into the
        // NaN and missing ones (`runs_page::read` reads those in two parts), or start past
        // every real value (it then counts them)
        RunCase {
            limit: 2,
            offset: 2,
            ..ordered(&["metrics.loss ASC"], &["r1", "r2"])
        },
        RunCase {
            limit: 2,
            offset: 3,
            ..ordered(&["metrics.loss ASC"], &["r2", "r4"])
        },
        RunCase {
            limit: 5,
            offset: 4,
            ..ordered(&["metrics.loss DESC"], &["r4"])
        },
        RunCase {
            limit: 1,
            offset: 5,
            ..ordered(&["metrics.loss DESC"], &[])
        },
        RunCase {
            view: ViewType::All,
            ..ordered(&["metrics.loss ASC"], &["r6", "r3", "r5", "r1", "r2", "r4"])
        },
        RunCase {
            experiments: &[2],
            ..ordered(&["metrics.loss ASC"], &["r7"])
        },
        RunCase {
            experiments: &[1, 2],
            ..ordered(
                &["metrics.loss DESC"],
                &["r5", "r1", "r7", "r3", "r2", "r4"],
            )
        },
        ordered(
            &["metrics.acc DESC", "tags.rank ASC"],
            &["r1", "r2", "r5", "r4", "r3"],
        ),
        RunCase {
            order_by: &["metrics.loss DESC"],
            limit: 1,
            offset: 1,
            ..case("params.lr = '0.1' OR params.opt = 'SGD'", &["r3"])
        },
    ]
}

async fn run_uuids(
    pool: &AnyPool,
    backend: Backend,
    stmt: &SelectStatement,
) -> Result<Vec<String>, String> {
    let (sql, values) = build(stmt, backend);
    let rows = sqlx::query_with(&sql, values)
        .fetch_all(pool)
        .await
        .map_err(|e| format!("{e}\n  SQL: {sql}"))?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(1).map_err(|e| e.to_string()))
        .collect()
}

/// Runs every case through `page` (one way of reading a page) and lists the mismatches.
async fn check_cases(
    backend: Backend,
    shape: &str,
    mut page: impl AsyncFnMut(&RunQuery<'_>) -> Result<Vec<String>, String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for c in run_cases() {
        let filter = parse_run_filter(c.filter).unwrap_or_else(|e| panic!("{e}"));
        let order = parse_run_order_by(c.order_by).unwrap_or_else(|e| panic!("{e}"));
        let q = RunQuery {
            experiment_ids: c.experiments,
            filter: filter.as_ref(),
            order_by: &order,
            view: c.view,
            offset: c.offset,
            limit: c.limit,
        };
        let label = format!(
            "{backend:?} {shape} filter {:?} order {:?} view {:?} exp {:?} offset {} limit {}",
            c.filter, c.order_by, c.view, c.experiments, c.offset, c.limit
        );
        match page(&q).await {
            Ok(got) if got == c.expected => {}
            Ok(got) => failures.push(format!("{label}: expected {:?}, got {got:?}", c.expected)),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    failures
}

/// Every case read as the server reads a page: `runs_page::read`, which splits a page
/// ordered by a metric into the runs with a real value and the rest.
async fn check_runs_read(pool: &AnyPool, backend: Backend) -> Vec<String> {
    check_cases(backend, "runs_page::read", async |q| {
        runs_page::read(
            q,
            backend,
            |stmt| async move { run_uuids(pool, backend, &stmt).await },
            |stmt| async move {
                let (sql, values) = build(&stmt, backend);
                sqlx::query_scalar_with::<_, i64, _>(&sql, values)
                    .fetch_one(pool)
                    .await
                    .map_err(|e| format!("{e}\n  SQL: {sql}"))
            },
        )
        .await
    })
    .await
}

/// Every case read as the server reads a page on SQLite: the same `runs_page::read`, its
/// statements run directly (`db::sqlite_reads::prepare`, rusqlite), so every value the
/// compiler binds must reach SQLite as sqlx would have bound it.
fn check_runs_read_direct(path: &std::path::Path) -> Vec<String> {
    use ferroflow::db::sqlite_reads::prepare;
    use futures::FutureExt;
    let conn = rusqlite::Connection::open(path).expect("open sqlite directly");
    let uuids = |stmt: &SelectStatement| -> Result<Vec<String>, String> {
        let mut prepared = prepare(&conn, stmt).map_err(|e| e.to_string())?;
        let rows = prepared.raw_query().mapped(|row| row.get::<_, String>(1));
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    };
    let count = |stmt: &SelectStatement| -> Result<i64, String> {
        let mut prepared = prepare(&conn, stmt).map_err(|e| e.to_string())?;
        let mut rows = prepared.raw_query();
        let row = rows.next().map_err(|e| e.to_string())?.ok_or("no count")?;
        row.get(0).map_err(|e| e.to_string())
    };
    check_cases(Backend::Sqlite, "runs_page::read, direct", async |q| {
        runs_page::read(
            q,
            Backend::Sqlite,
            |stmt| std::future::ready(uuids(&stmt)),
            |stmt| std::future::ready(count(&stmt)),
        )
        .await
    })
    .now_or_never()
    .expect("direct reads complete in one poll")
}

async fn check_runs(pool: &AnyPool, backend: Backend, plan: Plan) -> Vec<String> {
    let mut failures = check_cases(backend, &format!("{plan:?}"), async |q| {
        run_uuids(pool, backend, &runs_page_with(q, backend, plan)).await
    })
    .await;
    // The full column list, in the documented order.
    let q = RunQuery {
        experiment_ids: &[1],
        filter: None,
        order_by: &[],
        view: ViewType::All,
        offset: 0,
        limit: 1,
    };
    let (sql, values) = build(&ferroflow::search::runs_page(&q, backend), backend);
    match sqlx::query_with(&sql, values).fetch_one(pool).await {
        Ok(row) => {
            let got = (
                row.try_get::<i64, _>(0).ok(),
                row.try_get::<String, _>(1).ok(),
                row.try_get::<i64, _>(2).ok(),
                row.try_get::<String, _>(3).ok(),
                row.try_get::<String, _>(4).ok(),
                row.try_get::<String, _>(5).ok(),
                row.try_get::<Option<i64>, _>(6).ok(),
                row.try_get::<Option<i64>, _>(7).ok(),
                row.try_get::<String, _>(8).ok(),
                row.try_get::<String, _>(9).ok(),
            );
            let want = (
                Some(16),
                Some("r6".to_owned()),
                Some(1),
                Some("zeta".to_owned()),
                Some("dave".to_owned()),
                Some("FINISHED".to_owned()),
                Some(Some(5000)),
                Some(None),
                Some("deleted".to_owned()),
                Some("s3://b/6".to_owned()),
            );
            if got != want {
                failures.push(format!(
                    "{backend:?} columns: expected {want:?}, got {got:?}"
                ));
            }
        }
        Err(e) => failures.push(format!("{backend:?} columns: {e}")),
    }
    failures
}

struct ExpCase {
    filter: &'static str,
    order_by: &'static [&'static str],
    view: ViewType,
    offset: u64,
    limit: u64,
    expected: &'static [i64],
}

const fn exp_case(filter: &'static str, expected: &'static [i64]) -> ExpCase {
    ExpCase {
        filter,
        order_by: &[],
        view: ViewType::ActiveOnly,
        offset: 0,
        limit: 100,
        expected,
    }
}

/// Default order is creation_time DESC, experiment_id ASC: active 4, 1, 2, 0 (and 3,
/// deleted, tied with 1 at 300).
fn experiment_cases() -> Vec<ExpCase> {
    vec![
        exp_case("", &[4, 1, 2, 0]),
        ExpCase {
            view: ViewType::All,
            ..exp_case("", &[4, 1, 3, 2, 0])
        },
        ExpCase {
            view: ViewType::DeletedOnly,
            ..exp_case("", &[3])
        },
        exp_case("name = 'Default'", &[0]),
        exp_case("name LIKE '%exp'", &[4, 1, 2]),
        exp_case("name LIKE 'b%'", &[]),
        exp_case("name ILIKE 'b%'", &[2]),
        exp_case("name LIKE 'delta_exp'", &[4]),
        exp_case(r"name LIKE 'alpha\_exp'", &[]),
        exp_case("name != 'Default'", &[4, 1, 2]),
        exp_case("experiment_id IN ('1', '2')", &[1, 2]),
        exp_case("experiment_id NOT IN (1, 2)", &[4, 0]),
        exp_case("experiment_id != 0", &[4, 1, 2]),
        exp_case("experiment_id = '4'", &[4]),
        exp_case("creation_time >= 300", &[4, 1]),
        exp_case("last_update_time < 550", &[4, 1, 0]),
        exp_case("attributes.creation_time = 200", &[2]),
        exp_case("tags.owner = 'Ann'", &[1]),
        ExpCase {
            view: ViewType::All,
            ..exp_case("tags.owner = 'Ann'", &[1, 3])
        },
        exp_case("tags.owner LIKE 'a%'", &[]),
        exp_case("tags.owner ILIKE 'a%'", &[1]),
        exp_case("tags.owner != 'bob'", &[1]),
        exp_case("tags.owner IS NULL", &[4, 0]),
        exp_case("tag.owner IS NOT NULL", &[1, 2]),
        exp_case("name = 'Default' OR tags.stage = 'prod'", &[1, 0]),
        exp_case(
            "(name LIKE '%exp' OR experiment_id = 0) AND creation_time < 350",
            &[1, 2, 0],
        ),
        ExpCase {
            order_by: &["last_update_time DESC"],
            ..exp_case("", &[2, 1, 4, 0])
        },
        ExpCase {
            order_by: &["experiment_id DESC"],
            ..exp_case("", &[4, 2, 1, 0])
        },
        ExpCase {
            order_by: &["creation_time"],
            view: ViewType::All,
            ..exp_case("", &[0, 2, 1, 3, 4])
        },
        ExpCase {
            order_by: &["name ASC"],
            ..exp_case("experiment_id IN (1, 4)", &[1, 4])
        },
        ExpCase {
            order_by: &["name DESC"],
            ..exp_case("experiment_id IN (1, 4)", &[4, 1])
        },
        ExpCase {
            limit: 2,
            offset: 1,
            ..exp_case("", &[1, 2])
        },
        ExpCase {
            limit: 2,
            offset: 3,
            ..exp_case("", &[0])
        },
    ]
}

async fn check_experiments(pool: &AnyPool, backend: Backend) -> Vec<String> {
    let mut failures = Vec::new();
    for c in experiment_cases() {
        let filter = parse_experiment_filter(c.filter).unwrap_or_else(|e| panic!("{e}"));
        let order = parse_experiment_order_by(c.order_by).unwrap_or_else(|e| panic!("{e}"));
        let q = ExperimentQuery {
            filter: filter.as_ref(),
            order_by: &order,
            view: c.view,
            offset: c.offset,
            limit: c.limit,
        };
        let label = format!(
            "{backend:?} experiments filter {:?} order {:?} view {:?}",
            c.filter, c.order_by, c.view
        );
        let (sql, values) = build(&experiments_page(&q, backend), backend);
        match sqlx::query_with(&sql, values).fetch_all(pool).await {
            Ok(rows) => {
                let got: Vec<i64> = rows
                    .iter()
                    .filter_map(|r| r.try_get::<i64, _>(0).ok())
                    .collect();
                if got != c.expected {
                    failures.push(format!("{label}: expected {:?}, got {got:?}", c.expected));
                }
            }
            Err(e) => failures.push(format!("{label}: {e}\n  SQL: {sql}")),
        }
    }
    failures
}

/// Every plan must give the same answers; the default is what the server uses.
const PLANS: [Plan; 4] = [
    Plan {
        semi_join: SemiJoin::InSubquery,
        order_via: OrderVia::LeftJoin,
    },
    Plan {
        semi_join: SemiJoin::Exists,
        order_via: OrderVia::LeftJoin,
    },
    Plan {
        semi_join: SemiJoin::InSubquery,
        order_via: OrderVia::Subquery,
    },
    Plan {
        semi_join: SemiJoin::Exists,
        order_via: OrderVia::Subquery,
    },
];

async fn check_all(pool: &AnyPool, backend: Backend) -> Vec<String> {
    pool.execute(sqlx::raw_sql(SEED)).await.expect("seed");
    let mut failures = Vec::new();
    for plan in PLANS {
        failures.extend(check_runs(pool, backend, plan).await);
    }
    failures.extend(check_runs_read(pool, backend).await);
    failures.extend(check_experiments(pool, backend).await);
    failures.extend(check_many_comparisons(pool, backend).await);
    failures
}

/// The largest filters the parser admits (most comparisons, deepest nesting) must also
/// be accepted by the database.
async fn check_many_comparisons(pool: &AnyPool, backend: Backend) -> Vec<String> {
    use ferroflow::search::filter::{MAX_COMPARISONS, MAX_DEPTH};
    let wide = vec!["(params.lr = '0.1' OR metrics.loss > 100)"; MAX_COMPARISONS / 2].join(" AND ");
    let mut deep = "params.lr = '0.1'".to_owned();
    for _ in 0..MAX_DEPTH {
        deep = format!("(metrics.loss > 100 OR {deep})");
    }
    let mut failures = Vec::new();
    for (label, text) in [("widest filter", wide), ("deepest filter", deep)] {
        let filter = parse_run_filter(&text).expect("parses");
        let q = RunQuery {
            experiment_ids: &[1],
            filter: filter.as_ref(),
            order_by: &[],
            view: ViewType::ActiveOnly,
            offset: 0,
            limit: 10,
        };
        match run_uuids(pool, backend, &ferroflow::search::runs_page(&q, backend)).await {
            Ok(got) if got == ["r3", "r1"] => {}
            Ok(got) => failures.push(format!("{backend:?} {label}: got {got:?}")),
            Err(e) => failures.push(format!(
                "{backend:?} {label}: {}",
                e.lines().next().unwrap_or_default()
            )),
        }
    }
    failures
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failing checks:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn sqlite_search() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("search.db");
    let pool = sqlite_pool(&path).await;
    let mut failures = check_all(&pool, Backend::Sqlite).await;
    pool.close().await;
    failures.extend(check_runs_read_direct(&path));
    report(&failures);
}

#[tokio::test]
async fn postgres_search() {
    let Some((pool, name)) = postgres_db().await else {
        return;
    };
    let failures = check_all(&pool, Backend::Postgres).await;
    drop_postgres_db(pool, &name).await;
    report(&failures);
}

// ---- 50k runs -------------------------------------------------------------------------

/// 50,000 runs in one experiment (5% deleted), each with 5 metrics (1% NaN, 1% missing
/// `loss`), 5 params and 3 tags: about 250k latest_metrics, 250k params, 150k tags.
const BULK: &str = r"
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
  VALUES (1, 'bulk', '/a/1', 'active', 0, 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO runs (id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
  SELECT i, lower(hex(randomblob(16))), 1, 'run-' || i, 'user' || (i % 17), 'FINISHED',
         1700000000000 + i * 1000, 1700000000000 + i * 1000 + 500,
         CASE WHEN i % 20 = 0 THEN 'deleted' ELSE 'active' END, 's3://bucket/' || i
  FROM n;
WITH RECURSIVE k(name) AS (VALUES ('loss'), ('acc'), ('f1'), ('val_loss'), ('lr_sched'))
INSERT INTO latest_metrics (run_id, experiment_id, key, value, timestamp, step, is_nan, min_value, max_value, count)
  SELECT r.id, 1, k.name,
         CASE WHEN r.id % 100 = 7 AND k.name = 'loss' THEN 0 ELSE (abs(random()) % 1000000) / 1000000.0 END,
         0, 100, CASE WHEN r.id % 100 = 7 AND k.name = 'loss' THEN 1 ELSE 0 END, 0, 1, 100
  FROM runs r, k
  WHERE NOT (r.id % 100 = 3 AND k.name = 'loss');
WITH RECURSIVE k(name) AS (VALUES ('opt'), ('lr'), ('batch_size'), ('seed'), ('model'))
INSERT INTO params (run_id, key, value)
  SELECT r.id, k.name,
         CASE k.name WHEN 'opt' THEN (CASE r.id % 3 WHEN 0 THEN 'adam' WHEN 1 THEN 'sgd' ELSE 'Adam' END)
                     ELSE k.name || '-' || (r.id % 50) END
  FROM runs r, k;
WITH RECURSIVE k(name) AS (VALUES ('team'), ('mlflow.runName'), ('mlflow.user'))
INSERT INTO tags (run_id, key, value) SELECT r.id, k.name, k.name || '-' || (r.id % 10) FROM runs r, k;
";

/// Times a page of 50k runs per filter/order pair under each plan, and prints the query
/// plan of the default shape. Timings are printed, not asserted (run with --nocapture).
async fn bench_50k(plans: &[Plan]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = sqlite_pool(&dir.path().join("bench.db")).await;
    let started = Instant::now();
    pool.execute(sqlx::raw_sql(BULK)).await.expect("bulk data");
    println!("generated 50k runs in {:?}", started.elapsed());

    let cases: [(&str, &[&str]); 5] = [
        (
            "metrics.loss < 0.5 AND params.opt = 'adam'",
            &["metrics.acc DESC"],
        ),
        ("metrics.loss < 0.5 AND params.opt = 'adam'", &[]),
        ("params.opt = 'adam'", &["metrics.acc DESC"]),
        ("", &["metrics.acc DESC"]),
        ("metrics.loss < 0.01", &[]),
    ];
    for (filter_text, order_text) in cases {
        let filter = parse_run_filter(filter_text).expect("filter");
        let order = parse_run_order_by(order_text).expect("order");
        for limit in [100, 1000] {
            let q = RunQuery {
                experiment_ids: &[1],
                filter: filter.as_ref(),
                order_by: &order,
                view: ViewType::ActiveOnly,
                offset: 0,
                limit,
            };
            for &plan in plans {
                let stmt = runs_page_with(&q, Backend::Sqlite, plan);
                let mut times = Vec::new();
                let mut rows = 0;
                for _ in 0..5 {
                    let t = Instant::now();
                    rows = run_uuids(&pool, Backend::Sqlite, &stmt)
                        .await
                        .expect("query")
                        .len();
                    times.push(t.elapsed());
                }
                times.sort();
                println!(
                    "filter {filter_text:?} order {order_text:?} limit {limit} {plan:?}: median {:?} (min {:?}), {rows} rows",
                    times[2], times[0]
                );
            }
            // The server's path: the same page through `runs_page::read` (metric-driven
            // parts where the order starts with a metric).
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let pool = &pool;
                rows = runs_page::read(
                    &q,
                    Backend::Sqlite,
                    |stmt| async move { run_uuids(pool, Backend::Sqlite, &stmt).await },
                    |stmt| async move {
                        let (sql, values) = build(&stmt, Backend::Sqlite);
                        sqlx::query_scalar_with::<_, i64, _>(&sql, values)
                            .fetch_one(pool)
                            .await
                            .map_err(|e| e.to_string())
                    },
                )
                .await
                .expect("read")
                .len();
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "filter {filter_text:?} order {order_text:?} limit {limit} runs_page::read: median {:?} (min {:?}), {rows} rows",
                times[2], times[0]
            );
        }
        let q = RunQuery {
            experiment_ids: &[1],
            filter: filter.as_ref(),
            order_by: &order,
            view: ViewType::ActiveOnly,
            offset: 0,
            limit: 100,
        };
        let mut shapes = vec![(
            "one statement",
            ferroflow::search::runs_page(&q, Backend::Sqlite),
        )];
        if ferroflow::search::sql::metric_driven(&q) {
            shapes.push((
                "metric-driven real part",
                ferroflow::search::sql::runs_page_part(&q, Backend::Sqlite, Part::Real),
            ));
        }
        for (shape, stmt) in shapes {
            let (sql, values) = build(&stmt, Backend::Sqlite);
            let rows = sqlx::query_with(&format!("EXPLAIN QUERY PLAN {sql}"), values)
                .fetch_all(&pool)
                .await
                .expect("explain");
            println!("EXPLAIN QUERY PLAN ({filter_text:?}, {order_text:?}), {shape}:");
            for row in rows {
                println!("  {}", row.try_get::<String, _>(3).unwrap_or_default());
            }
        }
    }
    pool.close().await;
}

#[tokio::test]
async fn bench_50k_sqlite() {
    bench_50k(&[Plan::default()]).await;
}

/// Every SQL shape side by side; slower, so on demand:
/// `cargo test --release --test search_sql bench_50k_sqlite_shapes -- --ignored --nocapture`
#[tokio::test]
#[ignore = "benchmark of the alternative SQL shapes; run on demand"]
async fn bench_50k_sqlite_shapes() {
    bench_50k(&PLANS).await;
}
