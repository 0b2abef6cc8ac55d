//! `order_by` entries: `"<identifier> [ASC|DESC]"`, ascending by default.

use super::filter::{Field, FilterError, Parser, RegistryAttribute, Scope};
use std::collections::HashSet;
use std::fmt;

/// One parsed order_by entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// For runs: a metric, param, tag or run attribute; for experiments: an experiment
    /// attribute.
    pub field: Field,
    pub ascending: bool,
}

/// An order_by entry that does not parse, names a field that cannot be ordered by, or
/// repeats an earlier field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderByError {
    /// The entry as given.
    pub entry: String,
    /// 0-based char offset in the entry.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for OrderByError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid order_by clause '{}' at position {}: {}",
            self.entry, self.position, self.message
        )
    }
}

impl std::error::Error for OrderByError {}

impl From<FilterError> for OrderByError {
    fn from(e: FilterError) -> Self {
        Self {
            entry: e.filter,
            position: e.position,
            message: e.message,
        }
    }
}

/// Parses `search_runs` order_by entries: `metrics.x`, `params.x`, `tags.x` and the
/// attributes run_id, run_name, user_id, status, artifact_uri, start_time (`created`),
/// end_time.
pub fn parse_run_order_by<S: AsRef<str>>(entries: &[S]) -> Result<Vec<OrderBy>, OrderByError> {
    parse_all(entries, Scope::Runs)
}

/// Parses `search_registered_models` order_by entries: name, last_updated_timestamp
/// (`timestamp`).
pub fn parse_registered_model_order_by<S: AsRef<str>>(
    entries: &[S],
) -> Result<Vec<OrderBy>, OrderByError> {
    parse_all(entries, Scope::RegisteredModels)
}

/// Parses `search_model_versions` order_by entries: name, version_number,
/// creation_timestamp, last_updated_timestamp.
pub fn parse_model_version_order_by<S: AsRef<str>>(
    entries: &[S],
) -> Result<Vec<OrderBy>, OrderByError> {
    parse_all(entries, Scope::ModelVersions)
}

/// Parses `search_experiments` order_by entries: name, experiment_id, creation_time,
/// last_update_time.
pub fn parse_experiment_order_by<S: AsRef<str>>(
    entries: &[S],
) -> Result<Vec<OrderBy>, OrderByError> {
    parse_all(entries, Scope::Experiments)
}

fn parse_all<S: AsRef<str>>(entries: &[S], scope: Scope) -> Result<Vec<OrderBy>, OrderByError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let entry = entry.as_ref();
        let order = parse_entry(entry, scope)?;
        // Aliases resolve first, so `created` and `start_time` count as the same field.
        if !seen.insert(order.field.clone()) {
            return Err(OrderByError {
                entry: entry.to_owned(),
                position: 0,
                message: format!(
                    "`order_by` contains duplicate fields: {} is already ordered by",
                    order.field
                ),
            });
        }
        out.push(order);
    }
    Ok(out)
}

fn parse_entry(entry: &str, scope: Scope) -> Result<OrderBy, OrderByError> {
    let mut p = Parser::new(entry, scope);
    p.skip_ws();
    let start = p.position();
    let field = p.field()?;
    let orderable = matches!(
        (&field, scope),
        (
            Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::Attribute(_),
            Scope::Runs
        ) | (Field::Experiment(_), Scope::Experiments)
            | (
                Field::Registry(RegistryAttribute::Name | RegistryAttribute::LastUpdatedTimestamp),
                Scope::RegisteredModels
            )
            | (
                Field::Registry(
                    RegistryAttribute::Name
                        | RegistryAttribute::VersionNumber
                        | RegistryAttribute::CreationTimestamp
                        | RegistryAttribute::LastUpdatedTimestamp
                ),
                Scope::ModelVersions
            )
    );
    if !orderable {
        let valid = match scope {
            Scope::Runs => "metrics.<key>, params.<key>, tags.<key> or a run attribute",
            Scope::Experiments => "name, experiment_id, creation_time or last_update_time",
            Scope::RegisteredModels => "name or last_updated_timestamp",
            Scope::ModelVersions => {
                "name, version_number, creation_timestamp or last_updated_timestamp"
            }
            // Logged-model searches order by `field_name`, not through this parser.
            Scope::LoggedModels => "a logged model attribute",
        };
        return Err(p
            .error_at(start, format!("cannot order by {field}: expected {valid}"))
            .into());
    }
    p.skip_ws();
    let ascending = if p.eat_keyword("ASC") {
        true
    } else if p.eat_keyword("DESC") {
        false
    } else if p.at_end() {
        true
    } else {
        return Err(p.expected("ASC, DESC or the end of the clause").into());
    };
    p.skip_ws();
    if !p.at_end() {
        return Err(p.expected("the end of the clause").into());
    }
    Ok(OrderBy { field, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::filter::{Attribute, ExperimentAttribute};

    fn runs(entries: &[&str]) -> Vec<OrderBy> {
        parse_run_order_by(entries).unwrap_or_else(|e| panic!("{entries:?}: {e}"))
    }

    fn run_err(entries: &[&str]) -> OrderByError {
        parse_run_order_by(entries).expect_err(&format!("{entries:?}"))
    }

    fn by(field: Field, ascending: bool) -> OrderBy {
        OrderBy { field, ascending }
    }

    #[test]
    fn directions() {
        assert_eq!(
            runs(&["metrics.loss DESC"]),
            [by(Field::Metric("loss".into()), false)]
        );
        assert_eq!(
            runs(&["metrics.loss desc"]),
            [by(Field::Metric("loss".into()), false)]
        );
        assert_eq!(
            runs(&["metrics.loss ASC"]),
            [by(Field::Metric("loss".into()), true)]
        );
        assert_eq!(
            runs(&["metrics.loss"]),
            [by(Field::Metric("loss".into()), true)],
            "ASC by default"
        );
        assert_eq!(
            runs(&["  metrics.loss   Desc  "]),
            [by(Field::Metric("loss".into()), false)]
        );
        assert!(runs(&[] as &[&str]).is_empty());
        // Handlers pass the request's Vec<String> straight through.
        let owned: Vec<String> = vec!["params.lr DESC".into()];
        assert_eq!(
            parse_run_order_by(&owned),
            Ok(vec![by(Field::Param("lr".into()), false)])
        );
    }

    #[test]
    fn quoted_keys_and_aliases() {
        assert_eq!(
            runs(&["params.`a b` ASC"]),
            [by(Field::Param("a b".into()), true)]
        );
        assert_eq!(
            runs(&[r#"tags."x y" DESC"#]),
            [by(Field::Tag("x y".into()), false)]
        );
        assert_eq!(runs(&["param.lr"]), [by(Field::Param("lr".into()), true)]);
        assert_eq!(
            runs(&["created DESC"]),
            [by(Field::Attribute(Attribute::StartTime), false)]
        );
        assert_eq!(
            runs(&["`Run Name`"]),
            [by(Field::Attribute(Attribute::RunName), true)]
        );
        for (name, a) in [
            ("run_id", Attribute::RunId),
            ("attributes.run_name", Attribute::RunName),
            ("user_id", Attribute::UserId),
            ("status", Attribute::Status),
            ("artifact_uri", Attribute::ArtifactUri),
            ("start_time", Attribute::StartTime),
            ("attr.end_time", Attribute::EndTime),
        ] {
            assert_eq!(runs(&[name]), [by(Field::Attribute(a), true)], "{name}");
        }
        let several = runs(&["metrics.a DESC", "params.b", "end_time ASC"]);
        assert_eq!(several.len(), 3);
    }

    #[test]
    fn errors_name_the_entry() {
        let e = run_err(&["metrics.loss DESCENDING"]);
        assert_eq!(e.entry, "metrics.loss DESCENDING");
        assert_eq!(e.position, 13);
        assert_eq!(
            e.to_string(),
            "Invalid order_by clause 'metrics.loss DESCENDING' at position 13: \
             expected ASC, DESC or the end of the clause but found 'DESCENDING'"
        );
        let e = run_err(&["metrics.loss DESC ASC"]);
        assert!(
            e.message
                .contains("expected the end of the clause but found 'ASC'"),
            "{e}"
        );
        let e = run_err(&["metrics.loss", ""]);
        assert_eq!(e.entry, "");
        assert!(e.message.contains("expected an identifier"), "{e}");
        let e = run_err(&["foo.bar"]);
        assert!(e.message.contains("expected an entity type"), "{e}");
        let e = run_err(&["lifecycle_stage"]);
        assert!(e.message.contains("expected an attribute"), "{e}");
        let e = run_err(&["datasets.name"]);
        assert!(e.message.contains("cannot order by datasets.name"), "{e}");
        let e = run_err(&["metrics.a, metrics.b"]);
        assert!(e.message.contains("but found ','"), "{e}");
    }

    #[test]
    fn duplicates_are_errors() {
        let e = run_err(&["metrics.loss", "metrics.loss DESC"]);
        assert_eq!(e.entry, "metrics.loss DESC");
        assert!(e.message.contains("duplicate"), "{e}");
        let e = run_err(&["start_time", "created DESC"]);
        assert!(e.message.contains("duplicate"), "aliases count: {e}");
        let e = run_err(&["params.`a`", "param.a"]);
        assert!(e.message.contains("duplicate"), "{e}");
        // The same key of different kinds is not a duplicate.
        assert_eq!(runs(&["metrics.a", "params.a", "tags.a"]).len(), 3);
    }

    #[test]
    fn experiments() {
        let parsed = parse_experiment_order_by(&[
            "name DESC",
            "experiment_id",
            "attributes.creation_time ASC",
        ])
        .unwrap();
        assert_eq!(
            parsed,
            [
                by(Field::Experiment(ExperimentAttribute::Name), false),
                by(Field::Experiment(ExperimentAttribute::ExperimentId), true),
                by(Field::Experiment(ExperimentAttribute::CreationTime), true),
            ]
        );
        assert_eq!(
            parse_experiment_order_by(&["last_update_time DESC"]).unwrap(),
            [by(
                Field::Experiment(ExperimentAttribute::LastUpdateTime),
                false
            )]
        );
        let e = parse_experiment_order_by(&["tags.k"]).unwrap_err();
        assert!(e.message.contains("cannot order by tags.k"), "{e}");
        let e = parse_experiment_order_by(&["metrics.m"]).unwrap_err();
        assert!(e.message.contains("expected an entity type"), "{e}");
        let e = parse_experiment_order_by(&["start_time"]).unwrap_err();
        assert!(e.message.contains("expected an attribute"), "{e}");
        let e = parse_experiment_order_by(&["name", "name DESC"]).unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
    }
}
