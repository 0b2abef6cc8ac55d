//! The grid's columns and their ids. An id is `<kind>.<key>` with the key raw (never
//! quoted): `attributes.start_time`, `params.lr`, `tags.mlflow.source.name`,
//! `metrics.loss` (last value), `metrics_min.loss`, `metrics_max.loss`. The kind never
//! holds a dot, so the first dot splits an id. Ids travel in the URL (`col=`, `f.<id>=`,
//! `sort=`), and the server maps them to filter fields and search projections.

use serde::{Deserialize, Serialize};

/// Run attributes the grid can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attr {
    RunName,
    UserId,
    Status,
    StartTime,
    /// End time minus start time (filtered and sorted in SQL, beside the MLflow query).
    Duration,
    RunId,
}

impl Attr {
    pub const ALL: [Attr; 6] = [
        Attr::RunName,
        Attr::UserId,
        Attr::Status,
        Attr::StartTime,
        Attr::Duration,
        Attr::RunId,
    ];

    /// The name in filters and in column ids (MLflow's attribute names).
    pub fn name(self) -> &'static str {
        match self {
            Attr::RunName => "run_name",
            Attr::UserId => "user_id",
            Attr::Status => "status",
            Attr::StartTime => "start_time",
            Attr::Duration => "duration",
            Attr::RunId => "run_id",
        }
    }
}

/// Which summary of a metric a column shows (from `latest_metrics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Agg {
    Last,
    Min,
    Max,
}

/// One grid column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Column {
    Attr(Attr),
    Param(String),
    Tag(String),
    Metric(String, Agg),
}

/// How a column's filter box reads its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// Comparisons with numbers: `> 0.5, <= 0.9`.
    Number,
    /// Comparisons with times (dates in UTC or epoch milliseconds).
    Time,
    /// Comparisons with spans: `> 90s`, `<= 2h` (units ms, s, m, h, d; seconds without).
    Duration,
    /// `= v`, `!= v`, `LIKE p`, `ILIKE p`, `IN a, b` (and `IS NULL` for params and tags).
    Text,
    /// Not filterable.
    None,
}

/// The tag MLflow sets to nest a run under its parent.
pub const PARENT_TAG: &str = "mlflow.parentRunId";
/// The tags MLflow's UI shows as "Source" and "Version".
pub const SOURCE_TAG: &str = "mlflow.source.name";
pub const VERSION_TAG: &str = "mlflow.source.git.commit";

impl Column {
    /// Reads a column id; `None` for anything else.
    pub fn parse(id: &str) -> Option<Column> {
        let (kind, key) = id.split_once('.')?;
        if key.is_empty() {
            return None;
        }
        Some(match kind {
            "attributes" => Column::Attr(*Attr::ALL.iter().find(|a| a.name() == key)?),
            "params" => Column::Param(key.to_owned()),
            "tags" => Column::Tag(key.to_owned()),
            "metrics" => Column::Metric(key.to_owned(), Agg::Last),
            "metrics_min" => Column::Metric(key.to_owned(), Agg::Min),
            "metrics_max" => Column::Metric(key.to_owned(), Agg::Max),
            _ => return None,
        })
    }

    pub fn id(&self) -> String {
        match self {
            Column::Attr(a) => format!("attributes.{}", a.name()),
            Column::Param(k) => format!("params.{k}"),
            Column::Tag(k) => format!("tags.{k}"),
            Column::Metric(k, Agg::Last) => format!("metrics.{k}"),
            Column::Metric(k, Agg::Min) => format!("metrics_min.{k}"),
            Column::Metric(k, Agg::Max) => format!("metrics_max.{k}"),
        }
    }

    /// The header text.
    pub fn label(&self) -> String {
        match self {
            Column::Attr(Attr::RunName) => "Name".into(),
            Column::Attr(Attr::UserId) => "User".into(),
            Column::Attr(Attr::Status) => "Status".into(),
            Column::Attr(Attr::StartTime) => "Start".into(),
            Column::Attr(Attr::Duration) => "Duration".into(),
            Column::Attr(Attr::RunId) => "Run ID".into(),
            Column::Tag(k) if k == SOURCE_TAG => "Source".into(),
            Column::Tag(k) if k == VERSION_TAG => "Version".into(),
            Column::Param(k) | Column::Tag(k) => k.clone(),
            Column::Metric(k, Agg::Last) => k.clone(),
            Column::Metric(k, Agg::Min) => format!("{k} (min)"),
            Column::Metric(k, Agg::Max) => format!("{k} (max)"),
        }
    }

    /// The group the chooser and the header put it in.
    pub fn group(&self) -> &'static str {
        match self {
            Column::Attr(_) => "Run",
            Column::Param(_) => "Params",
            Column::Tag(_) => "Tags",
            Column::Metric(..) => "Metrics",
        }
    }

    pub fn filter_kind(&self) -> FilterKind {
        match self {
            Column::Attr(Attr::Duration) => FilterKind::Duration,
            Column::Attr(Attr::StartTime) => FilterKind::Time,
            Column::Metric(..) => FilterKind::Number,
            _ => FilterKind::Text,
        }
    }

    /// Whether MLflow's filter grammar cannot express this column's filter (a metric's
    /// min or max, the duration). Such a filter stays in the URL as its box (`f.<id>`),
    /// never in the query box, and the server adds it to the search; it belongs to its
    /// column, so hiding the column drops it.
    pub fn grid_only(&self) -> bool {
        matches!(
            self,
            Column::Attr(Attr::Duration) | Column::Metric(_, Agg::Min | Agg::Max)
        )
    }

    /// Whether the server can order by it (MLflow's order_by: attributes, params, tags
    /// and a metric's latest value; and the grid's own min, max and duration).
    pub fn sortable(&self) -> bool {
        self.filter_kind() != FilterKind::None && *self != Column::Attr(Attr::RunId)
    }

    /// Right-aligned numbers.
    pub fn numeric(&self) -> bool {
        matches!(self, Column::Metric(..) | Column::Attr(Attr::Duration))
    }

    /// What the filter box suggests.
    pub fn placeholder(&self) -> &'static str {
        match self.filter_kind() {
            FilterKind::Number => "> 0.5, <= 2",
            FilterKind::Time => ">= 2026-01-31",
            FilterKind::Duration => "> 90s, < 2h",
            FilterKind::Text => match self {
                Column::Param(_) | Column::Tag(_) => "= v, LIKE a%, IN a, b",
                _ => "= v, LIKE a%",
            },
            FilterKind::None => "",
        }
    }
}

/// The columns shown when the URL names none: the run's attributes, then the metrics
/// and params seen in the experiments (up to `MAX_DEFAULT` of each).
pub fn default_columns(metric_keys: &[String], param_keys: &[String]) -> Vec<Column> {
    const MAX_DEFAULT: usize = 10;
    let mut cols: Vec<Column> = [
        Attr::RunName,
        Attr::UserId,
        Attr::Status,
        Attr::StartTime,
        Attr::Duration,
    ]
    .into_iter()
    .map(Column::Attr)
    .collect();
    cols.push(Column::Tag(SOURCE_TAG.into()));
    cols.push(Column::Tag(VERSION_TAG.into()));
    cols.extend(
        metric_keys
            .iter()
            .take(MAX_DEFAULT)
            .map(|k| Column::Metric(k.clone(), Agg::Last)),
    );
    cols.extend(
        param_keys
            .iter()
            .take(MAX_DEFAULT)
            .map(|k| Column::Param(k.clone())),
    );
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for c in [
            Column::Attr(Attr::StartTime),
            Column::Param("a b.c".into()),
            Column::Tag(SOURCE_TAG.into()),
            Column::Metric("val/loss".into(), Agg::Last),
            Column::Metric("loss".into(), Agg::Min),
            Column::Metric("loss".into(), Agg::Max),
        ] {
            assert_eq!(Column::parse(&c.id()), Some(c));
        }
        assert_eq!(Column::parse("attributes.nope"), None);
        assert_eq!(Column::parse("params."), None);
        assert_eq!(Column::parse("bogus.x"), None);
    }
}
