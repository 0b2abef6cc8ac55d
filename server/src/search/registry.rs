//! Compiles registered-model and model-version searches to SQL, with the semantics of
//! MLflow's SqlAlchemyStore: tag tests need the tag present with a matching value,
//! deleted versions never show, and prompts (registry entries tagged
//! `mlflow.prompt.is_prompt = 'true'`) are left out unless the filter asks for them.

use super::Backend;
use super::filter::{Comparison, Expr, Field, Op, RegistryAttribute, Value};
use super::order_by::OrderBy;
use super::sql::column_test;
use sea_query::{Cond, Condition, Expr as Sql, Iden, Order, Query, SelectStatement, SimpleExpr};

/// The tag that marks a prompt.
pub const IS_PROMPT_TAG: &str = "mlflow.prompt.is_prompt";
/// The stage of a deleted version.
pub const DELETED_STAGE: &str = "Deleted_Internal";

/// One page of a registry search.
#[derive(Debug, Clone)]
pub struct RegistryQuery<'a> {
    pub filter: Option<&'a Expr>,
    pub order_by: &'a [OrderBy],
    pub offset: u64,
    pub limit: u64,
}

#[derive(Iden)]
enum RegisteredModels {
    Table,
    Id,
    Name,
    LastUpdatedTime,
}

#[derive(Iden)]
enum ModelVersions {
    Table,
    RegisteredModelId,
    Version,
    CurrentStage,
    RunId,
    Source,
    CreationTime,
    LastUpdatedTime,
}

#[derive(Iden)]
enum RegisteredModelTags {
    Table,
}

#[derive(Iden)]
enum ModelVersionTags {
    Table,
}

#[derive(Iden, Clone, Copy)]
enum Col {
    RegisteredModelId,
    Version,
    Key,
    Value,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Over {
    RegisteredModels,
    ModelVersions,
}

/// Selects `registered_models.id` for one page.
pub fn registered_models_page(q: &RegistryQuery, backend: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.column((RegisteredModels::Table, RegisteredModels::Id))
        .from(RegisteredModels::Table);
    s.cond_where(conditions(q.filter, backend, Over::RegisteredModels));
    let mut named = false;
    for o in q.order_by {
        let dir = if o.ascending { Order::Asc } else { Order::Desc };
        match o.field {
            Field::Registry(RegistryAttribute::Name) => {
                named = true;
                s.order_by((RegisteredModels::Table, RegisteredModels::Name), dir);
            }
            Field::Registry(RegistryAttribute::LastUpdatedTimestamp) => {
                s.order_by(
                    (RegisteredModels::Table, RegisteredModels::LastUpdatedTime),
                    dir,
                );
            }
            _ => {}
        }
    }
    if !named {
        s.order_by(
            (RegisteredModels::Table, RegisteredModels::Name),
            Order::Asc,
        );
    }
    s.limit(q.limit.min(i64::MAX as u64))
        .offset(q.offset.min(i64::MAX as u64));
    s
}

/// Selects `model_versions.registered_model_id, model_versions.version` for one page.
/// The default order is MLflow's: last updated first, then name, then newest version.
pub fn model_versions_page(q: &RegistryQuery, backend: Backend) -> SelectStatement {
    let mut s = Query::select();
    s.columns([
        (ModelVersions::Table, ModelVersions::RegisteredModelId),
        (ModelVersions::Table, ModelVersions::Version),
    ])
    .from(ModelVersions::Table)
    .inner_join(
        RegisteredModels::Table,
        Sql::col((RegisteredModels::Table, RegisteredModels::Id))
            .equals((ModelVersions::Table, ModelVersions::RegisteredModelId)),
    );
    let cond = conditions(q.filter, backend, Over::ModelVersions)
        .add(Sql::col((ModelVersions::Table, ModelVersions::CurrentStage)).ne(DELETED_STAGE));
    s.cond_where(cond);
    let default = [
        (RegistryAttribute::LastUpdatedTimestamp, false),
        (RegistryAttribute::Name, true),
        (RegistryAttribute::VersionNumber, false),
    ];
    let mut order: Vec<(RegistryAttribute, bool)> = q
        .order_by
        .iter()
        .filter_map(|o| match o.field {
            Field::Registry(a) => Some((a, o.ascending)),
            _ => None,
        })
        .collect();
    if order.is_empty() {
        order = default.to_vec();
    }
    for tie_breaker in [
        (RegistryAttribute::Name, true),
        (RegistryAttribute::VersionNumber, false),
    ] {
        if !order.iter().any(|(a, _)| *a == tie_breaker.0) {
            order.push(tie_breaker);
        }
    }
    for (attribute, ascending) in order {
        let dir = if ascending { Order::Asc } else { Order::Desc };
        s.order_by_expr(column(attribute), dir);
    }
    s.limit(q.limit.min(i64::MAX as u64))
        .offset(q.offset.min(i64::MAX as u64));
    s
}

fn column(a: RegistryAttribute) -> SimpleExpr {
    match a {
        RegistryAttribute::Name => {
            Sql::col((RegisteredModels::Table, RegisteredModels::Name)).into()
        }
        RegistryAttribute::RunId => Sql::col((ModelVersions::Table, ModelVersions::RunId)).into(),
        RegistryAttribute::SourcePath => {
            Sql::col((ModelVersions::Table, ModelVersions::Source)).into()
        }
        RegistryAttribute::VersionNumber => {
            Sql::col((ModelVersions::Table, ModelVersions::Version)).into()
        }
        RegistryAttribute::CreationTimestamp => {
            Sql::col((ModelVersions::Table, ModelVersions::CreationTime)).into()
        }
        RegistryAttribute::LastUpdatedTimestamp => {
            Sql::col((ModelVersions::Table, ModelVersions::LastUpdatedTime)).into()
        }
    }
}

/// The filter, plus the exclusion of prompts unless the filter asks for them. As in
/// MLflow, a filter that does not ask for prompts has its own tests of the prompt tag
/// dropped (the client adds `tags.`mlflow.prompt.is_prompt` != 'true'` to every search)
/// and the exclusion stands in for them.
fn conditions(filter: Option<&Expr>, backend: Backend, over: Over) -> Condition {
    let prompts = filter.is_some_and(asks_for_prompts);
    let mut cond = Cond::all();
    if let Some(f) = filter {
        cond = cond.add(condition(f, backend, over, prompts));
    }
    if !prompts {
        let prompt = Comparison {
            field: Field::Tag(IS_PROMPT_TAG.to_owned()),
            op: Op::Eq,
            value: Value::String("true".to_owned()),
        };
        cond = cond.add(comparison(&prompt, backend, over, true).not());
    }
    cond
}

/// MLflow's `_is_querying_prompt`: a prompt-tag test `= 'true'` or `!= 'false'`.
fn asks_for_prompts(expr: &Expr) -> bool {
    match expr {
        Expr::Compare(Comparison {
            field: Field::Tag(key),
            op,
            value: Value::String(v),
        }) if key == IS_PROMPT_TAG => {
            (*op == Op::Eq && v.eq_ignore_ascii_case("true"))
                || (*op == Op::Ne && v.eq_ignore_ascii_case("false"))
        }
        Expr::Compare(_) => false,
        Expr::And(terms) | Expr::Or(terms) => terms.iter().any(asks_for_prompts),
    }
}

fn condition(expr: &Expr, backend: Backend, over: Over, prompts: bool) -> Condition {
    match expr {
        Expr::Compare(c) => Cond::all().add(comparison(c, backend, over, prompts)),
        Expr::And(terms) => terms.iter().fold(Cond::all(), |acc, t| {
            acc.add(condition(t, backend, over, prompts))
        }),
        Expr::Or(terms) => terms.iter().fold(Cond::any(), |acc, t| {
            acc.add(condition(t, backend, over, prompts))
        }),
    }
}

/// One test; `prompts` says whether tests of the prompt tag count (see `conditions`).
fn comparison(c: &Comparison, backend: Backend, over: Over, prompts: bool) -> SimpleExpr {
    match &c.field {
        Field::Tag(key) if key == IS_PROMPT_TAG && !prompts => Sql::val(1i64).eq(1i64),
        Field::Registry(a) => column_test(backend, column(*a), c.op, &c.value),
        Field::Tag(key) => {
            // "Has the tag, with a matching value": registered-model tags for models,
            // version tags for versions.
            let mut sub = Query::select();
            match over {
                Over::RegisteredModels => {
                    sub.column((RegisteredModelTags::Table, Col::RegisteredModelId))
                        .from(RegisteredModelTags::Table)
                        .and_where(
                            Sql::col((RegisteredModelTags::Table, Col::RegisteredModelId))
                                .equals((RegisteredModels::Table, RegisteredModels::Id)),
                        )
                        .and_where(
                            Sql::col((RegisteredModelTags::Table, Col::Key)).eq(key.as_str()),
                        )
                        .and_where(column_test(
                            backend,
                            Sql::col((RegisteredModelTags::Table, Col::Value)).into(),
                            c.op,
                            &c.value,
                        ));
                }
                Over::ModelVersions => {
                    sub.column((ModelVersionTags::Table, Col::RegisteredModelId))
                        .from(ModelVersionTags::Table)
                        .and_where(
                            Sql::col((ModelVersionTags::Table, Col::RegisteredModelId))
                                .equals((ModelVersions::Table, ModelVersions::RegisteredModelId)),
                        )
                        .and_where(
                            Sql::col((ModelVersionTags::Table, Col::Version))
                                .equals((ModelVersions::Table, ModelVersions::Version)),
                        )
                        .and_where(Sql::col((ModelVersionTags::Table, Col::Key)).eq(key.as_str()))
                        .and_where(column_test(
                            backend,
                            Sql::col((ModelVersionTags::Table, Col::Value)).into(),
                            c.op,
                            &c.value,
                        ));
                }
            }
            Sql::exists(sub)
        }
        // The parser gives registry searches nothing else.
        _ => Sql::val(1i64).eq(0i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{
        parse_model_version_filter, parse_model_version_order_by, parse_registered_model_filter,
        parse_registered_model_order_by,
    };
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    #[test]
    fn registered_model_filters_compile() {
        let f = parse_registered_model_filter(
            "name LIKE 'a%' AND tags.team = 'x' OR name IN ('b', 'c')",
        )
        .unwrap();
        let order = parse_registered_model_order_by(&["timestamp DESC"]).unwrap();
        let q = RegistryQuery {
            filter: f.as_ref(),
            order_by: &order,
            offset: 0,
            limit: 10,
        };
        let sql = registered_models_page(&q, Backend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(sql.contains("GLOB"), "{sql}");
        assert!(sql.contains(r#"ORDER BY "registered_models"."last_updated_time" DESC, "registered_models"."name" ASC"#), "{sql}");
        assert!(sql.contains("NOT EXISTS"), "prompts excluded: {sql}");
        let f = parse_registered_model_filter("tags.`mlflow.prompt.is_prompt` = 'true'").unwrap();
        let q = RegistryQuery {
            filter: f.as_ref(),
            ..q
        };
        let sql = registered_models_page(&q, Backend::Postgres).to_string(PostgresQueryBuilder);
        assert!(!sql.contains("NOT EXISTS"), "{sql}");
        // What the client appends to every search is replaced by the exclusion.
        let f =
            parse_registered_model_filter("name = 'a' AND tag.`mlflow.prompt.is_prompt` != 'true'")
                .unwrap();
        let q = RegistryQuery {
            filter: f.as_ref(),
            ..q
        };
        let sql = registered_models_page(&q, Backend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(sql.contains("1 = 1") && sql.contains("NOT EXISTS"), "{sql}");
    }

    #[test]
    fn model_version_filters_compile() {
        let f = parse_model_version_filter(
            "name = 'm' AND version_number >= 2 AND run_id IN ('a') AND source_path LIKE 's3:%'",
        )
        .unwrap();
        let q = RegistryQuery {
            filter: f.as_ref(),
            order_by: &[],
            offset: 0,
            limit: 10,
        };
        let sql = model_versions_page(&q, Backend::Postgres).to_string(PostgresQueryBuilder);
        assert!(
            sql.contains(r#""model_versions"."current_stage" <> 'Deleted_Internal'"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"ORDER BY "model_versions"."last_updated_time" DESC, "registered_models"."name" ASC, "model_versions"."version" DESC"#),
            "{sql}"
        );
        let order = parse_model_version_order_by(&["version_number ASC"]).unwrap();
        let q = RegistryQuery {
            order_by: &order,
            ..q
        };
        let sql = model_versions_page(&q, Backend::Sqlite).to_string(SqliteQueryBuilder);
        assert!(
            sql.contains(
                r#"ORDER BY "model_versions"."version" ASC, "registered_models"."name" ASC LIMIT"#
            ),
            "{sql}"
        );
    }

    #[test]
    fn grammar_per_scope() {
        assert!(parse_registered_model_filter("run_id = 'x'").is_err());
        assert!(parse_registered_model_filter("last_updated_timestamp > 1").is_err());
        assert!(parse_registered_model_filter("tags.k IS NULL").is_err());
        assert!(parse_model_version_filter("version_number = 1.5").is_err());
        assert!(parse_model_version_filter("source_path IN ('a')").is_err());
        assert!(parse_model_version_filter("metrics.x > 1").is_err());
        assert!(parse_registered_model_order_by(&["creation_timestamp"]).is_err());
        assert!(parse_registered_model_order_by(&["timestamp", "last_updated_timestamp"]).is_err());
        assert!(parse_model_version_order_by(&["run_id"]).is_err());
        assert!(parse_model_version_order_by(&["creation_timestamp DESC", "name"]).is_ok());
    }
}
