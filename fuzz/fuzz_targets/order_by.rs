//! order_by clauses of every search: lines of the input are the entries; any input parses
//! or is refused, and what parses compiles to SQL for both databases.
#![no_main]

use ferroflow::search::{self, Backend, ViewType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let entries: Vec<&str> = text.split('\n').collect();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Ok(order_by) = search::parse_run_order_by(&entries) {
            let q = search::RunQuery {
                experiment_ids: &[1],
                filter: None,
                order_by: &order_by,
                view: ViewType::ActiveOnly,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::runs_page(&q, backend), backend);
        }
        if let Ok(order_by) = search::parse_experiment_order_by(&entries) {
            let q = search::ExperimentQuery {
                filter: None,
                order_by: &order_by,
                view: ViewType::ActiveOnly,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::experiments_page(&q, backend), backend);
        }
        if let Ok(order_by) = search::parse_registered_model_order_by(&entries) {
            let q = search::RegistryQuery {
                filter: None,
                order_by: &order_by,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::registered_models_page(&q, backend), backend);
        }
        if let Ok(order_by) = search::parse_model_version_order_by(&entries) {
            let q = search::RegistryQuery {
                filter: None,
                order_by: &order_by,
                offset: 0,
                limit: 10,
            };
            ferroflow::store::build(&search::model_versions_page(&q, backend), backend);
        }
    }
});
