//! The compare page's store: runs with their metric summaries, and the scatter SVG.

use crate::auth::{Permission, permissions};
use crate::db::Db;
use crate::error::{ApiError, Result};
use crate::plot::render;
use crate::state::AppState;
use crate::store::{run_data, runs};
use app::pages::compare::{ComparedRun, MAX_COMPARED, Scatter, ssr::CompareStore};
use app::pages::ssr::BoxFuture;
use std::collections::HashMap;

pub struct Store(pub AppState);

impl CompareStore for Store {
    fn compared_runs(
        &self,
        run_ids: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<ComparedRun>, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_runs(&self.0, &caller, &run_ids, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            load(&self.0.db, &run_ids).await.map_err(|e| e.message)
        })
    }

    fn scatter(
        &self,
        run_ids: Vec<String>,
        x: String,
        y: String,
    ) -> BoxFuture<'_, Result<Scatter, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_runs(&self.0, &caller, &run_ids, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            let runs = load(&self.0.db, &run_ids).await.map_err(|e| e.message)?;
            for axis in [&x, &y] {
                if !axis.starts_with("params.") && !axis.starts_with("metrics.") {
                    return Err(format!(
                        "Invalid axis '{axis}': expected params.<key> or metrics.<key>."
                    ));
                }
            }
            let mut points = Vec::new();
            let mut skipped = Vec::new();
            for r in &runs {
                match (r.axis_value(&x), r.axis_value(&y)) {
                    (Some(a), Some(b)) if a.is_finite() && b.is_finite() => {
                        points.push((a, b, r.name()))
                    }
                    _ => skipped.push(r.name()),
                }
            }
            let svg = render::scatter(&points, &x, &y)?;
            Ok(Scatter { svg, skipped })
        })
    }
}

async fn load(db: &Db, run_ids: &[String]) -> Result<Vec<ComparedRun>> {
    if run_ids.len() > MAX_COMPARED {
        return Err(ApiError::invalid(format!(
            "Compare at most {MAX_COMPARED} runs at once; got {}.",
            run_ids.len()
        )));
    }
    let mut rows = Vec::with_capacity(run_ids.len());
    for id in run_ids {
        rows.push(runs::get_row(db, id).await?);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut summaries: HashMap<i64, Vec<_>> = HashMap::new();
    for (run, s) in run_data::summaries(db, &ids, None).await? {
        summaries.entry(run).or_default().push(s);
    }
    let assembled = runs::assemble(db, rows, None).await?;
    Ok(ids
        .into_iter()
        .zip(assembled)
        .map(|(id, run)| ComparedRun {
            run,
            metrics: summaries.remove(&id).unwrap_or_default(),
        })
        .collect())
}
