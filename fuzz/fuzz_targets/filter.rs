//! The filter grammar of every search (runs, experiments, registered models, model
//! versions, logged models): any input parses or is refused, and what parses compiles to
//! SQL for both databases without panicking.
#![no_main]

use ferroflow::search::{self, Backend, ViewType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Ok(expr) = search::parse_run_filter(text) {
            let q = search::RunQuery {
                experiment_ids: &[1, 2],
                filter: expr.as_ref(),
                order_by: &[],
                view: ViewType::All,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::runs_page(&q, backend), backend);
        }
        if let Ok(expr) = search::parse_experiment_filter(text) {
            let q = search::ExperimentQuery {
                filter: expr.as_ref(),
                order_by: &[],
                view: ViewType::ActiveOnly,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::experiments_page(&q, backend), backend);
        }
        if let Ok(expr) = search::parse_registered_model_filter(text) {
            let q = search::RegistryQuery {
                filter: expr.as_ref(),
                order_by: &[],
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::registered_models_page(&q, backend), backend);
        }
        if let Ok(expr) = search::parse_model_version_filter(text) {
            let q = search::RegistryQuery {
                filter: expr.as_ref(),
                order_by: &[],
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::model_versions_page(&q, backend), backend);
        }
        if let Ok(expr) = search::parse_logged_model_filter(text) {
            let q = search::LoggedModelQuery {
                experiment_ids: &[1],
                filter: expr.as_ref(),
                order_by: &[],
                view: ViewType::ActiveOnly,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::logged_models_page(&q, backend), backend);
        }
    }
});
