//! One filter box: its text to filter terms, and values back to box text.

use super::{quote, time::parse_time};
use crate::search::{Attribute, Comparison, Expr, Field, GridField, Number, Op, Value};
use app::pages::runs::columns::{Agg, Attr, Column, FilterKind};

/// The filter field a column's box filters, if it has one.
pub(super) fn field_of(column: &Column) -> Option<Field> {
    Some(match column {
        Column::Attr(Attr::RunName) => Field::Attribute(Attribute::RunName),
        Column::Attr(Attr::UserId) => Field::Attribute(Attribute::UserId),
        Column::Attr(Attr::Status) => Field::Attribute(Attribute::Status),
        Column::Attr(Attr::StartTime) => Field::Attribute(Attribute::StartTime),
        Column::Attr(Attr::RunId) => Field::Attribute(Attribute::RunId),
        Column::Attr(Attr::Duration) => Field::Grid(GridField::Duration),
        Column::Param(k) => Field::Param(k.clone()),
        Column::Tag(k) => Field::Tag(k.clone()),
        Column::Metric(k, Agg::Last) => Field::Metric(k.clone()),
        Column::Metric(k, Agg::Min) => Field::Grid(GridField::MetricMin(k.clone())),
        Column::Metric(k, Agg::Max) => Field::Grid(GridField::MetricMax(k.clone())),
    })
}

/// The terms one filter box stands for.
pub fn cell_terms(column: &Column, text: &str) -> Result<Vec<Expr>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let label = column.label();
    let Some(field) = field_of(column) else {
        return Err(format!("The column {label} cannot be filtered."));
    };
    match column.filter_kind() {
        FilterKind::Number | FilterKind::Time | FilterKind::Duration => text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                let (op, value) = numeric_op(part);
                let value = value.trim();
                let number = match column.filter_kind() {
                    FilterKind::Time => parse_time(value).map(Number::Int),
                    FilterKind::Duration => parse_duration(value).map(Number::Int),
                    _ => parse_number(value),
                };
                let number = number.ok_or_else(|| {
                    let example = match column.filter_kind() {
                        FilterKind::Time => "'>= 2026-01-31' or '< 2026-01-31 12:00'",
                        FilterKind::Duration => "'> 90s' or '<= 2h'",
                        _ => "'> 0.5' or '<= 2'",
                    };
                    format!("Filter for {label}: expected a comparison such as {example}, found '{part}'.")
                })?;
                Ok(compare(field.clone(), op, Value::Number(number)))
            })
            .collect(),
        FilterKind::Text => text_terms(column, field, text, &label).map(|t| vec![t]),
        FilterKind::None => Err(format!("The column {label} cannot be filtered.")),
    }
}

pub(super) fn compare(field: Field, op: Op, value: Value) -> Expr {
    Expr::Compare(Comparison { field, op, value })
}

/// A leading comparator (`=` when there is none) and the rest of the text.
fn numeric_op(part: &str) -> (Op, &str) {
    for (symbol, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ] {
        if let Some(rest) = part.strip_prefix(symbol) {
            return (op, rest);
        }
    }
    (Op::Eq, part)
}

/// A span in milliseconds: a number with a unit (`ms`, `s`, `m`/`min`, `h`, `d`), or
/// without one in seconds; `1.5h` is 5,400,000.
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" => 1.0,
        "" | "s" | "sec" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        _ => return None,
    };
    let ms = number.parse::<f64>().ok()? * scale;
    (ms.is_finite() && ms < 9.2e18).then(|| ms.round() as i64)
}

fn parse_number(s: &str) -> Option<Number> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    // Only what the filter grammar can write: digits, a point, an exponent.
    if !s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Number::Float)
}

fn text_terms(column: &Column, field: Field, text: &str, label: &str) -> Result<Expr, String> {
    let keyed = matches!(column, Column::Param(_) | Column::Tag(_));
    let upper = text.to_uppercase();
    if upper == "IS NULL" || upper == "IS NOT NULL" {
        if !keyed {
            return Err(format!(
                "Filter for {label}: IS NULL applies to params and tags only."
            ));
        }
        let op = if upper == "IS NULL" {
            Op::IsNull
        } else {
            Op::IsNotNull
        };
        return Ok(compare(field, op, Value::None));
    }
    let keyword = |k: &str| keyword(text, k);
    if let Some(list) = keyword("IN") {
        let items = split_list(list).ok_or_else(|| {
            format!("Filter for {label}: a quoted value in the list '{}' is not closed, or text follows its closing quote.", list.trim())
        })?;
        if items.is_empty() {
            return Err(format!("Filter for {label}: IN needs at least one value."));
        }
        if field == Field::Attribute(Attribute::RunId) {
            return Ok(compare(field, Op::In, Value::StringList(items)));
        }
        // Params, tags and other attributes have no IN in MLflow's grammar: an OR of
        // equalities says the same.
        let mut terms: Vec<Expr> = items
            .into_iter()
            .map(|v| compare(field.clone(), Op::Eq, Value::String(v)))
            .collect();
        return Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        });
    }
    let (op, value) = if let Some(v) = text.strip_prefix("!=") {
        (Op::Ne, v)
    } else if let Some(v) = text.strip_prefix("==") {
        (Op::Eq, v)
    } else if let Some(v) = text.strip_prefix('=') {
        (Op::Eq, v)
    } else if let Some(v) = keyword("LIKE") {
        (Op::Like, v)
    } else if let Some(v) = keyword("ILIKE") {
        (Op::ILike, v)
    } else {
        (Op::Eq, text)
    };
    let value = unquote(value.trim())
        .ok_or_else(|| format!("Filter for {label}: an unterminated quote in '{text}'."))?;
    if value.is_empty() {
        return Err(format!(
            "Filter for {label}: expected a value after the comparator."
        ));
    }
    Ok(compare(field, op, Value::String(value)))
}

/// The text after a leading keyword (any case) and whitespace.
fn keyword<'a>(text: &'a str, k: &str) -> Option<&'a str> {
    let head = text.get(..k.len())?;
    let rest = &text[k.len()..];
    (head.eq_ignore_ascii_case(k) && rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// A box value: `'...'` (with `''` for a quote) keeps spaces and commas; anything else
/// is taken as typed.
fn unquote(v: &str) -> Option<String> {
    if !v.starts_with('\'') {
        return Some(v.to_owned());
    }
    let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
    // Every quote inside must be doubled.
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// `a, 'b, c', d` into its items. An item is quoted when it starts with `'` (then `''`
/// is a quote and commas are kept); otherwise it runs to the next comma as typed.
fn split_list(list: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = list.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '\'' {
            let mut item = String::new();
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (None, _) => return None,
                    (Some('\''), Some('\'')) => {
                        item.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some(c), _) => {
                        item.push(*c);
                        i += 1;
                    }
                }
            }
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
            match chars.get(i) {
                None => {}
                Some(',') => i += 1,
                Some(_) => return None,
            }
            items.push(item);
        } else {
            let start = i;
            while chars.get(i).is_some_and(|c| *c != ',') {
                i += 1;
            }
            let item: String = chars[start..i].iter().collect();
            i += 1;
            let item = item.trim();
            if !item.is_empty() {
                items.push(item.to_owned());
            }
        }
    }
    Some(items)
}

/// How a value is written back into a box: bare when it reads back the same.
pub(super) fn box_value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.trim() == v
        && !v.starts_with('\'')
        && !v.contains(',')
        && !v.contains('\n');
    if plain { v.to_owned() } else { quote(v) }
}
