//! Compiles parsed filters and orderings to sea-query `SelectStatement`s.
//!
//! Every value from a request becomes a bound parameter; every identifier comes from the
//! enums below, so nothing a client sends is spliced into SQL text.
//!
//! Semantics follow MLflow's SqlAlchemyStore:
//! * metrics compare against the run's latest value of the key (`latest_metrics`); a
//!   NaN (`is_nan = 1`, stored as 0) matches only `!=`; a run without the metric never
//!   matches;
//! * params and tags match when the run has that key with a matching value, so `!=`
//!   means "has the key with another value" (MLflow's inner join); `IS NULL` means the
//!   run lacks the key;
//! * `LIKE` is case-sensitive and `ILIKE` case-insensitive on both backends. Patterns use
//!   `%` and `_`, and `\` escapes the next character (PostgreSQL's default escape, used on
//!   SQLite too so a pattern means the same everywhere).
//! * order_by sorts missing values last in both directions, and for metrics NaN after
//!   real values and before missing ones.

use super::filter::{
    Attribute, Comparison, DatasetField, ExperimentAttribute, Expr, Field, GridField, Number, Op,
    Value,
};
use super::order_by::OrderBy;
use super::{Backend, ViewType};
use sea_query::extension::postgres::PgExpr;
use sea_query::extension::sqlite::SqliteExpr;
use sea_query::{
    Alias, Cond, Condition, DynIden, Expr as Sql, ExprTrait, Func, Iden, IntoIden, JoinType,
    LikeExpr, NullOrdering, Order, Query, SelectStatement, SimpleExpr,
};

/// One page of `search_runs`.
#[derive(Debug, Clone)]
pub struct RunQuery<'a> {
    /// Runs of these experiments only; empty matches nothing.
    pub experiment_ids: &'a [i64],
    pub filter: Option<&'a Expr>,
    /// Explicit ordering; tie-breakers are appended.
    pub order_by: &'a [OrderBy],
    pub view: ViewType,
    pub offset: u64,
    pub limit: u64,
}

/// A `RunQuery` that owns its parts, for a read that runs on another thread.
#[derive(Debug, Clone)]
pub struct OwnedRunQuery {
    experiment_ids: Vec<i64>,
    filter: Option<Expr>,
    order_by: Vec<OrderBy>,
    view: ViewType,
    offset: u64,
    limit: u64,
}

impl OwnedRunQuery {
    pub fn query(&self) -> RunQuery<'_> {
        RunQuery {
            experiment_ids: &self.experiment_ids,
            filter: self.filter.as_ref(),
            order_by: &self.order_by,
            view: self.view,
            offset: self.offset,
            limit: self.limit,
        }
    }
}

impl From<&RunQuery<'_>> for OwnedRunQuery {
    fn from(q: &RunQuery<'_>) -> Self {
        Self {
            experiment_ids: q.experiment_ids.to_vec(),
            filter: q.filter.cloned(),
            order_by: q.order_by.to_vec(),
            view: q.view,
            offset: q.offset,
            limit: q.limit,
        }
    }
}

/// One page of `search_experiments`.
#[derive(Debug, Clone)]
pub struct ExperimentQuery<'a> {
    pub filter: Option<&'a Expr>,
    /// Explicit ordering; empty means `creation_time DESC, experiment_id ASC`.
    pub order_by: &'a [OrderBy],
    pub view: ViewType,
    pub offset: u64,
    pub limit: u64,
}

/// How the run filter and order_by are shaped in SQL. The others stay so the
/// `bench_50k_sqlite` test can compare them.
///
/// The default, `EXISTS` plus `LEFT JOIN`, measured best overall on SQLite with 50k runs:
/// an `EXISTS` probe costs one primary-key lookup per run of the searched experiments,
/// and stops early when the page is ordered by an index (the default order). An `IN`
/// list is built from *every* matching row of every experiment first, and metric lists
/// also read each table row for `is_nan`; it wins only for very selective filters.
/// PostgreSQL turns `EXISTS` into a semi-join and plans it with its statistics.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub semi_join: SemiJoin,
    pub order_via: OrderVia,
}

/// How "the run has a matching param/tag/metric row" is written.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemiJoin {
    /// `runs.id IN (SELECT run_id FROM t WHERE key = ? AND ...)`
    InSubquery,
    /// `EXISTS (SELECT 1 FROM t WHERE t.run_id = runs.id AND key = ? AND ...)`
    Exists,
}

/// How a metric/param/tag order_by key reaches the row's value.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderVia {
    /// `LEFT JOIN t AS o0 ON o0.run_id = runs.id AND o0.key = ?`
    LeftJoin,
    /// `(SELECT value FROM t WHERE run_id = runs.id AND key = ?)` per sort key.
    Subquery,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            semi_join: SemiJoin::Exists,
            order_via: OrderVia::LeftJoin,
        }
    }
}

#[derive(Iden)]
enum Runs {
    Table,
    Id,
    RunUuid,
    ExperimentId,
    Name,
    UserId,
    Status,
    StartTime,
    EndTime,
    LifecycleStage,
    ArtifactUri,
}

#[derive(Iden)]
enum Experiments {
    Table,
    ExperimentId,
    Name,
    ArtifactLocation,
    LifecycleStage,
    CreationTime,
    LastUpdateTime,
}

#[derive(Iden)]
enum LatestMetrics {
    Table,
}

#[derive(Iden)]
enum Params {
    Table,
}

#[derive(Iden)]
enum Tags {
    Table,
}

#[derive(Iden)]
enum ExperimentTags {
    Table,
}

#[derive(Iden)]
enum Datasets {
    Table,
}

#[derive(Iden)]
enum RunInputs {
    Table,
}

#[derive(Iden)]
enum RunInputTags {
    Table,
}

/// Columns of the child tables, shared by name.
#[derive(Iden, Clone, Copy)]
enum Col {
    RunId,
    ExperimentId,
    DatasetId,
    Id,
    Key,
    Value,
    IsNan,
    MinValue,
    MaxValue,
    Name,
    Digest,
}

/// The input tag that holds a dataset's context.
const CONTEXT_TAG: &str = "mlflow.data.context";

/// Which runs of a page's order a statement selects. A page ordered first by a metric,
/// of one experiment, is read in two parts (`search::runs_page`): the runs with a real
/// value of that metric, driven by the index `latest_metrics (experiment_id, key, is_nan,
/// value)` in the page's order so the database stops after one page of matches, then,
/// only when those run out, the runs where it is NaN or missing (MLflow orders them last).
/// A single statement instead probes every run of the experiment and sorts the matches
/// (71 ms against a few at 50,000 runs; bench/PROFILE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Every matching run.
    All,
    /// The runs with a real value of the first order key.
    Real,
    /// The runs where it is NaN or missing.
    Rest,
}

/// Whether a query's page is read in [`Part`]s: ordered first by a metric, one experiment.
pub fn metric_driven(q: &RunQuery) -> bool {
    q.experiment_ids.len() == 1
        && q.order_by
            .first()
            .is_some_and(|o| matches!(o.field, Field::Metric(_)))
}

/// Selects `runs.id, run_uuid, experiment_id, name, user_id, status, start_time,
/// end_time, lifecycle_stage, artifact_uri` for one page.
pub fn runs_page(q: &RunQuery, backend: Backend) -> SelectStatement {
    runs_page_with(q, backend, Plan::default())
}

/// [`runs_page`] with an explicit SQL shape, for measuring the alternatives.
#[doc(hidden)]
pub fn runs_page_with(q: &RunQuery, backend: Backend, plan: Plan) -> SelectStatement {
    select_runs(q, backend, plan, Part::All)
}

/// One part of a page (see [`Part`]); `Real` and `Rest` need a [`metric_driven`] query.
pub fn runs_page_part(q: &RunQuery, backend: Backend, part: Part) -> SelectStatement {
    select_runs(q, backend, Plan::default(), part)
}

/// `SELECT COUNT(*)` of the runs in the `Real` part, whatever the page: where the `Rest`
/// part starts when a page begins past every real value.
pub fn count_real(q: &RunQuery, backend: Backend) -> SelectStatement {
    let mut s = select_runs(q, backend, Plan::default(), Part::Real);
    s.clear_selects();
    s.clear_order_by();
    s.reset_limit();
    s.reset_offset();
    s.expr(Func::count(Sql::col((Runs::Table, Runs::Id))));
    s
}

fn select_runs(q: &RunQuery, backend: Backend, plan: Plan, part: Part) -> SelectStatement {
    let mut s = Query::select();
    s.columns([
        (Runs::Table, Runs::Id),
        (Runs::Table, Runs::RunUuid),
        (Runs::Table, Runs::ExperimentId),
        (Runs::Table, Runs::Name),
        (Runs::Table, Runs::UserId),
        (Runs::Table, Runs::Status),
        (Runs::Table, Runs::StartTime),
        (Runs::Table, Runs::EndTime),
        (Runs::Table, Runs::LifecycleStage),
        (Runs::Table, Runs::ArtifactUri),
    ]);

    let compiler = Compiler {
        backend,
        owner: Owner::Run,
        semi_join: plan.semi_join,
    };
    let mut cond = Cond::all()
        .add(Sql::col((Runs::Table, Runs::ExperimentId)).is_in(q.experiment_ids.iter().copied()));
    // The driving metric's alias, the same name the `All` shape joins it under.
    let driver = Alias::new("om0").into_iden();
    let driving_key = match q.order_by.first().map(|o| &o.field) {
        Some(Field::Metric(key)) if part != Part::All => Some(key.as_str()),
        _ => None,
    };
    match (part, driving_key) {
        (Part::Real, Some(key)) => {
            // The summary drives, runs are probed by primary key. SQLite keeps the order
            // of a CROSS JOIN (its statistics would put `runs` outside); PostgreSQL has
            // no ON for a cross join and plans the order itself.
            let join = match backend {
                Backend::Sqlite => JoinType::CrossJoin,
                Backend::Postgres => JoinType::InnerJoin,
            };
            let experiment = q.experiment_ids.first().copied().unwrap_or_default();
            s.from_as(LatestMetrics::Table, driver.clone()).join(
                join,
                Runs::Table,
                Sql::col((Runs::Table, Runs::Id)).equals((driver.clone(), Col::RunId)),
            );
            cond = cond
                .add(Sql::col((driver.clone(), Col::ExperimentId)).eq(experiment))
                .add(Sql::col((driver.clone(), Col::Key)).eq(key))
                .add(Sql::col((driver.clone(), Col::IsNan)).eq(0));
        }
        (Part::Rest, Some(_)) => {
            // `order_by_metric` below joins the summary as `om0`: NaN, or no row.
            s.from(Runs::Table);
            cond = cond.add(
                Cond::any()
                    .add(Sql::col((driver.clone(), Col::RunId)).is_null())
                    .add(Sql::col((driver.clone(), Col::IsNan)).ne(0)),
            );
        }
        _ => {
            s.from(Runs::Table);
        }
    }
    if let Some(stage) = stage(q.view) {
        cond = cond.add(Sql::col((Runs::Table, Runs::LifecycleStage)).eq(stage));
    }
    if let Some(filter) = q.filter {
        cond = cond.add(compiler.condition(filter));
    }
    s.cond_where(cond);

    let mut start_time_ordered = false;
    for (i, order) in q.order_by.iter().enumerate() {
        let dir = if order.ascending {
            Order::Asc
        } else {
            Order::Desc
        };
        match &order.field {
            // Every row of the driven part has a real value: the index's order.
            Field::Metric(_) if i == 0 && part == Part::Real => {
                s.order_by((driver.clone(), Col::Value), dir);
            }
            Field::Attribute(a) => {
                start_time_ordered |= *a == Attribute::StartTime;
                let col = Sql::col((Runs::Table, run_column(*a)));
                if a.is_numeric() {
                    order_nulls_last(&mut s, col.into(), dir, backend);
                } else {
                    s.order_by_expr(col.into(), dir);
                }
            }
            Field::Metric(key) => order_by_metric(&mut s, i, key, dir, plan.order_via),
            Field::Param(key) => order_by_value(
                &mut s,
                Params::Table.into_iden(),
                i,
                key,
                dir,
                plan.order_via,
            ),
            Field::Tag(key) => {
                order_by_value(&mut s, Tags::Table.into_iden(), i, key, dir, plan.order_via)
            }
            Field::Grid(GridField::MetricMin(key)) => {
                order_by_summary(&mut s, i, key, Col::MinValue, dir, plan.order_via)
            }
            Field::Grid(GridField::MetricMax(key)) => {
                order_by_summary(&mut s, i, key, Col::MaxValue, dir, plan.order_via)
            }
            // Runs without an end last, in both directions.
            Field::Grid(GridField::Duration) => {
                s.order_by_expr(duration().is_null(), Order::Asc);
                s.order_by_expr(duration(), dir);
            }
            // The order_by parser admits only the fields above for runs.
            Field::Dataset(_)
            | Field::Experiment(_)
            | Field::Registry(_)
            | Field::LoggedModel(_) => {}
        }
    }
    if !start_time_ordered {
        let start = Sql::col((Runs::Table, Runs::StartTime)).into();
        order_nulls_last(&mut s, start, Order::Desc, backend);
    }
    s.order_by((Runs::Table, Runs::RunUuid), Order::Asc);
    s.limit(clamp(q.limit)).offset(clamp(q.offset));
    s
}

/// Selects `experiment_id, name, artifact_location, lifecycle_stage, creation_time,
/// last_update_time` for one page.
pub fn experiments_page(q: &ExperimentQuery, backend: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.columns([
        (Experiments::Table, Experiments::ExperimentId),
        (Experiments::Table, Experiments::Name),
        (Experiments::Table, Experiments::ArtifactLocation),
        (Experiments::Table, Experiments::LifecycleStage),
        (Experiments::Table, Experiments::CreationTime),
        (Experiments::Table, Experiments::LastUpdateTime),
    ])
    .from(Experiments::Table);

    let compiler = Compiler {
        backend,
        owner: Owner::Experiment,
        semi_join: Plan::default().semi_join,
    };
    let mut cond = Cond::all();
    if let Some(stage) = stage(q.view) {
        cond = cond.add(Sql::col((Experiments::Table, Experiments::LifecycleStage)).eq(stage));
    }
    if let Some(filter) = q.filter {
        cond = cond.add(compiler.condition(filter));
    }
    s.cond_where(cond);

    let default = [
        (ExperimentAttribute::CreationTime, false),
        (ExperimentAttribute::ExperimentId, true),
    ];
    let explicit: Vec<(ExperimentAttribute, bool)> = q
        .order_by
        .iter()
        .filter_map(|o| match o.field {
            Field::Experiment(a) => Some((a, o.ascending)),
            _ => None,
        })
        .collect();
    let mut order: Vec<(ExperimentAttribute, bool)> = if explicit.is_empty() {
        default.to_vec()
    } else {
        explicit
    };
    if !order
        .iter()
        .any(|(a, _)| *a == ExperimentAttribute::ExperimentId)
    {
        order.push((ExperimentAttribute::ExperimentId, true));
    }
    // Every orderable experiment column is NOT NULL, so no null-ordering keys are needed.
    for (attr, ascending) in order {
        let dir = if ascending { Order::Asc } else { Order::Desc };
        s.order_by((Experiments::Table, experiment_column(attr)), dir);
    }
    s.limit(clamp(q.limit)).offset(clamp(q.offset));
    s
}

/// Both databases take signed 64-bit LIMIT and OFFSET (and the `Any` binder panics on a
/// larger u64), so larger values are clamped; no table gets near either bound.
fn clamp(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

fn stage(view: ViewType) -> Option<&'static str> {
    match view {
        ViewType::ActiveOnly => Some("active"),
        ViewType::DeletedOnly => Some("deleted"),
        ViewType::All => None,
    }
}

/// Orders by `col`, NULLs last (MLflow's order), in the form each database can read from
/// an index. SQLite treats NULL as the smallest value, PostgreSQL as the largest: plain
/// where that already puts NULLs last (SQLite's `DESC`, PostgreSQL's `ASC`), `NULLS LAST`
/// on PostgreSQL (the `runs_by_experiment` index is declared `start_time DESC NULLS
/// LAST`, so the default order walks it), an `(x IS NULL)` key before it on SQLite.
fn order_nulls_last(s: &mut SelectStatement, col: SimpleExpr, dir: Order, backend: Backend) {
    match (backend, &dir) {
        (Backend::Sqlite, Order::Desc) | (Backend::Postgres, Order::Asc) => {
            s.order_by_expr(col, dir);
        }
        (Backend::Postgres, _) => {
            s.order_by_expr_with_nulls(col, dir, NullOrdering::Last);
        }
        (Backend::Sqlite, _) => {
            s.order_by_expr(col.clone().is_null(), Order::Asc);
            s.order_by_expr(col, dir);
        }
    }
}

fn run_column(a: Attribute) -> Runs {
    match a {
        Attribute::RunId => Runs::RunUuid,
        Attribute::RunName => Runs::Name,
        Attribute::UserId => Runs::UserId,
        Attribute::Status => Runs::Status,
        Attribute::ArtifactUri => Runs::ArtifactUri,
        Attribute::StartTime => Runs::StartTime,
        Attribute::EndTime => Runs::EndTime,
    }
}

fn experiment_column(a: ExperimentAttribute) -> Experiments {
    match a {
        ExperimentAttribute::Name => Experiments::Name,
        ExperimentAttribute::ExperimentId => Experiments::ExperimentId,
        ExperimentAttribute::CreationTime => Experiments::CreationTime,
        ExperimentAttribute::LastUpdateTime => Experiments::LastUpdateTime,
    }
}

/// Metric order: present real values by value, then NaN, then runs without the metric.
fn order_by_metric(s: &mut SelectStatement, i: usize, key: &str, dir: Order, via: OrderVia) {
    let lm = LatestMetrics::Table.into_iden();
    match via {
        OrderVia::LeftJoin => {
            let alias = Alias::new(format!("om{i}")).into_iden();
            s.join_as(
                JoinType::LeftJoin,
                lm,
                alias.clone(),
                on_run_key(&alias, key),
            );
            // run_id is NOT NULL in the table, so NULL here means "no row".
            s.order_by_expr(Sql::col((alias.clone(), Col::RunId)).is_null(), Order::Asc);
            s.order_by((alias.clone(), Col::IsNan), Order::Asc);
            s.order_by((alias, Col::Value), dir);
        }
        OrderVia::Subquery => {
            // is_nan is 0 or 1; a missing row gives NULL, sorted after both as 2.
            let nan_rank = Sql::expr(scalar_subquery(lm.clone(), Col::IsNan, key)).if_null(2);
            s.order_by_expr(nan_rank, Order::Asc);
            s.order_by_expr(scalar_subquery(lm, Col::Value, key), dir);
        }
    }
}

/// A metric's min or max order (the grid's): by value, runs without one (no such metric,
/// or only NaN) last.
fn order_by_summary(
    s: &mut SelectStatement,
    i: usize,
    key: &str,
    column: Col,
    dir: Order,
    via: OrderVia,
) {
    let lm = LatestMetrics::Table.into_iden();
    let value: SimpleExpr = match via {
        OrderVia::LeftJoin => {
            let alias = Alias::new(format!("os{i}")).into_iden();
            s.join_as(
                JoinType::LeftJoin,
                lm,
                alias.clone(),
                on_run_key(&alias, key),
            );
            Sql::col((alias, column)).into()
        }
        OrderVia::Subquery => scalar_subquery(lm, column, key),
    };
    s.order_by_expr(value.clone().is_null(), Order::Asc);
    s.order_by_expr(value, dir);
}

/// A run's duration in milliseconds; NULL while it has no end (or no start).
fn duration() -> SimpleExpr {
    Sql::col((Runs::Table, Runs::EndTime)).sub(Sql::col((Runs::Table, Runs::StartTime)))
}

/// Param/tag order: by value, runs without the key last.
fn order_by_value(
    s: &mut SelectStatement,
    table: DynIden,
    i: usize,
    key: &str,
    dir: Order,
    via: OrderVia,
) {
    let value = match via {
        OrderVia::LeftJoin => {
            let alias = Alias::new(format!("ov{i}")).into_iden();
            s.join_as(
                JoinType::LeftJoin,
                table,
                alias.clone(),
                on_run_key(&alias, key),
            );
            Sql::col((alias, Col::Value)).into()
        }
        OrderVia::Subquery => scalar_subquery(table, Col::Value, key),
    };
    // Values are NOT NULL in the tables: NULL is a missing key, always last.
    s.order_by_expr(value.clone().is_null(), Order::Asc);
    s.order_by_expr(value, dir);
}

fn on_run_key(alias: &DynIden, key: &str) -> Condition {
    Cond::all()
        .add(Sql::col((alias.clone(), Col::RunId)).equals((Runs::Table, Runs::Id)))
        .add(Sql::col((alias.clone(), Col::Key)).eq(key))
}

/// `(SELECT t.column FROM t WHERE t.run_id = runs.id AND t.key = ?)`
fn scalar_subquery(table: DynIden, column: Col, key: &str) -> SimpleExpr {
    let sub = Query::select()
        .column((table.clone(), column))
        .from(table.clone())
        .and_where(Sql::col((table.clone(), Col::RunId)).equals((Runs::Table, Runs::Id)))
        .and_where(Sql::col((table, Col::Key)).eq(key))
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(sub.into_sub_query_statement()))
}

/// The entity a filter is about: which table its children hang off.
#[derive(Clone, Copy)]
enum Owner {
    Run,
    Experiment,
}

struct Compiler {
    backend: Backend,
    owner: Owner,
    semi_join: SemiJoin,
}

impl Compiler {
    /// And/Or are flat vectors and parenthesis depth is bounded by the parser, so this
    /// recursion is bounded too.
    fn condition(&self, expr: &Expr) -> Condition {
        match expr {
            Expr::Compare(c) => Cond::all().add(self.comparison(c)),
            Expr::And(terms) => terms
                .iter()
                .fold(Cond::all(), |acc, t| acc.add(self.condition(t))),
            Expr::Or(terms) => terms
                .iter()
                .fold(Cond::any(), |acc, t| acc.add(self.condition(t))),
        }
    }

    fn comparison(&self, c: &Comparison) -> SimpleExpr {
        match &c.field {
            Field::Metric(key) => self.metric(key, c.op, &c.value),
            Field::Param(key) => self.key_value(Params::Table.into_iden(), key, c.op, &c.value),
            Field::Tag(key) => {
                let table = match self.owner {
                    Owner::Run => Tags::Table.into_iden(),
                    Owner::Experiment => ExperimentTags::Table.into_iden(),
                };
                self.key_value(table, key, c.op, &c.value)
            }
            Field::Attribute(a) => self.column_test(
                Sql::col((Runs::Table, run_column(*a))).into(),
                c.op,
                &c.value,
            ),
            Field::Dataset(d) => self.dataset(*d, c.op, &c.value),
            Field::Experiment(a) => self.column_test(
                Sql::col((Experiments::Table, experiment_column(*a))).into(),
                c.op,
                &c.value,
            ),
            Field::Grid(GridField::MetricMin(key)) => {
                self.summary(key, Col::MinValue, c.op, &c.value)
            }
            Field::Grid(GridField::MetricMax(key)) => {
                self.summary(key, Col::MaxValue, c.op, &c.value)
            }
            Field::Grid(GridField::Duration) => self.column_test(duration(), c.op, &c.value),
            // Registry filters compile in `search::registry`; the parser never gives them here.
            Field::Registry(_) | Field::LoggedModel(_) => never(),
        }
    }

    /// The owner's key in the outer query and the column that refers to it in children.
    fn owner_key(&self) -> (SimpleExpr, Col) {
        match self.owner {
            Owner::Run => (Sql::col((Runs::Table, Runs::Id)).into(), Col::RunId),
            Owner::Experiment => (
                Sql::col((Experiments::Table, Experiments::ExperimentId)).into(),
                Col::ExperimentId,
            ),
        }
    }

    /// "The owner has a row in `sub`", where `sub` selects `fk_table.fk` and filters
    /// the child rows; `negated` gives "has no such row".
    fn has(&self, mut sub: SelectStatement, fk_table: DynIden, negated: bool) -> SimpleExpr {
        let (outer, fk) = self.owner_key();
        match self.semi_join {
            SemiJoin::InSubquery => {
                sub.column((fk_table, fk));
                // The child key is NOT NULL, so NOT IN has no NULL pitfall here.
                if negated {
                    outer.not_in_subquery(sub)
                } else {
                    outer.in_subquery(sub)
                }
            }
            SemiJoin::Exists => {
                // Selecting the key column rather than a constant keeps the statement
                // free of a pointless bound parameter.
                sub.column((fk_table.clone(), fk))
                    .and_where(Sql::col((fk_table, fk)).eq(outer));
                let exists = Sql::exists(sub);
                if negated { exists.not() } else { exists }
            }
        }
    }

    /// `FROM table WHERE table.key = ?`, the start of every key/value subquery.
    fn keyed(table: &DynIden, key: &str) -> SelectStatement {
        Query::select()
            .from(table.clone())
            .and_where(Sql::col((table.clone(), Col::Key)).eq(key))
            .to_owned()
    }

    fn metric(&self, key: &str, op: Op, value: &Value) -> SimpleExpr {
        let lm = LatestMetrics::Table.into_iden();
        let v = match value {
            Value::Number(n) => n.as_f64(),
            // The parser gives metrics numbers only.
            _ => return never(),
        };
        let val = Sql::col((lm.clone(), Col::Value));
        let real = Sql::col((lm.clone(), Col::IsNan)).eq(0i64);
        let test = match op {
            Op::Eq => real.and(val.eq(v)),
            Op::Lt => real.and(val.lt(v)),
            Op::Le => real.and(val.lte(v)),
            Op::Gt => real.and(val.gt(v)),
            Op::Ge => real.and(val.gte(v)),
            // NaN differs from everything.
            Op::Ne => Sql::col((lm.clone(), Col::IsNan)).eq(1i64).or(val.ne(v)),
            _ => return never(),
        };
        let mut sub = Self::keyed(&lm, key);
        sub.and_where(test);
        self.has(sub, lm, false)
    }

    /// A metric's min or max over its history (the grid's filters); NULL (only NaN
    /// logged) never matches.
    fn summary(&self, key: &str, column: Col, op: Op, value: &Value) -> SimpleExpr {
        let lm = LatestMetrics::Table.into_iden();
        let Value::Number(n) = value else {
            return never();
        };
        let (v, col) = (n.as_f64(), Sql::col((lm.clone(), column)));
        let test = match op {
            Op::Eq => col.eq(v),
            Op::Ne => col.ne(v),
            Op::Lt => col.lt(v),
            Op::Le => col.lte(v),
            Op::Gt => col.gt(v),
            Op::Ge => col.gte(v),
            _ => return never(),
        };
        let mut sub = Self::keyed(&lm, key);
        sub.and_where(test);
        self.has(sub, lm, false)
    }

    /// Params and tags (of runs or experiments).
    fn key_value(&self, table: DynIden, key: &str, op: Op, value: &Value) -> SimpleExpr {
        let mut sub = Self::keyed(&table, key);
        match op {
            Op::IsNull => return self.has(sub, table, true),
            Op::IsNotNull => return self.has(sub, table, false),
            _ => {}
        }
        let test = self.column_test(Sql::col((table.clone(), Col::Value)).into(), op, value);
        sub.and_where(test);
        self.has(sub, table, false)
    }

    fn dataset(&self, field: DatasetField, op: Op, value: &Value) -> SimpleExpr {
        match field {
            DatasetField::Name | DatasetField::Digest => {
                let (ri, ds) = (RunInputs::Table.into_iden(), Datasets::Table.into_iden());
                let column = if field == DatasetField::Name {
                    Col::Name
                } else {
                    Col::Digest
                };
                let sub = Query::select()
                    .from(ri.clone())
                    .inner_join(
                        ds.clone(),
                        Sql::col((ds.clone(), Col::Id)).equals((ri.clone(), Col::DatasetId)),
                    )
                    .and_where(self.column_test(Sql::col((ds, column)).into(), op, value))
                    .to_owned();
                self.has(sub, ri, false)
            }
            DatasetField::Context => {
                let rit = RunInputTags::Table.into_iden();
                let mut sub = Self::keyed(&rit, CONTEXT_TAG);
                sub.and_where(self.column_test(
                    Sql::col((rit.clone(), Col::Value)).into(),
                    op,
                    value,
                ));
                self.has(sub, rit, false)
            }
        }
    }

    /// `column <op> value` for a column that is always present.
    fn column_test(&self, col: SimpleExpr, op: Op, value: &Value) -> SimpleExpr {
        match (op, value) {
            (Op::In, Value::StringList(items)) => col.is_in(items.iter().cloned()),
            (Op::NotIn, Value::StringList(items)) => col.is_not_in(items.iter().cloned()),
            (Op::In, Value::IntList(items)) => col.is_in(items.iter().copied()),
            (Op::NotIn, Value::IntList(items)) => col.is_not_in(items.iter().copied()),
            (_, Value::String(s)) => self.string_test(col, op, s),
            (_, Value::Number(n)) => {
                let n: sea_query::Value = match *n {
                    Number::Int(i) => i.into(),
                    Number::Float(f) => f.into(),
                };
                match op {
                    Op::Eq => col.eq(n),
                    Op::Ne => col.ne(n),
                    Op::Lt => col.lt(n),
                    Op::Le => col.lte(n),
                    Op::Gt => col.gt(n),
                    Op::Ge => col.gte(n),
                    _ => never(),
                }
            }
            _ => never(),
        }
    }

    fn string_test(&self, col: SimpleExpr, op: Op, s: &str) -> SimpleExpr {
        match (op, self.backend) {
            (Op::Eq, _) => col.eq(s),
            (Op::Ne, _) => col.ne(s),
            // SQLite's LIKE ignores ASCII case; GLOB is the case-sensitive matcher.
            (Op::Like, Backend::Sqlite) => col.glob(Like::parse(s).to_glob()),
            (Op::Like, Backend::Postgres) => col.like(LikeExpr::new(Like::parse(s).to_postgres())),
            // LOWER on both sides folds the same (ASCII) case as SQLite's LIKE would, and
            // stays correct if a connection turns `case_sensitive_like` on.
            (Op::ILike, Backend::Sqlite) => {
                Func::lower(col).glob(Func::lower(Sql::val(Like::parse(s).to_glob())))
            }
            (Op::ILike, Backend::Postgres) => {
                col.ilike(LikeExpr::new(Like::parse(s).to_postgres()))
            }
            _ => never(),
        }
    }
}

/// `column <op> value` with the run search's semantics (case-sensitive LIKE, `\`
/// escapes), for the other compilers.
pub(super) fn column_test(backend: Backend, col: SimpleExpr, op: Op, value: &Value) -> SimpleExpr {
    Compiler {
        backend,
        owner: Owner::Run,
        semi_join: SemiJoin::Exists,
    }
    .column_test(col, op, value)
}

/// A condition that holds for no row: the answer for a (field, op, value) combination
/// the parser never produces.
fn never() -> SimpleExpr {
    Sql::val(1i64).eq(0i64)
}

/// A LIKE pattern: `%` any run of characters, `_` any one, `\x` the character x.
struct Like(Vec<Piece>);

enum Piece {
    Char(char),
    One,
    Many,
}

impl Like {
    fn parse(pattern: &str) -> Self {
        let mut pieces = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '%' => Piece::Many,
                '_' => Piece::One,
                // A trailing backslash stands for itself (PostgreSQL would reject it).
                '\\' => Piece::Char(chars.next().unwrap_or('\\')),
                c => Piece::Char(c),
            });
        }
        Like(pieces)
    }

    /// SQLite GLOB: `*`, `?`, and `[...]` classes; a class of one escapes a special.
    fn to_glob(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Many => out.push('*'),
                Piece::One => out.push('?'),
                Piece::Char('*') => out.push_str("[*]"),
                Piece::Char('?') => out.push_str("[?]"),
                Piece::Char('[') => out.push_str("[[]"),
                Piece::Char(c) => out.push(*c),
            }
        }
        out
    }

    /// PostgreSQL LIKE with its default `\` escape.
    fn to_postgres(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Many => out.push('%'),
                Piece::One => out.push('_'),
                Piece::Char(c @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(*c);
                }
                Piece::Char(c) => out.push(*c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{
        parse_experiment_filter, parse_experiment_order_by, parse_run_filter, parse_run_order_by,
    };
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    #[test]
    fn like_translation() {
        assert_eq!(Like::parse("a%b_c").to_glob(), "a*b?c");
        assert_eq!(Like::parse("*?[]").to_glob(), "[*][?][[]]");
        assert_eq!(Like::parse(r"100\%").to_glob(), "100%");
        assert_eq!(Like::parse(r"a\_b").to_glob(), "a_b");
        assert_eq!(Like::parse(r"a\").to_glob(), r"a\");
        assert_eq!(Like::parse(r"a\\%").to_glob(), r"a\*");
        assert_eq!(Like::parse("a%b_c").to_postgres(), "a%b_c");
        assert_eq!(Like::parse(r"100\%").to_postgres(), r"100\%");
        assert_eq!(Like::parse(r"a\").to_postgres(), r"a\\");
        assert_eq!(Like::parse("*?[").to_postgres(), "*?[");
    }

    fn run_sql(filter: &str, order: &[&str], backend: Backend) -> (String, usize) {
        let expr = parse_run_filter(filter).unwrap();
        let order = parse_run_order_by(order).unwrap();
        let q = RunQuery {
            experiment_ids: &[1],
            filter: expr.as_ref(),
            order_by: &order,
            view: ViewType::ActiveOnly,
            offset: 0,
            limit: 10,
        };
        let stmt = runs_page(&q, backend);
        let (sql, values) = match backend {
            Backend::Sqlite => stmt.build(SqliteQueryBuilder),
            Backend::Postgres => stmt.build(PostgresQueryBuilder),
        };
        (sql, values.0.len())
    }

    #[test]
    fn values_are_bound_not_spliced() {
        let hostile = "x'; DROP TABLE runs; --";
        let filter = format!(
            "params.`{hostile}` = '{}' OR tags.t LIKE '{}'",
            hostile.replace('\'', "''"),
            "%''%"
        );
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let (sql, n) = run_sql(&filter, &["metrics.`m'--` DESC"], backend);
            assert!(!sql.contains("DROP"), "{sql}");
            assert!(!sql.contains("m'--"), "{sql}");
            // experiment id, stage, 2 (key, value) pairs, order key, limit, offset
            assert_eq!(n, 1 + 1 + 4 + 1 + 2, "{sql}");
        }
    }

    #[test]
    fn default_order_has_tie_breakers() {
        let (sql, _) = run_sql("", &[], Backend::Sqlite);
        assert!(
            sql.ends_with(
                r#"ORDER BY "runs"."start_time" DESC, "runs"."run_uuid" ASC LIMIT ? OFFSET ?"#
            ),
            "{sql}"
        );
        let (sql, _) = run_sql("", &[], Backend::Postgres);
        assert!(
            sql.contains(r#"ORDER BY "runs"."start_time" DESC NULLS LAST, "runs"."run_uuid" ASC"#),
            "{sql}"
        );
        let (sql, _) = run_sql("", &["created"], Backend::Sqlite);
        assert!(
            sql.contains(r#"ORDER BY "runs"."start_time" IS NULL ASC, "runs"."start_time" ASC, "runs"."run_uuid" ASC"#),
            "{sql}"
        );
    }

    #[test]
    fn or_is_parenthesised_under_and() {
        let (sql, _) = run_sql(
            "params.a = '1' AND (params.b = '2' OR params.c = '3')",
            &[],
            Backend::Sqlite,
        );
        let where_ = &sql[sql.find("WHERE").unwrap()..];
        assert!(
            where_.contains(" AND (") && where_.contains(" OR "),
            "{sql}"
        );
    }

    #[test]
    fn experiments_default_order() {
        let q = ExperimentQuery {
            filter: None,
            order_by: &[],
            view: ViewType::All,
            offset: 0,
            limit: 5,
        };
        let sql = experiments_page(&q, Backend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(
            sql.contains(
                r#"ORDER BY "experiments"."creation_time" DESC, "experiments"."experiment_id" ASC"#
            ),
            "{sql}"
        );
        let order = parse_experiment_order_by(&["name DESC"]).unwrap();
        let f = parse_experiment_filter("tags.k IS NULL").unwrap();
        let q = ExperimentQuery {
            filter: f.as_ref(),
            order_by: &order,
            ..q
        };
        let sql = experiments_page(&q, Backend::Postgres).to_string(PostgresQueryBuilder);
        assert!(
            sql.contains(
                r#"ORDER BY "experiments"."name" DESC, "experiments"."experiment_id" ASC"#
            ),
            "{sql}"
        );
        assert!(sql.contains("NOT EXISTS(SELECT"), "{sql}");
    }

    #[test]
    fn huge_offsets_are_clamped() {
        let q = RunQuery {
            experiment_ids: &[],
            filter: None,
            order_by: &[],
            view: ViewType::All,
            offset: u64::MAX,
            limit: u64::MAX,
        };
        let (_, values) = runs_page(&q, Backend::Sqlite).build(SqliteQueryBuilder);
        assert!(
            values
                .0
                .iter()
                .all(|v| *v != sea_query::Value::BigUnsigned(Some(u64::MAX)))
        );
    }
}
