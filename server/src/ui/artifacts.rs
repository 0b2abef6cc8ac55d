//! The artifact browser's store: directory listings through the artifact store (the same
//! root and path checks as the artifact endpoints) and bounded previews of files.

use crate::api::artifacts::served_root;
use crate::artifacts::{ArtifactPath, Artifacts};
use crate::auth::{Permission, permissions};
use crate::db::Db;
use crate::error::Result;
use crate::state::AppState;
use crate::store::runs;
use app::pages::artifacts::{
    ArtifactEntry, ArtifactView, Kind, PREVIEW_BYTES, PREVIEW_MAX_FILE, PREVIEW_ROWS, Preview,
    kind_of, parse_delimited, ssr::ArtifactStore,
};
use app::pages::ssr::BoxFuture;
use futures::TryStreamExt;

pub struct Store(pub AppState);

impl ArtifactStore for Store {
    fn artifact_view(
        &self,
        run_id: String,
        path: String,
    ) -> BoxFuture<'_, Result<ArtifactView, String>> {
        let caller = super::caller();
        Box::pin(async move {
            permissions::require_run(&self.0, &caller, &run_id, Permission::Read)
                .await
                .map_err(|e| e.message)?;
            view(&self.0.db, &self.0.artifacts, &run_id, &path)
                .await
                .map_err(|e| e.message)
        })
    }
}

async fn view(db: &Db, artifacts: &Artifacts, run_id: &str, path: &str) -> Result<ArtifactView> {
    let run = runs::get_row(db, run_id).await?;
    let root = served_root(&run.info.artifact_uri)?;
    let rel = ArtifactPath::parse(path)?;
    let mut dirs = Vec::new();
    let mut file = None;
    // The root, then each directory on the way down to the selected entry.
    let mut dir = ArtifactPath::root();
    let segments = rel.segments().to_vec();
    for (depth, segment) in std::iter::once(None)
        .chain(segments.iter().map(Some))
        .enumerate()
    {
        if let Some(segment) = segment {
            let (_, entries): &(String, Vec<ArtifactEntry>) = dirs.last().expect("root listed");
            let Some(entry) = entries.iter().find(|e| &e.name == segment).cloned() else {
                break; // a stale link: show what exists
            };
            if !entry.is_dir {
                if depth == segments.len() {
                    file = Some(entry);
                }
                break;
            }
            dir = dir.child(segment);
        }
        let listed = artifacts.list(&root.join(&dir)).await?;
        let entries = listed
            .into_iter()
            .map(|e| ArtifactEntry {
                path: dir.child(&e.name).to_string(),
                is_dir: e.size.is_none(),
                size: e.size,
                name: e.name,
            })
            .collect();
        dirs.push((dir.to_string(), entries));
    }
    let preview = match &file {
        Some(f) => Some(preview(artifacts, &root.join(&rel), f).await?),
        None => None,
    };
    Ok(ArtifactView {
        dirs,
        file,
        preview,
    })
}

async fn preview(
    artifacts: &Artifacts,
    path: &ArtifactPath,
    file: &ArtifactEntry,
) -> Result<Preview> {
    let size = file.size.unwrap_or_default();
    let kind = kind_of(&file.name);
    if size > PREVIEW_MAX_FILE {
        return Ok(Preview::TooLarge);
    }
    let (text, truncated) = match kind {
        Kind::Image => return Ok(Preview::Image),
        Kind::Other => return Ok(Preview::Unsupported),
        Kind::Text | Kind::Table(_) => head(artifacts, path, size).await?,
    };
    Ok(match kind {
        Kind::Table(delimiter) => {
            let (rows, more) = parse_delimited(&text, delimiter, PREVIEW_ROWS + 1);
            Preview::Table {
                rows,
                truncated: truncated || more,
            }
        }
        _ => Preview::Text { text, truncated },
    })
}

/// The first `PREVIEW_BYTES` of a file as text (a character cut in half at the end is
/// dropped), and whether there was more.
async fn head(artifacts: &Artifacts, path: &ArtifactPath, size: u64) -> Result<(String, bool)> {
    if size == 0 {
        return Ok((String::new(), false));
    }
    let end = size.min(PREVIEW_BYTES);
    let download = artifacts.get(path, size, Some(0..end)).await?;
    let bytes: Vec<u8> = download
        .body
        .try_fold(Vec::new(), |mut acc, chunk| async move {
            acc.extend_from_slice(&chunk);
            Ok(acc)
        })
        .await
        .map_err(|e| crate::error::ApiError::internal(format!("cannot read artifact: {e}")))?;
    let truncated = size > end;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
    };
    Ok((text, truncated))
}
