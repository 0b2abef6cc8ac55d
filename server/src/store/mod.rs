//! The tracking store: one module per entity, plain async functions over a connection.
//! Reads take the pool; writes take the connection of a writer job (see `db::writer`),
//! so they always run inside a group-committed transaction.
//!
//! Fixed statements are SQL constants valid on both SQLite and PostgreSQL (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`); statements whose shape depends on the
//! request (multi-row inserts, searches) are built with sea-query for the backend.

pub mod experiments;
pub mod inputs;
pub mod logged_models;
pub mod metrics;
pub mod points;
pub mod registry;
pub mod run_data;
pub mod runs;
pub mod tiles;

use crate::db::{Backend, Conn};
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_binder::{SqlxBinder, SqlxValues};

/// Milliseconds since the Unix epoch, MLflow's unit for every time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Renders a sea-query statement for the backend, with its values as bind parameters.
pub fn build<S: SqlxBinder>(statement: &S, backend: Backend) -> (String, SqlxValues) {
    match backend {
        Backend::Sqlite => statement.build_sqlx(SqliteQueryBuilder),
        Backend::Postgres => statement.build_sqlx(PostgresQueryBuilder),
    }
}

/// `IN ($a, $b, ...)` needs one bind parameter per value; large lists are split into
/// chunks of this size to stay far below both databases' parameter limits.
pub const IN_CHUNK: usize = 500;

/// Numbers bind parameters for hand-built SQL. SQLite gets anonymous `?`: with named
/// `$n` parameters, sqlx looks each one up by name, and SQLite finds a name by a linear
/// scan, which makes a 6,000-parameter insert quadratic. PostgreSQL needs `$n`.
pub struct Params {
    backend: Backend,
    n: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Self {
        Self { backend, n: 0 }
    }

    /// Parameters for a statement on `conn`.
    pub fn on(conn: &Conn) -> Self {
        let backend = if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        Self::new(backend)
    }

    /// The next parameter's placeholder.
    pub fn placeholder(&mut self) -> String {
        self.n += 1;
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", self.n),
        }
    }

    /// `(p, p, p), (p, p, p), ...`: the VALUES rows of a multi-row insert.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        let row = |p: &mut Self| {
            format!(
                "({})",
                (0..columns)
                    .map(|_| p.placeholder())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        (0..rows).map(|_| row(self)).collect::<Vec<_>>().join(", ")
    }
}

/// Remainders up to this many items go in one statement of their exact size.
const EXACT_ROWS: usize = 32;

/// Splits `items` into the chunks that multi-row statements are built for: chunks of
/// `max` (rounded up to a power of two), then the rest in one chunk if it has at most 32
/// items, else in powers of two down to such a chunk. A statement kind then has at most
/// ~32 + log2(max) shapes, each prepared once and then served from the connection's
/// statement cache, while the small writes that dominate (a log-batch's summaries, a
/// group commit's tiles) each cost one statement.
pub fn statement_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.next_power_of_two();
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else if rest.len() <= EXACT_ROWS {
            rest.len()
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_number_for_the_backend() {
        assert_eq!(
            Params::new(Backend::Postgres).rows(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(Params::new(Backend::Sqlite).rows(2, 2), "(?, ?), (?, ?)");
        let mut p = Params::new(Backend::Postgres);
        p.placeholder();
        assert_eq!(p.rows(1, 1), "($2)");
    }

    #[test]
    fn statement_chunks_cover_everything_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        let sizes: Vec<usize> = statement_chunks(&items, 256).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 256, 128, 64, 32, 8]);
        let joined: Vec<usize> = statement_chunks(&items, 256).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(statement_chunks(&items[..0], 8).count(), 0);
        // Small remainders are one chunk; larger ones split into powers of two.
        let sizes = |n: usize| {
            statement_chunks(&items[..n], 512)
                .map(<[usize]>::len)
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(5), [5]);
        assert_eq!(sizes(32), [32]);
        assert_eq!(sizes(33), [32, 1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        // A max that is not a power of two rounds up.
        assert_eq!(
            statement_chunks(&items[..40], 3)
                .map(<[usize]>::len)
                .collect::<Vec<_>>(),
            [4; 10]
        );
    }
}
