//! Artifact paths as clients send them, checked before they reach storage: a path that
//! could name anything outside the root it is joined to is refused, never repaired.

use crate::error::ApiError;
use std::fmt;

/// A path relative to an artifact root: segments without `/`, none of them `.` or `..`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtifactPath(Vec<String>);

/// The scheme of locations this server stores itself.
pub const SERVED_SCHEME: &str = "mlflow-artifacts:";

impl ArtifactPath {
    /// The root itself.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Checks a client's path. It is percent-decoded until it stops changing (so `%2e%2e`
    /// and `%252e%252e` are `..`, as in MLflow's `validate_path_is_safe`), then refused
    /// with 400 `INVALID_PARAMETER_VALUE` if it is absolute, has a `..` segment, a
    /// backslash, a NUL or other control character, a `#`, or starts like a URI or a
    /// drive (`file:`, `C:`). Empty and `.` segments are dropped.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let refuse =
            |why: &str| ApiError::invalid(format!("Invalid path '{}': {why}", raw.escape_debug()));
        let mut path = raw.to_owned();
        for _ in 0..8 {
            match percent_decode(&path) {
                Some(decoded) if decoded == path => break,
                Some(decoded) => path = decoded,
                None => return Err(refuse("it is not valid UTF-8 once percent-decoded")),
            }
        }
        if path.chars().any(|c| c.is_control()) {
            return Err(refuse("control characters (such as NUL) are not allowed"));
        }
        if path.contains('\\') {
            return Err(refuse(
                "backslashes are not allowed; separate directories with '/'",
            ));
        }
        if path.contains('#') {
            return Err(refuse("'#' is not allowed"));
        }
        if path.starts_with('/') {
            return Err(refuse("absolute paths are not allowed"));
        }
        let segments: Vec<&str> = path.split('/').collect();
        if segments.first().is_some_and(|s| s.ends_with(':')) {
            return Err(refuse("expected a relative path, not a URI or a drive"));
        }
        if segments.contains(&"..") {
            return Err(refuse("'..' is not allowed"));
        }
        Ok(Self(
            segments
                .into_iter()
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_owned)
                .collect(),
        ))
    }

    /// The served path of a `mlflow-artifacts:` location (`mlflow-artifacts:/1/abc/artifacts`,
    /// also with an authority: `mlflow-artifacts://host:5000/1/...`); `None` for any
    /// other location, which this server does not store.
    pub fn of_served_uri(uri: &str) -> Option<Result<Self, ApiError>> {
        let rest = uri.strip_prefix(SERVED_SCHEME)?;
        let rest = match rest.strip_prefix("//") {
            Some(with_authority) => with_authority
                .find('/')
                .map_or("", |i| &with_authority[i..]),
            None => rest,
        };
        Some(Self::parse(rest.trim_start_matches('/')))
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last segment (the file's name).
    pub fn file_name(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    pub fn join(&self, other: &ArtifactPath) -> ArtifactPath {
        Self(self.0.iter().chain(&other.0).cloned().collect())
    }

    pub fn child(&self, name: &str) -> ArtifactPath {
        let mut segments = self.0.clone();
        segments.push(name.to_owned());
        Self(segments)
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// Decodes `%XX` escapes once; a `%` not followed by two hex digits stays as it is.
/// `None` when the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        ArtifactPath::parse(raw)
            .unwrap_or_else(|e| panic!("{raw:?}: {e}"))
            .to_string()
    }

    fn refused(raw: &str) {
        let e = ArtifactPath::parse(raw).expect_err(raw);
        assert_eq!(e.code, app::models::ErrorCode::InvalidParameterValue);
        assert!(e.message.starts_with("Invalid path"), "{e}");
    }

    #[test]
    fn plain_paths_pass_and_normalise() {
        assert_eq!(ok("a/b.txt"), "a/b.txt");
        assert_eq!(ok("a//b/./c/"), "a/b/c");
        assert_eq!(ok(""), "");
        assert_eq!(ok("model/MLmodel"), "model/MLmodel");
        assert_eq!(ok("a b/c%20d"), "a b/c d");
        assert_eq!(ok("100%.txt"), "100%.txt");
        assert_eq!(ok("x:y/z"), "x:y/z");
        assert_eq!(ok("..a/b.."), "..a/b..");
    }

    #[test]
    fn traversal_and_tricks_are_refused() {
        for raw in [
            "..",
            "../x",
            "a/../../x",
            "a/..",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "%252e%252e/x",
            "/etc/passwd",
            "%2Fetc/passwd",
            "a\\..\\x",
            "..\\x",
            "a%5c..%5cx",
            "a\0b",
            "a%00b",
            "a\nb",
            "C:/x",
            "c:\\x",
            "file:///etc/passwd",
            "s3://bucket/x",
            "a#b",
            "%ff",
        ] {
            refused(raw);
        }
    }

    #[test]
    fn served_uris() {
        let p = |u: &str| ArtifactPath::of_served_uri(u).map(|r| r.unwrap().to_string());
        assert_eq!(
            p("mlflow-artifacts:/1/abc/artifacts"),
            Some("1/abc/artifacts".into())
        );
        assert_eq!(p("mlflow-artifacts:/"), Some("".into()));
        assert_eq!(p("mlflow-artifacts://host:5000/1/x"), Some("1/x".into()));
        assert_eq!(p("s3://b/1/x"), None);
        assert!(
            ArtifactPath::of_served_uri("mlflow-artifacts:/1/../../x")
                .unwrap()
                .is_err()
        );
    }
}
