//! Search: MLflow's filter and order_by grammars, page tokens, and their compilation to
//! SQL for SQLite and PostgreSQL. Filtering, ordering and paging all happen in the
//! database; nothing here touches a connection.

pub mod filter;
pub mod logged_models;
pub mod order_by;
pub mod page_token;
pub mod registry;
pub mod runs_page;
pub mod sql;

pub use filter::{
    Attribute, Comparison, DatasetField, ExperimentAttribute, Expr, Field, FilterError, GridField,
    LoggedModelAttribute, Number, Op, RegistryAttribute, Value, parse_experiment_filter,
    parse_logged_model_filter, parse_model_version_filter, parse_registered_model_filter,
    parse_run_filter,
};
pub use logged_models::{LoggedModelQuery, logged_models_page};
pub use order_by::{
    OrderBy, OrderByError, parse_experiment_order_by, parse_model_version_order_by,
    parse_registered_model_order_by, parse_run_order_by,
};
pub use page_token::{PageToken, PageTokenError};
pub use registry::{RegistryQuery, model_versions_page, registered_models_page};
pub use sql::{ExperimentQuery, OwnedRunQuery, RunQuery, experiments_page, runs_page};

use std::fmt;

/// The kind of database a statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which lifecycle stages a search returns (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl From<app::models::ViewType> for ViewType {
    fn from(v: app::models::ViewType) -> Self {
        match v {
            app::models::ViewType::ActiveOnly => ViewType::ActiveOnly,
            app::models::ViewType::DeletedOnly => ViewType::DeletedOnly,
            app::models::ViewType::All => ViewType::All,
        }
    }
}

/// Any error from reading a search request's filter, order_by or page token; all three
/// are MLflow's `INVALID_PARAMETER_VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    Filter(FilterError),
    OrderBy(OrderByError),
    PageToken(PageTokenError),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::Filter(e) => e.fmt(f),
            SearchError::OrderBy(e) => e.fmt(f),
            SearchError::PageToken(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<FilterError> for SearchError {
    fn from(e: FilterError) -> Self {
        SearchError::Filter(e)
    }
}

impl From<OrderByError> for SearchError {
    fn from(e: OrderByError) -> Self {
        SearchError::OrderBy(e)
    }
}

impl From<PageTokenError> for SearchError {
    fn from(e: PageTokenError) -> Self {
        SearchError::PageToken(e)
    }
}
