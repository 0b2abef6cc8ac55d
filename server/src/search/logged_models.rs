//! Compiles `search_logged_models` to SQL: its attributes, and tags and params that must
//! be present with a matching value (as for runs).

use super::filter::{Comparison, Expr, Field, LoggedModelAttribute};
use super::sql::column_test;
use super::{Backend, ViewType};
use sea_query::{
    Cond, Condition, Expr as Sql, Iden, IntoIden, Order, Query, SelectStatement, SimpleExpr,
};

/// One page of a logged-model search.
#[derive(Debug, Clone)]
pub struct LoggedModelQuery<'a> {
    pub experiment_ids: &'a [i64],
    pub filter: Option<&'a Expr>,
    /// Attribute and ascending; empty means newest first.
    pub order_by: &'a [(LoggedModelAttribute, bool)],
    pub view: ViewType,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Iden)]
enum LoggedModels {
    Table,
    ModelId,
    ExperimentId,
    Name,
    ModelType,
    Status,
    SourceRunId,
    CreationTime,
    LastUpdatedTime,
    LifecycleStage,
}

#[derive(Iden)]
enum LoggedModelTags {
    Table,
}

#[derive(Iden)]
enum LoggedModelParams {
    Table,
}

#[derive(Iden, Clone, Copy)]
enum Col {
    ModelId,
    Key,
    Value,
}

/// Selects `logged_models.model_id` for one page.
pub fn logged_models_page(q: &LoggedModelQuery, backend: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.column((LoggedModels::Table, LoggedModels::ModelId))
        .from(LoggedModels::Table);
    let mut cond = Cond::all().add(
        Sql::col((LoggedModels::Table, LoggedModels::ExperimentId))
            .is_in(q.experiment_ids.iter().copied()),
    );
    match q.view {
        ViewType::ActiveOnly => {
            cond =
                cond.add(Sql::col((LoggedModels::Table, LoggedModels::LifecycleStage)).eq("active"))
        }
        ViewType::DeletedOnly => {
            cond = cond
                .add(Sql::col((LoggedModels::Table, LoggedModels::LifecycleStage)).eq("deleted"))
        }
        ViewType::All => {}
    }
    if let Some(f) = q.filter {
        cond = cond.add(condition(f, backend));
    }
    s.cond_where(cond);
    let default = [(LoggedModelAttribute::CreationTimestamp, false)];
    let order = if q.order_by.is_empty() {
        &default[..]
    } else {
        q.order_by
    };
    for (attribute, ascending) in order {
        s.order_by_expr(
            column(*attribute),
            if *ascending { Order::Asc } else { Order::Desc },
        );
    }
    s.order_by((LoggedModels::Table, LoggedModels::ModelId), Order::Asc);
    s.limit(q.limit.min(i64::MAX as u64))
        .offset(q.offset.min(i64::MAX as u64));
    s
}

fn column(a: LoggedModelAttribute) -> SimpleExpr {
    let c = match a {
        LoggedModelAttribute::Name => LoggedModels::Name,
        LoggedModelAttribute::ModelId => LoggedModels::ModelId,
        LoggedModelAttribute::ModelType => LoggedModels::ModelType,
        LoggedModelAttribute::Status => LoggedModels::Status,
        LoggedModelAttribute::SourceRunId => LoggedModels::SourceRunId,
        LoggedModelAttribute::CreationTimestamp => LoggedModels::CreationTime,
        LoggedModelAttribute::LastUpdatedTimestamp => LoggedModels::LastUpdatedTime,
    };
    Sql::col((LoggedModels::Table, c)).into()
}

fn condition(expr: &Expr, backend: Backend) -> Condition {
    match expr {
        Expr::Compare(c) => Cond::all().add(comparison(c, backend)),
        Expr::And(terms) => terms
            .iter()
            .fold(Cond::all(), |acc, t| acc.add(condition(t, backend))),
        Expr::Or(terms) => terms
            .iter()
            .fold(Cond::any(), |acc, t| acc.add(condition(t, backend))),
    }
}

fn comparison(c: &Comparison, backend: Backend) -> SimpleExpr {
    let key_value = |name: sea_query::DynIden, key: &str| {
        let sub = Query::select()
            .column((name.clone(), Col::ModelId))
            .from(name.clone())
            .and_where(
                Sql::col((name.clone(), Col::ModelId))
                    .equals((LoggedModels::Table, LoggedModels::ModelId)),
            )
            .and_where(Sql::col((name.clone(), Col::Key)).eq(key))
            .and_where(column_test(
                backend,
                Sql::col((name, Col::Value)).into(),
                c.op,
                &c.value,
            ))
            .to_owned();
        Sql::exists(sub)
    };
    match &c.field {
        Field::LoggedModel(a) => column_test(backend, column(*a), c.op, &c.value),
        Field::Tag(key) => key_value(LoggedModelTags::Table.into_iden(), key),
        Field::Param(key) => key_value(LoggedModelParams::Table.into_iden(), key),
        // The parser gives logged-model searches nothing else.
        _ => Sql::val(1i64).eq(0i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse_logged_model_filter;
    use sea_query::SqliteQueryBuilder;

    #[test]
    fn filters_compile() {
        let f = parse_logged_model_filter(
            "name = 'model' AND tags.k LIKE 'a%' AND creation_timestamp > 5",
        )
        .unwrap();
        let q = LoggedModelQuery {
            experiment_ids: &[1],
            filter: f.as_ref(),
            order_by: &[],
            view: ViewType::ActiveOnly,
            offset: 0,
            limit: 5,
        };
        let sql = logged_models_page(&q, Backend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(sql.contains(r#""logged_models"."name" = 'model'"#), "{sql}");
        assert!(sql.contains("EXISTS"), "{sql}");
        assert!(
            sql.contains(
                r#"ORDER BY "logged_models"."creation_time" DESC, "logged_models"."model_id" ASC"#
            ),
            "{sql}"
        );
        assert!(parse_logged_model_filter("metrics.x > 1").is_err());
        assert!(parse_logged_model_filter("tags.k IS NULL").is_err());
    }
}
