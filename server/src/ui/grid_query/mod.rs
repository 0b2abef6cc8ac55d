//! The runs grid's filter query: column filter boxes to an MLflow filter query and back.
//!
//! A filter box holds a small text per column (`> 0.5, <= 0.9` for a metric,
//! `>= 2026-01-31` for the start time, `= adam`, `LIKE res%`, `IN a, b` or `IS NULL` for
//! params, tags and text attributes). `generate` turns the boxes plus the free rest of the
//! query into one query; `split` reads any query with the real parser
//! (`search::parse_run_filter`) and hands each top-level `AND` term that a shown column
//! can hold back to that column's box, the rest staying as free query. Pure: no database.

mod cell;
mod time;

pub use cell::cell_terms;
pub use time::{format_time, parse_time};

use crate::search::{Comparison, Expr, Number, Op, Value, parse_run_filter};
use app::pages::runs::columns::{Column, FilterKind};
use cell::{box_value, field_of};

/// A query in MLflow's syntax, as the parser reads it back: keys quoted where needed
pub fn print(expr: &Expr) -> String {
    match expr {
        Expr::Compare(c) => print_comparison(c),
        Expr::And(terms) => terms
            .iter()
            .map(|t| match t {
                Expr::Or(_) => format!("({})", print(t)),
                _ => print(t),
            })
            .collect::<Vec<_>>()
            .join(" AND "),
        Expr::Or(terms) => terms
            .iter()
            .map(|t| match t {
                Expr::And(_) => format!("({})", print(t)),
                _ => print(t),
            })
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

fn print_comparison(c: &Comparison) -> String {
    let value = match &c.value {
        Value::None => return format!("{} {}", c.field, c.op.as_str()),
        Value::Number(n) => print_number(*n),
        Value::String(s) => quote(s),
        Value::StringList(items) => format!(
            "({})",
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::IntList(items) => format!(
            "({})",
            items
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{} {} {}", c.field, c.op.as_str(), value)
}

fn print_number(n: Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        // Rust prints the shortest text that reads back as the same float, never in
        // exponent form; a float that happens to be whole keeps a `.0`.
        Number::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Number::Float(f) => f.to_string(),
    }
}

/// A string literal of the filter grammar.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The whole query for some filter boxes (`(column id, text)`) and the free rest.
/// Box terms come first, in the given order, then the rest's terms. Boxes of grid-only
/// columns (`Column::grid_only`) are left out: see [`grid_terms`].
pub fn generate(filters: &[(String, String)], rest: &str) -> Result<String, String> {
    let mut terms: Vec<Expr> = Vec::new();
    for (id, text) in filters {
        let column =
            Column::parse(id).ok_or_else(|| format!("Unknown column '{id}' in a filter."))?;
        if !column.grid_only() {
            terms.extend(cell_terms(&column, text)?);
        }
    }
    match parse_run_filter(rest).map_err(|e| e.to_string())? {
        Some(Expr::And(more)) => terms.extend(more),
        Some(other) => terms.push(other),
        None => {}
    }
    let query = match terms.len() {
        0 => String::new(),
        1 => print(&terms[0]),
        _ => print(&Expr::And(terms)),
    };
    // What is generated must parse (and mean the same); this guards the printer.
    parse_run_filter(&query).map_err(|e| e.to_string())?;
    Ok(query)
}

/// The kept grid-only boxes (`(column id, text)`) and their terms.
pub type GridTerms = (Vec<(String, String)>, Vec<Expr>);

/// The terms of the boxes that MLflow's grammar cannot express (a metric's min or max,
/// the duration): the grid ANDs them to the query's filter, with `search::GridField`s.
/// Boxes of columns that are not shown are dropped, with the columns.
pub fn grid_terms(filters: &[(String, String)], shown: &[Column]) -> Result<GridTerms, String> {
    let mut boxes = Vec::new();
    let mut terms = Vec::new();
    for (id, text) in filters {
        let Some(column) = Column::parse(id).filter(|c| c.grid_only() && shown.contains(c)) else {
            continue;
        };
        terms.extend(cell_terms(&column, text)?);
        boxes.push((id.clone(), text.trim().to_owned()));
    }
    Ok((boxes, terms))
}

/// A query split over the shown columns: each column's box text (in column order, only
/// columns with a filter) and the rest as a query.
pub type Split = (Vec<(String, String)>, String);

pub fn split(query: &str, columns: &[Column]) -> Result<Split, String> {
    let terms = match parse_run_filter(query).map_err(|e| e.to_string())? {
        None => Vec::new(),
        Some(Expr::And(terms)) => terms,
        Some(other) => vec![other],
    };
    let mut boxes: Vec<Vec<Expr>> = vec![Vec::new(); columns.len()];
    let mut rest: Vec<Expr> = Vec::new();
    for term in terms {
        match column_for(&term, columns, &boxes) {
            Some(i) => boxes[i].push(term),
            None => rest.push(term),
        }
    }
    let filters = columns
        .iter()
        .zip(boxes)
        .filter(|(_, terms)| !terms.is_empty())
        .map(|(c, terms)| (c.id(), box_text(c, &terms)))
        .collect();
    let rest = match rest.len() {
        0 => String::new(),
        1 => print(&rest[0]),
        _ => print(&Expr::And(rest)),
    };
    Ok((filters, rest))
}

/// Which shown column's box can hold a term, if any.
fn column_for(term: &Expr, columns: &[Column], boxes: &[Vec<Expr>]) -> Option<usize> {
    let (field, fits_numeric, fits_text) = match term {
        Expr::Compare(c) => {
            let numeric = matches!(c.value, Value::Number(_))
                && matches!(c.op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge);
            let text = matches!(
                (&c.op, &c.value),
                (Op::Eq | Op::Ne | Op::Like | Op::ILike, Value::String(_))
                    | (Op::IsNull | Op::IsNotNull, Value::None)
                    | (Op::In, Value::StringList(_))
            );
            (&c.field, numeric, text)
        }
        // `a = 'x' OR a = 'y'` on one field is a box's `IN x, y`.
        Expr::Or(terms) => {
            let mut field = None;
            for t in terms {
                match t {
                    Expr::Compare(Comparison {
                        field: f,
                        op: Op::Eq,
                        value: Value::String(_),
                    }) if field.is_none_or(|g| g == f) => field = Some(f),
                    _ => return None,
                }
            }
            (field?, false, true)
        }
        Expr::And(_) => return None,
    };
    let i = columns
        .iter()
        .position(|c| field_of(c).as_ref() == Some(field))?;
    match columns[i].filter_kind() {
        FilterKind::Number | FilterKind::Time if fits_numeric => Some(i),
        // A text box holds one condition.
        FilterKind::Text if fits_text && boxes[i].is_empty() => Some(i),
        _ => None,
    }
}

/// The box text for the terms `column_for` gave a column.
fn box_text(column: &Column, terms: &[Expr]) -> String {
    let time = column.filter_kind() == FilterKind::Time;
    terms
        .iter()
        .map(|t| match t {
            Expr::Compare(c) => match &c.value {
                Value::Number(n) => {
                    let value = match (time, n) {
                        (true, Number::Int(ms)) => format_time(*ms),
                        _ => print_number(*n),
                    };
                    format!("{} {value}", c.op.as_str())
                }
                Value::String(s) => format!("{} {}", c.op.as_str(), box_value(s)),
                Value::None => c.op.as_str().to_owned(),
                Value::StringList(items) => format!("IN {}", box_list(items.iter())),
                Value::IntList(_) => print(t),
            },
            Expr::Or(terms) => format!(
                "IN {}",
                box_list(terms.iter().filter_map(|t| match t {
                    Expr::Compare(Comparison {
                        value: Value::String(s),
                        ..
                    }) => Some(s),
                    _ => None,
                }))
            ),
            Expr::And(_) => print(t),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn box_list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(|s| box_value(s)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Field, parse_run_filter};
    use cell::compare;

    fn col(id: &str) -> Column {
        Column::parse(id).unwrap()
    }

    fn boxes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn shown() -> Vec<Column> {
        [
            "attributes.run_name",
            "attributes.user_id",
            "attributes.status",
            "attributes.start_time",
            "metrics.loss",
            "metrics_min.loss",
            "params.lr",
            "params.my key",
            "tags.team",
            "tags.a`b",
            "params.ключ",
        ]
        .map(col)
        .to_vec()
    }

    /// Generated text splits back into the same boxes, and generating again gives the
    /// same query.
    fn round_trip(filters: &[(&str, &str)], rest: &str) -> String {
        let query = generate(&boxes(filters), rest).unwrap();
        let (split_boxes, split_rest) = split(&query, &shown()).unwrap();
        assert_eq!(
            generate(&split_boxes, &split_rest).unwrap(),
            query,
            "{split_boxes:?} {split_rest}"
        );
        let (again, again_rest) =
            split(&generate(&split_boxes, &split_rest).unwrap(), &shown()).unwrap();
        assert_eq!((again, again_rest), (split_boxes, split_rest));
        query
    }

    #[test]
    fn metric_boxes_make_number_comparisons() {
        assert_eq!(
            generate(&boxes(&[("metrics.loss", "> 0.5, <=2")]), "").unwrap(),
            "metrics.loss > 0.5 AND metrics.loss <= 2"
        );
        assert_eq!(
            generate(&boxes(&[("metrics.loss", "0.25")]), "").unwrap(),
            "metrics.loss = 0.25"
        );
        assert_eq!(
            generate(&boxes(&[("metrics.loss", "!= -1e-7")]), "").unwrap(),
            "metrics.loss != -0.0000001"
        );
        let e = generate(&boxes(&[("metrics.loss", "> abc")]), "").unwrap_err();
        assert!(
            e.contains("Filter for loss") && e.contains("'> abc'"),
            "{e}"
        );
        assert!(generate(&boxes(&[("metrics.loss", "> inf")]), "").is_err());
        // Min, max and duration boxes stay out of MLflow's query (see grid_terms).
        assert_eq!(
            generate(
                &boxes(&[("metrics_min.loss", "> 1"), ("metrics.loss", "< 2")]),
                ""
            )
            .unwrap(),
            "metrics.loss < 2"
        );
    }

    #[test]
    fn min_max_and_duration_boxes_become_grid_terms_of_shown_columns() {
        use crate::search::GridField;
        let shown = [col("metrics_min.loss"), col("attributes.duration")];
        let filters = boxes(&[
            ("metrics_min.loss", " > 0.5, <= 2 "),
            ("metrics_max.loss", "> 1"),
            ("attributes.duration", ">= 1.5m, < 2h"),
            ("metrics.loss", "< 3"),
        ]);
        let (kept, terms) = grid_terms(&filters, &shown).unwrap();
        // The hidden max column's box goes with its column; MLflow's boxes are the query's.
        assert_eq!(
            kept,
            boxes(&[
                ("metrics_min.loss", "> 0.5, <= 2"),
                ("attributes.duration", ">= 1.5m, < 2h")
            ])
        );
        let min = |n| Field::Grid(GridField::MetricMin(n));
        let duration = Field::Grid(GridField::Duration);
        assert_eq!(
            terms,
            vec![
                compare(
                    min("loss".into()),
                    Op::Gt,
                    Value::Number(Number::Float(0.5))
                ),
                compare(min("loss".into()), Op::Le, Value::Number(Number::Int(2))),
                compare(duration.clone(), Op::Ge, Value::Number(Number::Int(90_000))),
                compare(duration, Op::Lt, Value::Number(Number::Int(7_200_000))),
            ]
        );
        for (text, ms) in [
            ("> 250ms", 250),
            ("> 90", 90_000),
            ("> 90s", 90_000),
            ("> 2 min", 120_000),
            ("> 1d", 86_400_000),
        ] {
            let (_, terms) = grid_terms(&boxes(&[("attributes.duration", text)]), &shown).unwrap();
            assert_eq!(
                terms,
                vec![compare(
                    Field::Grid(GridField::Duration),
                    Op::Gt,
                    Value::Number(Number::Int(ms))
                )],
                "{text}"
            );
        }
        for bad in ["> soon", "> 5 weeks", "> -1s", "> 1e400s"] {
            let e = grid_terms(&boxes(&[("attributes.duration", bad)]), &shown).unwrap_err();
            assert!(
                e.contains("Filter for Duration") && e.contains("'> 90s'"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn text_values_are_quoted_and_escaped() {
        assert_eq!(
            generate(&boxes(&[("params.lr", "= it's")]), "").unwrap(),
            "params.lr = 'it''s'"
        );
        assert_eq!(
            generate(&boxes(&[("params.my key", "0.1")]), "").unwrap(),
            "params.`my key` = '0.1'"
        );
        assert_eq!(
            generate(&boxes(&[("tags.a`b", "x")]), "").unwrap(),
            "tags.`a``b` = 'x'"
        );
        assert_eq!(
            generate(&boxes(&[("tags.team", "'  spaced, quoted '")]), "").unwrap(),
            "tags.team = '  spaced, quoted '"
        );
        assert_eq!(
            generate(&boxes(&[("params.ключ", "ILIKE %значение%")]), "").unwrap(),
            "params.ключ ILIKE '%значение%'"
        );
        assert!(generate(&boxes(&[("tags.team", "'open")]), "").is_err());
        assert!(generate(&boxes(&[("tags.team", "=")]), "").is_err());
        assert!(generate(&boxes(&[("attributes.status", "IS NULL")]), "").is_err());
        assert!(generate(&boxes(&[("nope.x", "1")]), "").is_err());
    }

    #[test]
    fn like_wildcards_pass_through_and_escapes_survive() {
        // `%` and `_` are the user's wildcards; `\` escapes them, as the compiler reads it.
        let q = generate(&boxes(&[("params.lr", r"LIKE 100\%_x%")]), "").unwrap();
        assert_eq!(q, r"params.lr LIKE '100\%_x%'");
        let (b, rest) = split(&q, &shown()).unwrap();
        assert_eq!(b, boxes(&[("params.lr", r"LIKE 100\%_x%")]));
        assert_eq!(rest, "");
    }

    #[test]
    fn in_lists_become_or_groups_and_come_back() {
        let q = round_trip(&[("tags.team", "IN cv, 'a, b', 'it''s'")], "");
        assert_eq!(
            q,
            "tags.team = 'cv' OR tags.team = 'a, b' OR tags.team = 'it''s'"
        );
        let (b, _) = split(&q, &shown()).unwrap();
        // Written back with quotes only where needed.
        assert_eq!(b, boxes(&[("tags.team", "IN cv, 'a, b', it's")]));
        assert!(generate(&boxes(&[("tags.team", "IN 'open, x")]), "").is_err());
        assert!(generate(&boxes(&[("tags.team", "IN 'a' b")]), "").is_err());
        assert_eq!(
            generate(&boxes(&[("attributes.status", "in FINISHED")]), "").unwrap(),
            "attributes.status = 'FINISHED'"
        );
    }

    #[test]
    fn times_read_dates_and_write_them_back() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("2026-01-31 12:30"), Some(1_769_862_600_000));
        assert_eq!(parse_time("2026-01-31T12:30:05Z"), Some(1_769_862_605_000));
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(format_time(86_400_000), "1970-01-02");
        assert_eq!(format_time(1_769_862_605_000), "2026-01-31 12:30:05");
        assert_eq!(format_time(1_769_862_605_001), "1769862605001");
        let q = round_trip(
            &[("attributes.start_time", ">= 2026-01-31, < 2026-02-01 06:00")],
            "",
        );
        assert_eq!(
            q,
            "attributes.start_time >= 1769817600000 AND attributes.start_time < 1769925600000"
        );
        let (b, _) = split(&q, &shown()).unwrap();
        assert_eq!(
            b,
            boxes(&[("attributes.start_time", ">= 2026-01-31, < 2026-02-01 06:00")])
        );
    }

    #[test]
    fn edited_queries_split_into_boxes_and_rest() {
        let (b, rest) = split(
            "metrics.loss < 0.5 and params.lr = '0.1' AND params.lr = '0.2' \
             AND datasets.name = 'd' AND (tags.team = 'a' OR params.lr = 'b') \
             AND metrics.acc > 1 AND attributes.user_id LIKE 'a%'",
            &shown(),
        )
        .unwrap();
        assert_eq!(
            b,
            boxes(&[
                ("attributes.user_id", "LIKE a%"),
                ("metrics.loss", "< 0.5"),
                ("params.lr", "= 0.1"),
            ])
        );
        // A second condition on a text column, mixed ORs, unshown columns and datasets
        // stay in the free query.
        assert_eq!(
            rest,
            "params.lr = '0.2' AND datasets.name = 'd' AND (tags.team = 'a' OR params.lr = 'b') AND metrics.acc > 1"
        );
        round_trip(&[("metrics.loss", "< 0.5"), ("params.lr", "= 0.1")], &rest);
        assert!(
            split("metrics.loss <", &shown())
                .unwrap_err()
                .contains("position")
        );
    }

    #[test]
    fn hostile_and_odd_values_round_trip() {
        for value in [
            "x'; DROP TABLE runs; --",
            "`back`ticks`",
            "\"double\"",
            " leading space",
            "trailing ",
            "a,b",
            "日本語 ✓",
            "''",
            "%_",
            "IN not a list",
        ] {
            let text = format!("= {}", box_value(value));
            let q = round_trip(&[("params.my key", &text)], "");
            let parsed = parse_run_filter(&q).unwrap().unwrap();
            assert_eq!(
                parsed,
                compare(
                    Field::Param("my key".into()),
                    Op::Eq,
                    Value::String(value.into())
                ),
                "{value:?} -> {q}"
            );
        }
        for op in ["!=", "LIKE", "ILIKE"] {
            round_trip(&[("tags.team", &format!("{op} 'x y'"))], "");
        }
        round_trip(&[("tags.team", "IS NOT NULL")], "");
        round_trip(&[], "attributes.run_id IN ('a', 'b') OR metrics.x != 1.0");
    }

    #[test]
    fn a_whole_float_prints_as_a_float() {
        assert_eq!(print_number(Number::Float(2.0)), "2.0");
        assert_eq!(print_number(Number::Float(1e20)), "100000000000000000000");
        assert_eq!(print_number(Number::Int(-3)), "-3");
    }
}
