//! The runs grid's store: turns the URL state into one search (filter, order, page,
//! projection) and formats the page. `Plan` is shared with the CSV export.

use super::grid_query;
use crate::db::Db;
use crate::search::{
    self, Attribute, Comparison, Expr, Field, GridField, Op, OrderBy, PageToken, RunQuery, Value,
};
use crate::store::run_data::{self, Columns, Selection};
use crate::store::{self, runs::RunRow};
use app::models::{KeyValue, MetricSummary};
use app::pages::runs::columns::{self as cols, Agg, Attr, Column, PARENT_TAG};
use app::pages::runs::ssr::RunsStore;
use app::pages::runs::state::{GridRequest, View};
use app::pages::runs::{ExperimentRef, GridPage, GridRow};
use app::pages::ssr::BoxFuture;
use std::collections::HashMap;

/// Runs whose keys the column chooser offers: the most recent ones.
const KEY_SAMPLE: i64 = 1000;

pub struct Store(pub crate::state::AppState);

impl RunsStore for Store {
    fn grid(&self, request: GridRequest) -> BoxFuture<'_, Result<GridPage, String>> {
        let caller = super::caller();
        Box::pin(async move { grid(&self.0, &caller, &request).await })
    }
}

/// Everything one search of the grid needs, read from the URL state.
pub struct Plan {
    pub experiments: Vec<ExperimentRef>,
    pub experiment_ids: Vec<i64>,
    pub columns: Vec<Column>,
    pub available: Vec<Column>,
    /// The generated query, and its split over the shown columns.
    pub query: String,
    pub filters: Vec<(String, String)>,
    pub rest: String,
    /// What the search runs: the query, plus "my runs" when asked.
    pub filter: Option<Expr>,
    pub order_by: Vec<OrderBy>,
    pub order_text: Option<String>,
    pub view: search::ViewType,
    /// The data columns to load (the search projection).
    pub projection: Columns,
}

impl Plan {
    /// Needs READ on every experiment shown.
    pub async fn new(
        state: &crate::state::AppState,
        caller: &crate::auth::Caller,
        req: &GridRequest,
    ) -> Result<Plan, String> {
        let db = &state.db;
        if req.experiment_ids.is_empty() {
            return Err("No experiment given: open one from the experiment list.".into());
        }
        let mut experiments = Vec::new();
        let mut experiment_ids = Vec::new();
        for id in &req.experiment_ids {
            let id = store::experiments::parse_id(id).map_err(|e| e.message)?;
            crate::auth::permissions::require_experiment(
                state,
                caller,
                id,
                crate::auth::Permission::Read,
            )
            .await
            .map_err(|e| e.message)?;
            let e = store::experiments::get(db, id)
                .await
                .map_err(|e| e.message)?;
            experiment_ids.push(id);
            experiments.push(ExperimentRef {
                id: e.experiment_id,
                name: e.name,
            });
        }
        let [metric_keys, param_keys, tag_keys] =
            store::runs::recent_keys(db, &experiment_ids, KEY_SAMPLE)
                .await
                .map_err(|e| e.message)?;
        let columns = if req.columns.is_empty() {
            cols::default_columns(&metric_keys, &param_keys)
        } else {
            let mut shown = Vec::new();
            for id in &req.columns {
                let c = Column::parse(id).ok_or_else(|| format!("Unknown column '{id}'."))?;
                if !shown.contains(&c) {
                    shown.push(c);
                }
            }
            shown
        };
        let available = available(&columns, &metric_keys, &param_keys, &tag_keys);

        let query = match &req.query {
            Some(q) => {
                // Checked here so the message names the query as typed.
                search::parse_run_filter(q).map_err(|e| e.to_string())?;
                q.trim().to_owned()
            }
            None => grid_query::generate(&req.filters, &req.rest)?,
        };
        let (mut filters, rest) = grid_query::split(&query, &columns)?;
        // Min, max and duration boxes: beside the query, in the URL only.
        let (grid_boxes, grid_terms) = grid_query::grid_terms(&req.filters, &columns)?;
        filters.extend(grid_boxes);
        let mut filter = search::parse_run_filter(&query).map_err(|e| e.to_string())?;
        for term in grid_terms {
            filter = Some(and(filter, term));
        }
        if req.mine {
            // The logged-in user (set by `runs_grid`), or under `--auth none` the `user`
            // parameter (see GridRequest).
            let user = req
                .user
                .clone()
                .ok_or("\"My runs\" needs the current user: add ?user=<name> to the address.")?;
            let mine = Expr::Compare(Comparison {
                field: Field::Attribute(Attribute::UserId),
                op: Op::Eq,
                value: Value::String(user),
            });
            filter = Some(and(filter, mine));
        }

        let (order_by, order_text) = match &req.sort {
            None => (Vec::new(), None),
            Some(id) => {
                let column = Column::parse(id)
                    .filter(Column::sortable)
                    .ok_or_else(|| format!("Runs cannot be sorted by '{id}'."))?;
                let dir = if req.ascending { "ASC" } else { "DESC" };
                let mlflow = |field: String| {
                    let text = format!("{field} {dir}");
                    let parsed = search::parse_run_order_by(std::slice::from_ref(&text))
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((parsed, Some(text)))
                };
                // MLflow's order_by has no min, max or duration: ordered in SQL all the same.
                let grid = |field: GridField| {
                    let field = Field::Grid(field);
                    let text = format!("{field} {dir}");
                    let ascending = req.ascending;
                    Ok((vec![OrderBy { field, ascending }], Some(text)))
                };
                match column {
                    Column::Attr(Attr::RunName) => mlflow("attributes.run_name".into()),
                    Column::Attr(Attr::UserId) => mlflow("attributes.user_id".into()),
                    Column::Attr(Attr::Status) => mlflow("attributes.status".into()),
                    Column::Attr(Attr::StartTime) => mlflow("attributes.start_time".into()),
                    Column::Param(k) => mlflow(Field::Param(k).to_string()),
                    Column::Tag(k) => mlflow(Field::Tag(k).to_string()),
                    Column::Metric(k, Agg::Last) => mlflow(Field::Metric(k).to_string()),
                    Column::Metric(k, Agg::Min) => grid(GridField::MetricMin(k)),
                    Column::Metric(k, Agg::Max) => grid(GridField::MetricMax(k)),
                    Column::Attr(Attr::Duration) => grid(GridField::Duration),
                    Column::Attr(_) => unreachable!("not sortable"),
                }?
            }
        };

        let mut projection = Columns::default();
        let add = |sel: &mut Selection, key: &str| match sel {
            Selection::Keys(keys) if !keys.iter().any(|k| k == key) => keys.push(key.to_owned()),
            Selection::Keys(_) => {}
            _ => *sel = Selection::Keys(vec![key.to_owned()]),
        };
        add(&mut projection.tags, PARENT_TAG);
        for c in &columns {
            match c {
                Column::Param(k) => add(&mut projection.params, k),
                Column::Tag(k) => add(&mut projection.tags, k),
                Column::Metric(k, _) => add(&mut projection.metrics, k),
                Column::Attr(_) => {}
            }
        }

        Ok(Plan {
            experiments,
            experiment_ids,
            columns,
            available,
            query,
            filters,
            rest,
            filter,
            order_by,
            order_text,
            view: match req.view {
                View::Active => search::ViewType::ActiveOnly,
                View::Deleted => search::ViewType::DeletedOnly,
                View::All => search::ViewType::All,
            },
            projection,
        })
    }

    /// One page of matching runs, with the shown columns' data.
    pub async fn page(
        &self,
        db: &Db,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Loaded>, bool), String> {
        let query = RunQuery {
            experiment_ids: &self.experiment_ids,
            filter: self.filter.as_ref(),
            order_by: &self.order_by,
            view: self.view,
            offset,
            limit,
        };
        let (rows, more) = store::runs::search_rows(db, &query)
            .await
            .map_err(|e| e.message)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // Params and tags through the search projection; metrics as summaries (last,
        // min, max), which the projection's loader does not carry.
        let kv = Columns {
            metrics: Selection::None,
            ..self.projection.clone()
        };
        let mut data = run_data::load(db, &ids, Some(&kv))
            .await
            .map_err(|e| e.message)?;
        let mut metrics: HashMap<i64, Vec<MetricSummary>> = HashMap::new();
        if let Selection::Keys(keys) = &self.projection.metrics {
            for chunk in ids.chunks(store::IN_CHUNK) {
                for (run, s) in run_data::summaries(db, chunk, Some(keys.as_slice()))
                    .await
                    .map_err(|e| e.message)?
                {
                    metrics.entry(run).or_default().push(s);
                }
            }
        }
        let loaded = rows
            .into_iter()
            .map(|row| {
                let d = data.remove(&row.id).unwrap_or_default();
                Loaded {
                    metrics: metrics.remove(&row.id).unwrap_or_default(),
                    params: d.params,
                    tags: d.tags,
                    row,
                }
            })
            .collect();
        Ok((loaded, more))
    }
}

/// `filter AND term`, keeping the conjunction flat.
fn and(filter: Option<Expr>, term: Expr) -> Expr {
    match filter {
        None => term,
        Some(Expr::And(mut terms)) => {
            terms.push(term);
            Expr::And(terms)
        }
        Some(other) => Expr::And(vec![other, term]),
    }
}

/// A run of a page with its data.
pub struct Loaded {
    pub row: RunRow,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub metrics: Vec<MetricSummary>,
}

impl Loaded {
    pub fn parent(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == PARENT_TAG)
            .map(|t| t.value.as_str())
    }

    /// A cell's raw value: numbers at full precision, times as epoch milliseconds.
    pub fn value(&self, column: &Column) -> Cell {
        let info = &self.row.info;
        let text = |s: &str| Cell::Text(s.to_owned());
        let find = |list: &[KeyValue], key: &str| {
            list.iter()
                .find(|kv| kv.key == key)
                .map_or(Cell::Empty, |kv| Cell::Text(kv.value.clone()))
        };
        match column {
            Column::Attr(Attr::RunName) => text(&info.run_name),
            Column::Attr(Attr::UserId) => text(&info.user_id),
            Column::Attr(Attr::Status) => text(&info.status),
            Column::Attr(Attr::RunId) => text(&info.run_id),
            Column::Attr(Attr::StartTime) => info.start_time.map_or(Cell::Empty, Cell::Time),
            Column::Attr(Attr::Duration) => match (info.start_time, info.end_time) {
                (Some(s), Some(e)) => Cell::Duration(e - s),
                _ => Cell::Empty,
            },
            Column::Param(k) => find(&self.params, k),
            Column::Tag(k) => find(&self.tags, k),
            Column::Metric(k, agg) => self
                .metrics
                .iter()
                .find(|m| m.key == *k)
                .and_then(|m| match agg {
                    Agg::Last => Some(m.last),
                    Agg::Min => m.min,
                    Agg::Max => m.max,
                })
                .map_or(Cell::Empty, Cell::Number),
        }
    }
}

pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// Epoch milliseconds.
    Time(i64),
    /// Milliseconds.
    Duration(i64),
}

impl Cell {
    /// For the grid: short numbers, UTC minutes, readable durations.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(f) => app::format::number(*f),
            Cell::Time(ms) => app::pages::experiments::format_ms(*ms),
            Cell::Duration(ms) => app::format::duration(*ms),
        }
    }
}

/// Offered columns: the run's attributes, Source and Version, then each kind's keys.
fn available(
    shown: &[Column],
    metrics: &[String],
    params: &[String],
    tags: &[String],
) -> Vec<Column> {
    let mut out: Vec<Column> = Attr::ALL.into_iter().map(Column::Attr).collect();
    out.push(Column::Tag(cols::SOURCE_TAG.into()));
    out.push(Column::Tag(cols::VERSION_TAG.into()));
    for k in metrics {
        for agg in [Agg::Last, Agg::Min, Agg::Max] {
            out.push(Column::Metric(k.clone(), agg));
        }
    }
    out.extend(params.iter().cloned().map(Column::Param));
    out.extend(tags.iter().cloned().map(Column::Tag));
    for c in shown {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

async fn grid(
    state: &crate::state::AppState,
    caller: &crate::auth::Caller,
    req: &GridRequest,
) -> Result<GridPage, String> {
    let db = &state.db;
    let plan = Plan::new(state, caller, req).await?;
    let offset = PageToken::decode(&req.page)
        .map_err(|e| e.to_string())?
        .offset;
    let limit = req.page_size.clamp(1, 1000);
    let (loaded, more) = plan.page(db, offset, limit).await?;
    let rows = nest(&loaded)
        .into_iter()
        .map(|(i, depth)| {
            let l = &loaded[i];
            let on_page = |id: &str| loaded.iter().any(|o| o.row.info.run_id == id);
            GridRow {
                run_id: l.row.info.run_id.clone(),
                name: l.row.info.run_name.clone(),
                experiment_id: l.row.info.experiment_id.clone(),
                status: l.row.info.status.clone(),
                deleted: l.row.info.lifecycle_stage == "deleted",
                depth,
                orphan_of: l.parent().filter(|p| !on_page(p)).map(str::to_owned),
                cells: plan.columns.iter().map(|c| l.value(c).display()).collect(),
            }
        })
        .collect();
    Ok(GridPage {
        experiments: plan.experiments,
        columns: plan.columns,
        available: plan.available,
        filters: plan.filters,
        rest: plan.rest,
        query: plan.query,
        order_by: plan.order_text,
        rows,
        offset,
        next_page_token: more.then(|| {
            PageToken {
                offset: offset + limit,
            }
            .encode()
        }),
        user: req.user.clone(),
    })
}

/// The page's runs in display order with their depth: children right under their
/// parent when it is on the page (in the search's order among siblings), others where
/// the search put them.
fn nest(loaded: &[Loaded]) -> Vec<(usize, u32)> {
    let index: HashMap<&str, usize> = loaded
        .iter()
        .enumerate()
        .map(|(i, l)| (l.row.info.run_id.as_str(), i))
        .collect();
    let parent_of = |i: usize| {
        loaded[i]
            .parent()
            .and_then(|p| index.get(p).copied())
            .filter(|&p| p != i)
    };
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for i in 0..loaded.len() {
        match parent_of(i) {
            Some(p) => children.entry(p).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(loaded.len());
    let mut seen = vec![false; loaded.len()];
    fn walk(
        i: usize,
        depth: u32,
        children: &HashMap<usize, Vec<usize>>,
        seen: &mut [bool],
        out: &mut Vec<(usize, u32)>,
    ) {
        if std::mem::replace(&mut seen[i], true) {
            return;
        }
        out.push((i, depth));
        for &c in children.get(&i).map(Vec::as_slice).unwrap_or_default() {
            walk(c, depth + 1, children, seen, out);
        }
    }
    for r in roots {
        walk(r, 0, &children, &mut seen, &mut out);
    }
    // Runs in a parent cycle have no root; they keep the search's order.
    for i in 0..loaded.len() {
        if !seen[i] {
            walk(i, 0, &children, &mut seen, &mut out);
        }
    }
    out
}
