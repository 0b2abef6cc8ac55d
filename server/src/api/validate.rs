//! MLflow's input rules (`mlflow/utils/validation.py`): names, lengths and batch sizes,
//! with its messages, so clients see the errors they would see from MLflow.

use crate::error::{ApiError, Result};

pub const MAX_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_RESULTS_RUNS: i64 = 50_000;

/// Unwraps a required field or answers MLflow's "Missing value" error.
pub fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::missing(field)),
    }
}

/// What a key names; MLflow words its errors differently for each.
#[derive(Clone, Copy, Debug)]
pub enum Key {
    Param,
    Metric,
    Tag,
}

impl Key {
    /// (the request field, the label of the length error)
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Key::Param => ("key", "Param key"),
            Key::Metric => ("name", "Metric name"),
            Key::Tag => ("key", "key"),
        }
    }
}

/// A metric, param or tag name: MLflow's character set, its length limit, and no path
/// tricks (it becomes a file name in file stores and artifact paths).
pub fn key(name: &str, kind: Key) -> Result<()> {
    let (what, label) = kind.labels();
    let allowed = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/'));
    if !allowed {
        return Err(ApiError::invalid(format!(
            "Invalid value \"{name}\" for parameter '{what}' supplied: Names may only contain \
             alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    if path_not_unique(name) {
        return Err(ApiError::invalid(format!(
            "Invalid value \"{name}\" for parameter '{what}' supplied: Names cannot be a path that \
             resolves to a different location (no '..', leading '/', '.', or repeated or trailing '/')."
        )));
    }
    length(name, MAX_KEY_LENGTH, label)
}

/// Mirrors `posixpath.normpath(name) != name` and friends from MLflow.
fn path_not_unique(name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let parts: Vec<&str> = name.split('/').collect();
    name.starts_with('/')
        || name == "."
        || parts
            .iter()
            .any(|p| *p == ".." || *p == "." || p.is_empty())
}

pub fn length(value: &str, limit: usize, what: &str) -> Result<()> {
    let n = value.chars().count();
    if n > limit {
        return Err(ApiError::invalid(format!(
            "'{what}' exceeds the maximum length of {limit} characters (got {n})."
        )));
    }
    Ok(())
}

/// Values over MLflow's limit are cut to it, as MLflow does by default
/// (`MLFLOW_TRUNCATE_LONG_VALUES`), rather than refused.
pub fn truncate(value: &str, limit: usize) -> String {
    match value.char_indices().nth(limit) {
        Some((cut, _)) => value[..cut].to_owned(),
        None => value.to_owned(),
    }
}

/// `max_results` within `1..=max`, or the default when absent.
pub fn max_results(value: Option<i64>, default: i64, max: i64) -> Result<u64> {
    let v = value.unwrap_or(default);
    if v < 1 || v > max {
        return Err(ApiError::invalid(format!(
            "Invalid value {v} for parameter 'max_results' supplied. It must be at most {max} and at least 1."
        )));
    }
    Ok(v as u64)
}

pub fn timestamp(value: Option<i64>, what: &str) -> Result<i64> {
    match value {
        None => Err(ApiError::missing(what)),
        Some(t) if t < 0 => Err(ApiError::invalid(format!(
            "Invalid value {t} for parameter '{what}' supplied: Timestamp must be a nonnegative long \
             (64-bit integer)."
        ))),
        Some(t) => Ok(t),
    }
}

/// Run ids as MLflow accepts them: `^[a-zA-Z0-9][\w\-]{0,255}$`.
pub fn run_id(id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.len() <= 256
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid run ID: '{id}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        let key = |name: &str, _: &str| key(name, Key::Metric);
        assert!(key("loss", "key").is_ok());
        assert!(key("val/loss: top-1 acc.", "key").is_ok());
        assert!(key("bad*key", "key").is_err());
        assert!(key("../up", "key").is_err());
        assert!(key("/abs", "key").is_err());
        assert!(key("a//b", "key").is_err());
        assert!(key("a/", "key").is_err());
        assert!(key(&"k".repeat(251), "key").is_err());
        assert!(key(&"k".repeat(250), "key").is_ok());
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
