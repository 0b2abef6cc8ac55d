//! What every handler can reach.

use crate::artifacts::Artifacts;
use crate::config::Config;
use crate::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub artifacts: Artifacts,
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
}
