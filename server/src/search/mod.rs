//! TEMPORARY interface stub: replaced by the real search compiler.
use sea_query::{Alias, Expr as SqExpr, Order, Query, SelectStatement};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend { Sqlite, Postgres }
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ViewType { #[default] ActiveOnly, DeletedOnly, All }
impl From<app::models::ViewType> for ViewType {
    fn from(v: app::models::ViewType) -> Self {
        match v { app::models::ViewType::ActiveOnly => Self::ActiveOnly, app::models::ViewType::DeletedOnly => Self::DeletedOnly, app::models::ViewType::All => Self::All }
    }
}
#[derive(Clone, Debug)]
pub struct Expr;
#[derive(Clone, Debug)]
pub struct OrderBy;
#[derive(Debug)]
pub struct FilterError(String);
impl std::fmt::Display for FilterError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn parse_run_filter(s: &str) -> Result<Option<Expr>, FilterError> { if s.trim().is_empty() { Ok(None) } else { Err(FilterError("todo".into())) } }
pub fn parse_experiment_filter(s: &str) -> Result<Option<Expr>, FilterError> { parse_run_filter(s) }
pub fn parse_run_order_by(s: &[String]) -> Result<Vec<OrderBy>, FilterError> { if s.is_empty() { Ok(vec![]) } else { Err(FilterError("todo".into())) } }
pub fn parse_experiment_order_by(s: &[String]) -> Result<Vec<OrderBy>, FilterError> { parse_run_order_by(s) }
pub struct PageToken { pub offset: u64 }
impl PageToken {
    pub fn encode(&self) -> String { use base64::Engine; base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {}}}", self.offset)) }
    pub fn decode(t: &str) -> Result<Self, FilterError> { use base64::Engine; let b = base64::engine::general_purpose::STANDARD.decode(t).map_err(|_| FilterError("Invalid page token".into()))?; let v: serde_json::Value = serde_json::from_slice(&b).map_err(|_| FilterError("Invalid page token".into()))?; Ok(Self { offset: v["offset"].as_u64().ok_or(FilterError("Invalid page token".into()))? }) }
}
#[derive(Clone)]
pub struct RunQuery<'a> { pub experiment_ids: &'a [i64], pub filter: Option<&'a Expr>, pub order_by: &'a [OrderBy], pub view: ViewType, pub offset: u64, pub limit: u64 }
#[derive(Clone)]
pub struct ExperimentQuery<'a> { pub filter: Option<&'a Expr>, pub order_by: &'a [OrderBy], pub view: ViewType, pub offset: u64, pub limit: u64 }
fn stage(q: &mut SelectStatement, view: ViewType) { match view { ViewType::ActiveOnly => { q.and_where(SqExpr::col(Alias::new("lifecycle_stage")).eq("active")); } ViewType::DeletedOnly => { q.and_where(SqExpr::col(Alias::new("lifecycle_stage")).eq("deleted")); } ViewType::All => {} } }
pub fn runs_page(q: &RunQuery, _b: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.columns(["id","run_uuid","experiment_id","name","user_id","status","start_time","end_time","lifecycle_stage","artifact_uri"].map(Alias::new)).from(Alias::new("runs"))
     .and_where(SqExpr::col(Alias::new("experiment_id")).is_in(q.experiment_ids.iter().copied()));
    stage(&mut s, q.view);
    s.order_by(Alias::new("start_time"), Order::Desc).order_by(Alias::new("run_uuid"), Order::Asc).limit(q.limit).offset(q.offset);
    s
}
pub fn experiments_page(q: &ExperimentQuery, _b: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.columns(["experiment_id","name","artifact_location","lifecycle_stage","creation_time","last_update_time"].map(Alias::new)).from(Alias::new("experiments"));
    stage(&mut s, q.view);
    s.order_by(Alias::new("creation_time"), Order::Desc).order_by(Alias::new("experiment_id"), Order::Asc).limit(q.limit).offset(q.offset);
    s
}
