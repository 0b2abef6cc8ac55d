//! How one page of a run search is read: one statement, or, for a page ordered first by a
//! metric, its parts (`sql::Part`) one after the other. Generic over how a statement is
//! run, so the store and the SQL tests read pages the same way.

use super::Backend;
use super::sql::{self, Part, RunQuery};
use sea_query::SelectStatement;
use std::future::Future;

/// The rows of the page `q` asks for (`q.offset`, `q.limit`), in its order. `fetch` runs a
/// statement that selects runs; `count` one that selects a single count. (Closures that
/// return owned futures, not async closures: the server's handlers must be `Send`, and
/// the compiler cannot yet prove that of an async closure's borrowing future.)
///
/// The full order is the `Real` part (N runs) followed by the `Rest`. The `Real` part is
/// read first at the page's window; only when it comes back short does the page go on
/// into the `Rest`, which starts at `offset + got - N`. N is `offset + got` when the
/// window held any real value, and is counted only when the page begins past all of
/// them (a deep page into the NaN and missing values).
pub async fn read<R, E, F, C>(
    q: &RunQuery<'_>,
    backend: Backend,
    mut fetch: impl FnMut(SelectStatement) -> F,
    mut count: impl FnMut(SelectStatement) -> C,
) -> Result<Vec<R>, E>
where
    F: Future<Output = Result<Vec<R>, E>>,
    C: Future<Output = Result<i64, E>>,
{
    if !sql::metric_driven(q) {
        return fetch(sql::runs_page(q, backend)).await;
    }
    let mut rows = fetch(sql::runs_page_part(q, backend, Part::Real)).await?;
    let got = rows.len() as u64;
    if got >= q.limit {
        return Ok(rows);
    }
    let real = if got > 0 || q.offset == 0 {
        q.offset + got
    } else {
        u64::try_from(count(sql::count_real(q, backend)).await?).unwrap_or(0)
    };
    let rest = RunQuery {
        offset: (q.offset + got).saturating_sub(real),
        limit: q.limit - got,
        ..q.clone()
    };
    rows.extend(fetch(sql::runs_page_part(&rest, backend, Part::Rest)).await?);
    Ok(rows)
}
