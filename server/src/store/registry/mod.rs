//! The model registry: registered models (`models`) and their versions (`versions`).
//! Models are keyed internally by an integer id, so a rename is one row and carries
//! versions, tags and aliases along.

pub mod models;
pub mod versions;

use crate::error::{ApiError, Result};

/// MLflow's `_validate_model_name`: not blank, no `/` or `:`, no path tricks.
pub fn validate_name(name: Option<&str>, field: &str) -> Result<String> {
    let name = name.unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::missing(field));
    }
    if name.contains(['/', ':']) {
        return Err(ApiError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if name == "." || name == ".." {
        return Err(ApiError::invalid(format!(
            "Invalid value \"{name}\" for parameter '{field}' supplied: Names cannot be a path that resolves \
             to a different location."
        )));
    }
    Ok(name.to_owned())
}

pub(crate) fn model_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Registered Model with name={name} not found"))
}
