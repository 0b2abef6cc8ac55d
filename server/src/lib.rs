//! ferroflow: an MLflow-compatible tracking server. See ARCHITECTURE.md for the map.

pub mod api;
pub mod artifacts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod jobs;
pub mod overload;
pub mod plot;
pub mod search;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod ui;
