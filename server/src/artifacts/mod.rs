//! Artifacts: validated paths (`path`) and the storage behind the `mlflow-artifacts`
//! proxy (`store`). Handlers live in `api::artifacts`.

pub mod path;
pub mod store;

pub use path::ArtifactPath;
pub use store::{Artifacts, Download, Entry};
