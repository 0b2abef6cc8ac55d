//! Artifact handlers: the `mlflow-artifacts` proxy (upload, download with ranges, list,
//! delete), the tracking API's `artifacts/list`, `/get-artifact`,
//! `/model-versions/get-artifact`, and `server-info`.
//!
//! Every path a client sends goes through `ArtifactPath::parse` before it is joined to
//! a root, so nothing outside the artifact destination can be named.

use super::{Mlflow, empty, validate};
use crate::artifacts::{ArtifactPath, Artifacts, Download};
use crate::auth::permissions;
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use crate::store::{registry, runs};
use app::models::{
    ArtifactQuery, ErrorCode, FileInfo, ListArtifacts, ListArtifactsResponse, ModelVersionRequest,
};
use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use std::ops::Range;

fn parse(raw: &str) -> Result<ArtifactPath> {
    ArtifactPath::parse(raw)
}

/// `PUT mlflow-artifacts/artifacts/<path>`: the raw body is the file. MLflow's handler
/// answers `{}`; the client only reads the status.
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>> {
    let path = parse(&path)?;
    require_path(&state, &caller, &path, Permission::Edit).await?;
    state.artifacts.put(&path, body.into_data_stream()).await?;
    Ok(empty())
}

/// `GET mlflow-artifacts/artifacts/<path>`: the file, honouring a `Range` header.
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let path = parse(&path)?;
    require_path(&state, &caller, &path, Permission::Read).await?;
    send(&state.artifacts, &path, &headers).await
}

/// `DELETE mlflow-artifacts/artifacts/<path>`: the file or the whole directory.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let path = parse(&path)?;
    require_path(&state, &caller, &path, Permission::Manage).await?;
    if path.is_root() {
        return Err(ApiError::invalid(
            "Invalid path '': refusing to delete the artifact root",
        ));
    }
    state.artifacts.delete(&path).await?;
    Ok(empty())
}

/// `GET mlflow-artifacts/artifacts?path=<dir>`: entries by name (`{}` when empty).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(q): Mlflow<ArtifactQuery>,
) -> Result<Json<ListArtifactsResponse>> {
    let dir = parse(q.path.as_deref().unwrap_or_default())?;
    require_path(&state, &caller, &dir, Permission::Read).await?;
    let files = file_infos(&state.artifacts, &dir, None).await?;
    Ok(Json(ListArtifactsResponse {
        root_uri: None,
        files,
    }))
}

/// `mpu/create|complete|abort`: MLflow answers this for stores without client-side
/// multipart uploads; large uploads here are multipart on the server side instead.
pub async fn multipart_unsupported() -> ApiError {
    ApiError::new(
        ErrorCode::NotImplemented,
        "Multipart upload is not supported for the current artifact repository",
    )
}

/// `GET /api/3.0/mlflow/server-info`: what this server supports, in MLflow's shape.
pub async fn server_info() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
    }))
}

/// The proxy's paths start with the experiment's id (under the default artifact root:
/// `<experiment_id>/<run_id>/artifacts/...`, `<experiment_id>/models/...`), so the
/// experiment's permission covers them. Anything else is for admins only.
async fn require_path(
    state: &AppState,
    caller: &Caller,
    path: &ArtifactPath,
    need: Permission,
) -> Result<()> {
    if caller.is_admin {
        return Ok(());
    }
    let root = ArtifactPath::of_served_uri(&state.config.default_artifact_root)
        .and_then(|r| r.ok())
        .unwrap_or_else(ArtifactPath::root);
    let segments = path.segments();
    let experiment = segments
        .strip_prefix(root.segments())
        .and_then(|rest| rest.first())
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| permissions::denied("reach artifacts outside an experiment"))?;
    permissions::require_experiment(state, caller, experiment, need).await
}

/// The served path of a run's or model's artifact root.
pub(crate) fn served_root(uri: &str) -> Result<ArtifactPath> {
    ArtifactPath::of_served_uri(uri).unwrap_or_else(|| {
        Err(ApiError::invalid(format!(
            "The artifact location '{uri}' is not served by this server; only mlflow-artifacts:/ \
             locations are. Read it from its store directly."
        )))
    })
}

/// `GET artifacts/list?run_id=&path=`: a run's artifacts, paths relative to its root.
pub async fn list_run(
    State(state): State<AppState>,
    caller: Caller,
    Mlflow(q): Mlflow<ListArtifacts>,
) -> Result<Json<ListArtifactsResponse>> {
    let run_id = q
        .run_id
        .as_deref()
        .or(q.run_uuid.as_deref())
        .filter(|s| !s.is_empty());
    let run_id = validate::required(run_id, "run_id")?;
    let rel = parse(q.path.as_deref().unwrap_or_default())?;
    permissions::require_run(&state, &caller, run_id, Permission::Read).await?;
    let run = runs::get_row(&state.db, run_id).await?;
    let root = served_root(&run.info.artifact_uri)?;
    let files = file_infos(&state.artifacts, &root.join(&rel), Some(&rel)).await?;
    Ok(Json(ListArtifactsResponse {
        root_uri: Some(run.info.artifact_uri),
        files,
    }))
}

/// Lists `dir`; names are prefixed with `relative_to` when given (the run listing).
pub(super) async fn file_infos(
    artifacts: &Artifacts,
    dir: &ArtifactPath,
    relative_to: Option<&ArtifactPath>,
) -> Result<Vec<FileInfo>> {
    Ok(artifacts
        .list(dir)
        .await?
        .into_iter()
        .map(|e| FileInfo {
            path: relative_to.map_or_else(|| e.name.clone(), |r| r.child(&e.name).to_string()),
            is_dir: e.size.is_none(),
            file_size: e.size.map(|s| s as i64),
        })
        .collect())
}

/// `GET /get-artifact?run_id=&path=`: one file of a run.
pub async fn get_run_artifact(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Mlflow(q): Mlflow<ArtifactQuery>,
) -> Result<Response> {
    let run_id = q
        .run_id
        .as_deref()
        .or(q.run_uuid.as_deref())
        .filter(|s| !s.is_empty());
    let run_id = validate::required(run_id, "run_id")?;
    let rel = parse(validate::required(q.path.as_deref(), "path")?)?;
    permissions::require_run(&state, &caller, run_id, Permission::Read).await?;
    let run = runs::get_row(&state.db, run_id).await?;
    let root = served_root(&run.info.artifact_uri)?;
    send(&state.artifacts, &root.join(&rel), &headers).await
}

/// `GET /model-versions/get-artifact?name=&version=&path=`: one file of a model version.
pub async fn get_model_version_artifact(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Mlflow(q): Mlflow<ModelVersionRequest>,
) -> Result<Response> {
    let name = validate::required(q.name.as_deref(), "name")?;
    let version =
        registry::versions::parse_version(validate::required(q.version.as_deref(), "version")?)?;
    let rel = parse(validate::required(q.path.as_deref(), "path")?)?;
    permissions::require_model(&state, &caller, name, Permission::Read).await?;
    let uri = registry::versions::download_uri(&state.db, name, version).await?;
    let root = served_root(&uri)?;
    send(&state.artifacts, &root.join(&rel), &headers).await
}

/// Sends a file as an attachment (as MLflow does, so browsers never render it on this
/// origin), streaming it, with a 206 for a satisfiable `Range` and 416 otherwise.
pub async fn send(
    artifacts: &Artifacts,
    path: &ArtifactPath,
    headers: &HeaderMap,
) -> Result<Response> {
    if path.is_root() {
        return Err(ApiError::invalid(
            "Invalid path '': expected the path of a file",
        ));
    }
    let size = artifacts.size(path).await?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(raw) => match parse_range(raw, size) {
            RangeRequest::Ignore => None,
            RangeRequest::Satisfiable(r) => Some(r),
            RangeRequest::Unsatisfiable => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                let value = HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii");
                response.headers_mut().insert(header::CONTENT_RANGE, value);
                return Ok(response);
            }
        },
    };
    // An empty file is read as no range at all (object stores refuse empty ranges).
    let partial = range.is_some();
    let Download { size, range, body } = artifacts
        .get(path, size, range.filter(|r| !r.is_empty()))
        .await?;
    let name = path.file_name().unwrap_or("artifact");
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_type(name)),
    );
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!(
            "bytes {}-{}/{size}",
            range.start,
            range.end.saturating_sub(1)
        );
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&value).expect("ascii"),
        );
    }
    Ok(response)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Malformed or several ranges: served whole, as RFC 9110 allows.
    Ignore,
    Satisfiable(Range<u64>),
    Unsatisfiable,
}

/// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a file of `size` bytes.
fn parse_range(raw: &str, size: u64) -> RangeRequest {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignore;
    };
    if spec.contains(',') {
        return RangeRequest::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    let range = match (first.is_empty(), last.is_empty()) {
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeRequest::Ignore;
            };
            let end = if last.is_empty() {
                size
            } else {
                match number(last) {
                    Some(l) if l >= start => l.saturating_add(1).min(size),
                    _ => return RangeRequest::Ignore,
                }
            };
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            start..end
        }
        (true, false) => {
            let Some(n) = number(last) else {
                return RangeRequest::Ignore;
            };
            if n == 0 || size == 0 {
                return RangeRequest::Unsatisfiable;
            }
            size.saturating_sub(n)..size
        }
        (true, true) => return RangeRequest::Ignore,
    };
    RangeRequest::Satisfiable(range)
}

/// MLflow's guess: its text extensions (and the extension-less MLmodel and MLproject)
/// are text/plain, then the usual table, then octet-stream.
fn mime_type(name: &str) -> &'static str {
    const TEXT: &[&str] = &[
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "MLproject",
    ];
    let extension = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => name,
    };
    if TEXT.contains(&extension) {
        return "text/plain";
    }
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// `attachment; filename="..."`, with RFC 5987 `filename*` for names that are not
/// plain ASCII.
fn content_disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let plain = plain.replace(['"', '\\'], "_");
    if plain == name {
        return format!("attachment; filename=\"{plain}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-4", 10), Satisfiable(0..5));
        assert_eq!(parse_range("bytes=5-", 10), Satisfiable(5..10));
        assert_eq!(parse_range("bytes=-3", 10), Satisfiable(7..10));
        assert_eq!(parse_range("bytes=-30", 10), Satisfiable(0..10));
        assert_eq!(parse_range("bytes=8-100", 10), Satisfiable(8..10));
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=4-2", 10), Ignore);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Ignore);
        assert_eq!(parse_range("items=0-1", 10), Ignore);
        assert_eq!(parse_range("bytes=x-", 10), Ignore);
    }

    #[test]
    fn mime_types_follow_mlflow() {
        assert_eq!(mime_type("MLmodel"), "text/plain");
        assert_eq!(mime_type("conda.yaml"), "text/plain");
        assert_eq!(mime_type("model.pkl"), "application/octet-stream");
        assert_eq!(mime_type("plot.png"), "image/png");
        assert_eq!(mime_type("noext"), "application/octet-stream");
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition("a.txt"),
            "attachment; filename=\"a.txt\""
        );
        assert_eq!(
            content_disposition("é.txt"),
            "attachment; filename=\"_.txt\"; filename*=UTF-8''%C3%A9.txt"
        );
        assert_eq!(
            content_disposition("a\"b"),
            "attachment; filename=\"a_b\"; filename*=UTF-8''a%22b"
        );
    }
}
