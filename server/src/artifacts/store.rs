//! Where artifact bytes live: an `object_store` over the local filesystem or an
//! S3-compatible bucket. Bodies stream through in parts, so a transfer of any size holds
//! a few parts in memory, never the file.

use super::ArtifactPath;
use crate::error::{ApiError, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as StorePath, prefix::PrefixStore,
};
use std::ops::Range;
use std::sync::Arc;

/// Bytes per multipart part: S3 needs at least 5 MiB for all parts but the last.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading at once; with the part being filled, this bounds an upload's memory.
const PARTS_IN_FLIGHT: usize = 3;

/// The artifact destination (`--artifacts-destination`).
#[derive(Clone)]
pub struct Artifacts {
    store: Arc<dyn ObjectStore>,
    /// Where it points, for the log.
    pub destination: String,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// `None` for directories.
    pub size: Option<u64>,
}

/// A file being read: its total size, the range sent and the bytes.
pub struct Download {
    pub size: u64,
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl Artifacts {
    /// Opens a destination: `s3://bucket/prefix`, or a local folder (`file:///abs`, or a
    /// plain path), created if missing. S3 settings come from the usual environment
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL or
    /// MLFLOW_S3_ENDPOINT_URL); plain HTTP is allowed for a loopback endpoint.
    pub fn open(destination: &str) -> Result<Self, String> {
        let store: Arc<dyn ObjectStore> = if let Some(rest) = destination.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "artifact destination '{destination}' names no bucket"
                ));
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err()
            {
                builder = builder.with_region("us-east-1");
            }
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("MLFLOW_S3_ENDPOINT_URL"))
                .ok()
                .filter(|e| !e.is_empty());
            if let Some(endpoint) = endpoint {
                if is_loopback_http(&endpoint) {
                    builder = builder.with_allow_http(true);
                }
                builder = builder.with_endpoint(endpoint);
            }
            let s3 = builder
                .build()
                .map_err(|e| format!("cannot use artifact destination '{destination}': {e}"))?;
            match prefix.trim_matches('/') {
                "" => Arc::new(s3),
                p => Arc::new(PrefixStore::new(s3, p)),
            }
        } else if destination.contains("://") && !destination.starts_with("file://") {
            return Err(format!(
                "unsupported artifact destination '{destination}': expected s3://bucket/prefix or a local folder"
            ));
        } else {
            let folder = destination.strip_prefix("file://").unwrap_or(destination);
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create artifact folder '{folder}': {e}"))?;
            let local = LocalFileSystem::new_with_prefix(folder)
                .map_err(|e| format!("cannot use artifact folder '{folder}': {e}"))?
                // Deleting a directory's last file removes the emptied directories too.
                .with_automatic_cleanup(true);
            Arc::new(local)
        };
        Ok(Self {
            store,
            destination: destination.to_owned(),
        })
    }

    fn location(path: &ArtifactPath) -> StorePath {
        // PathPart escapes what object stores cannot hold; listings decode it back.
        StorePath::from_iter(path.segments().iter().map(String::as_str))
    }

    /// Stores a body at `path`, replacing what was there; returns the bytes written.
    /// A body that fits one part goes in one request, anything larger as a multipart
    /// upload that is aborted if the body fails half-way.
    pub async fn put<S, E>(&self, path: &ArtifactPath, mut body: S) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        if path.is_root() {
            return Err(ApiError::invalid(
                "Invalid path '': an upload needs a file name",
            ));
        }
        let location = Self::location(path);
        let broken = |e: E| {
            ApiError::new(
                app::models::ErrorCode::BadRequest,
                format!("Could not read the upload: {e}"),
            )
        };
        let mut first = Vec::new();
        let (mut buffered, mut total) = (0usize, 0u64);
        let mut more = true;
        while buffered < PART_SIZE {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(broken)?;
                    buffered += chunk.len();
                    first.push(chunk);
                }
                None => {
                    more = false;
                    break;
                }
            }
        }
        total += buffered as u64;
        if !more {
            self.store
                .put(&location, PutPayload::from_iter(first))
                .await
                .map_err(|e| write_failed(e, path))?;
            return Ok(total);
        }
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| write_failed(e, path))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        first.into_iter().for_each(|c| writer.put(c));
        let outcome: Result<()> = async {
            loop {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| write_failed(e, path))?;
                match body.next().await {
                    Some(chunk) => {
                        let chunk = chunk.map_err(broken)?;
                        total += chunk.len() as u64;
                        writer.put(chunk);
                    }
                    None => return Ok(()),
                }
            }
        }
        .await;
        match outcome {
            Ok(()) => {
                writer.finish().await.map_err(|e| write_failed(e, path))?;
                Ok(total)
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, %path, "could not abort a failed multipart upload");
                }
                Err(e)
            }
        }
    }

    /// The size of the file at `path`; 404 if there is none (a directory is not a file).
    pub async fn size(&self, path: &ArtifactPath) -> Result<u64> {
        match self.store.head(&Self::location(path)).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. })
                if !path.is_root() && self.is_dir(path).await? =>
            {
                Err(ApiError::invalid(format!(
                    "Artifact path refers to a directory, not a file: '{path}'"
                )))
            }
            Err(e) => Err(storage(e, path)),
        }
    }

    async fn is_dir(&self, path: &ArtifactPath) -> Result<bool> {
        let listed = self
            .store
            .list_with_delimiter(Some(&Self::location(path)))
            .await;
        Ok(listed.is_ok_and(|l| !l.objects.is_empty() || !l.common_prefixes.is_empty()))
    }

    /// Streams `range` (all of it when `None`) of the file at `path`, of `size` bytes.
    pub async fn get(
        &self,
        path: &ArtifactPath,
        size: u64,
        range: Option<Range<u64>>,
    ) -> Result<Download> {
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self
            .store
            .get_opts(&Self::location(path), options)
            .await
            .map_err(|e| storage(e, path))?;
        let range = got.range.clone();
        let body = got.into_stream().map_err(std::io::Error::other).boxed();
        Ok(Download { size, range, body })
    }

    /// The files and directories directly under `dir`, by name; empty if there is none.
    pub async fn list(&self, dir: &ArtifactPath) -> Result<Vec<Entry>> {
        let prefix = Self::location(dir);
        let listed = match self.store.list_with_delimiter(Some(&prefix)).await {
            Ok(l) => l,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(storage(e, dir)),
        };
        let name_of = |p: &StorePath| p.filename().and_then(super::path::percent_decode);
        let mut entries: Vec<Entry> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| {
                Some(Entry {
                    name: name_of(p)?,
                    size: None,
                })
            })
            .chain(listed.objects.iter().filter_map(|o| {
                Some(Entry {
                    name: name_of(&o.location)?,
                    size: Some(o.size),
                })
            }))
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Deletes the file at `path`, or everything under it; nothing there is no error.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let location = Self::location(path);
        // What lies under it first: on a filesystem the directory itself is not an object.
        let under = self
            .store
            .list(Some(&location))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(under);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => {}
                Err(e) if is_missing(&e) => {}
                Err(e) => return Err(storage(e, path)),
            }
        }
        match self.store.delete(&location).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            // A directory emptied above but not yet removed.
            Err(_)
                if self.is_dir(path).await.is_ok_and(|d| !d)
                    && self.store.head(&location).await.is_err() =>
            {
                Ok(())
            }
            Err(e) => Err(storage(e, path)),
        }
    }
}

/// A storage failure: a missing file is the client's 404, a name the store cannot hold
/// the client's 400, anything else the server's 500 with the detail in the log. On a
/// filesystem a path through a file (`a/b` where `a` is a file) is missing too.
fn storage(e: object_store::Error, path: &ArtifactPath) -> ApiError {
    match e {
        e if is_missing(&e) => ApiError::not_found(format!("No artifact at path '{path}'")),
        // ENAMETOOLONG: a file name past the filesystem's limit (255 bytes, as stored).
        e if io_kind(&e) == Some(std::io::ErrorKind::InvalidFilename) => ApiError::invalid(
            format!("Artifact path '{path}' has a name too long for the artifact store"),
        ),
        e => {
            tracing::error!(error = %e, %path, "artifact storage error");
            ApiError::internal(format!(
                "Artifact storage failed for '{path}'; see the server log."
            ))
        }
    }
}

fn is_missing(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
        || io_kind(e) == Some(std::io::ErrorKind::NotADirectory)
}

/// The kind of the I/O error behind `e`, if a filesystem call failed.
fn io_kind(e: &object_store::Error) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

/// A write's failure: a file where the path needs a directory, or a directory where it
/// needs a file, is the client's 400.
fn write_failed(e: object_store::Error, path: &ArtifactPath) -> ApiError {
    use std::io::ErrorKind::{AlreadyExists, DirectoryNotEmpty, IsADirectory, NotADirectory};
    match io_kind(&e) {
        Some(NotADirectory | IsADirectory | AlreadyExists | DirectoryNotEmpty) => {
            ApiError::invalid(format!(
                "Cannot write the artifact '{path}': a file and a directory would share a path"
            ))
        }
        _ => storage(e, path),
    }
}

/// `http://` to a loopback address (how a test S3 server runs).
fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints() {
        assert!(is_loopback_http("http://127.0.0.1:9000"));
        assert!(is_loopback_http("http://localhost:9000/"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("http://10.0.0.1:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:9000"));
    }

    #[tokio::test]
    async fn local_round_trip_list_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = Artifacts::open(dir.path().to_str().unwrap()).unwrap();
        let p = |s: &str| ArtifactPath::parse(s).unwrap();
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ];
        assert_eq!(
            artifacts
                .put(&p("d/a b.txt"), futures::stream::iter(chunks))
                .await
                .unwrap(),
            11
        );
        assert_eq!(artifacts.size(&p("d/a b.txt")).await.unwrap(), 11);
        let listed = artifacts.list(&p("d")).await.unwrap();
        assert_eq!(
            listed,
            vec![Entry {
                name: "a b.txt".into(),
                size: Some(11)
            }]
        );
        assert_eq!(
            artifacts.list(&ArtifactPath::root()).await.unwrap(),
            vec![Entry {
                name: "d".into(),
                size: None
            }]
        );
        let got = artifacts
            .get(&p("d/a b.txt"), 11, Some(6..11))
            .await
            .unwrap();
        let bytes: Vec<Bytes> = got.body.try_collect().await.unwrap();
        assert_eq!(bytes.concat(), b"world");
        assert!(artifacts.size(&p("d")).await.is_err());
        artifacts.delete(&p("d")).await.unwrap();
        assert!(
            artifacts
                .list(&ArtifactPath::root())
                .await
                .unwrap()
                .is_empty()
        );
        artifacts.delete(&p("missing")).await.unwrap();
    }

    #[tokio::test]
    async fn large_bodies_go_multipart() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = Artifacts::open(dir.path().to_str().unwrap()).unwrap();
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        let chunks = (0..20).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        let p = ArtifactPath::parse("big.bin").unwrap();
        assert_eq!(
            artifacts
                .put(&p, futures::stream::iter(chunks))
                .await
                .unwrap(),
            20 * 1024 * 1024
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("big.bin")).unwrap().len(),
            20 * 1024 * 1024
        );
    }
}
