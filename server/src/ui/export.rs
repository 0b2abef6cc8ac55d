//! `GET /export/runs.csv?experiments=<id>,<id>&<grid state>`: every run matching the
//! grid's view (not just one page) as CSV, in the grid's order and columns. The search
//! is paged in SQL and each page is written out before the next is read, so the memory
//! used does not grow with the number of runs.

use super::runs::{Cell, Loaded, Plan};
use crate::error::ApiError;
use crate::state::AppState;
use app::pages::runs::columns::Column;
use app::pages::runs::state::GridRequest;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::Arc;

/// Runs read per SQL page.
pub const EXPORT_PAGE: u64 = 500;

pub async fn runs_csv(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut req = GridRequest::from_url("", query.as_deref().unwrap_or_default());
    // Logged in, "My runs" are the caller's (as on the page).
    if !caller.is_anonymous() {
        req.user = Some(caller.username.clone());
    }
    let plan = Arc::new(Plan::new(&state, &caller, &req).await.map_err(|message| {
        if message.starts_with("Permission denied") {
            crate::auth::permissions::denied("read this experiment")
        } else {
            ApiError::invalid(message)
        }
    })?);
    let mut header_row = vec![
        "run_id".to_owned(),
        "experiment_id".to_owned(),
        "parent_run_id".to_owned(),
    ];
    header_row.extend(plan.columns.iter().map(Column::id));
    let head = futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(csv_line(&header_row)))
    });
    let db = state.db.clone();
    let pages = futures::stream::try_unfold(Some(0u64), move |offset| {
        let (db, plan) = (db.clone(), plan.clone());
        async move {
            let Some(offset) = offset else {
                return Ok(None);
            };
            let (loaded, more) = plan
                .page(&db, offset, EXPORT_PAGE)
                .await
                .map_err(std::io::Error::other)?;
            let mut chunk = String::new();
            for run in &loaded {
                chunk.push_str(&csv_line(&record(run, &plan.columns)));
            }
            let next = more.then_some(offset + EXPORT_PAGE);
            Ok(Some((Bytes::from(chunk), next)))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"runs.csv\"",
            ),
        ],
        Body::from_stream(head.chain(pages)),
    )
        .into_response())
}

fn record(run: &Loaded, columns: &[Column]) -> Vec<String> {
    let info = &run.row.info;
    let mut out = vec![
        info.run_id.clone(),
        info.experiment_id.clone(),
        run.parent().unwrap_or_default().to_owned(),
    ];
    out.extend(columns.iter().map(|c| match run.value(c) {
        Cell::Empty => String::new(),
        Cell::Text(s) => defuse_formula(s),
        Cell::Number(f) => f.to_string(),
        Cell::Time(ms) => iso_time(ms),
        Cell::Duration(ms) => format!("{}", ms as f64 / 1000.0),
    }));
    out
}

/// Guards against spreadsheet formula injection (OWASP "CSV injection"): a text cell
/// that a spreadsheet would evaluate (it starts with `=`, `+`, `-`, `@`, tab or CR) gets
/// a leading `'`, which spreadsheets show as text. A plain number (`-0.5`, a param logged
/// as a string) cannot be a formula and is left as it is.
fn defuse_formula(s: String) -> String {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && s.trim().parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s
    }
}

/// `2026-01-31T12:30:05.123Z`.
fn iso_time(ms: i64) -> String {
    let minutes = app::pages::experiments::format_ms(ms).replacen(' ', "T", 1);
    let in_minute = ms.rem_euclid(60_000);
    format!("{minutes}:{:02}.{:03}Z", in_minute / 1000, in_minute % 1000)
}

/// One CSV record (RFC 4180): fields with a comma, quote, CR or LF, or leading or
/// trailing spaces, are quoted, quotes doubled.
pub fn csv_line(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| {
            let quoted =
                f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ');
            if quoted {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", " pad", "ü"].map(str::to_owned);
        assert_eq!(
            csv_line(&fields),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",ü\r\n"
        );
        assert_eq!(iso_time(1_769_862_605_123), "2026-01-31T12:30:05.123Z");
    }

    #[test]
    fn formulas_are_exported_as_text() {
        for (cell, want) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-0.5", "-0.5"),
            ("+1e3", "+1e3"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(defuse_formula(cell.to_owned()), want, "{cell:?}");
        }
    }
}
