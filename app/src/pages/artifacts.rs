//! The run page's artifact browser: a tree opened along the selected path (the path is
//! the page's `?artifact=` parameter, so a link opens the same file), a preview of the
//! selected file (images inline, text and code as text, CSV and TSV as a table) and a
//! download link through the artifact proxy (`/get-artifact`).

use crate::pages::{error_text, url_encode};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Bytes of a text file the preview shows; the rest is left to the download.
pub const PREVIEW_BYTES: u64 = 256 * 1024;
/// Files larger than this are never previewed (MLflow's cap).
pub const PREVIEW_MAX_FILE: u64 = 50 * 1024 * 1024;
/// Rows of a CSV the preview table shows.
pub const PREVIEW_ROWS: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactEntry {
    pub name: String,
    /// Relative to the run's artifact root.
    pub path: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Preview {
    Image,
    Text {
        text: String,
        truncated: bool,
    },
    Table {
        rows: Vec<Vec<String>>,
        truncated: bool,
    },
    TooLarge,
    /// A kind of file the browser cannot show here; it can still be downloaded.
    Unsupported,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactView {
    /// `(directory, its entries)` for the root and every directory on the selected path.
    pub dirs: Vec<(String, Vec<ArtifactEntry>)>,
    /// The selected file, if the path names a file.
    pub file: Option<ArtifactEntry>,
    pub preview: Option<Preview>,
}

/// How a file is previewed, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Text,
    Table(u8),
    Other,
}

pub fn kind_of(name: &str) -> Kind {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "svg" | "webp" => Kind::Image,
        "csv" => Kind::Table(b','),
        "tsv" => Kind::Table(b'\t'),
        "txt" | "log" | "err" | "cfg" | "conf" | "ini" | "properties" | "toml" | "yaml" | "yml"
        | "xml" | "json" | "js" | "ts" | "py" | "rs" | "md" | "rst" | "jsonnet" | "sh" | "sql"
        | "html" | "r" | "ipynb" => Kind::Text,
        _ if matches!(
            name,
            "MLmodel" | "MLproject" | "Dockerfile" | "requirements.txt"
        ) =>
        {
            Kind::Text
        }
        _ => Kind::Other,
    }
}

/// Splits delimited text into rows of fields, honouring double-quoted fields (with `""`
/// as a quote, and delimiters and line breaks inside quotes). At most `max_rows` rows;
/// the flag says whether more followed.
pub fn parse_delimited(text: &str, delimiter: u8, max_rows: usize) -> (Vec<Vec<String>>, bool) {
    let delimiter = delimiter as char;
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            c if c == delimiter => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() == max_rows {
                    return (rows, chars.peek().is_some());
                }
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    (rows, false)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::pages::ssr::BoxFuture;

    pub trait ArtifactStore: Send + Sync + 'static {
        /// The tree along `path` of the run's artifacts, and the preview of the file it
        /// names. Unknown runs and bad paths are errors with the server's message.
        fn artifact_view(
            &self,
            run_id: String,
            path: String,
        ) -> BoxFuture<'_, Result<ArtifactView, String>>;
    }
}

#[server(prefix = "/_fn")]
pub async fn load_artifacts(run_id: String, path: String) -> Result<ArtifactView, ServerFnError> {
    crate::pages::ssr::store::<dyn ssr::ArtifactStore>()?
        .artifact_view(run_id, path)
        .await
        .map_err(ServerFnError::new)
}

fn download_url(run_id: &str, path: &str) -> String {
    format!(
        "/get-artifact?run_id={}&path={}",
        url_encode(run_id),
        url_encode(path)
    )
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[component]
pub fn ArtifactBrowser(run_id: String, path: String) -> impl IntoView {
    let rid = run_id.clone();
    let view_data = Resource::new(
        move || (rid.clone(), path.clone()),
        |(r, p)| load_artifacts(r, p),
    );
    view! {
        <div class="artifacts" id="artifacts">
            <Transition fallback=|| view! { <p class="loading">"Loading artifacts…"</p> }>
                {
                    let run_id = run_id.clone();
                    move || {
                        let run_id = run_id.clone();
                        Suspend::new(async move {
                            match view_data.await {
                                Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                                Ok(v) if v.dirs.first().is_none_or(|(_, e)| e.is_empty()) => view! {
                                    <p class="empty">"No artifacts. Log files with " <code>"mlflow.log_artifact"</code> "."</p>
                                }.into_any(),
                                Ok(v) => view! { <ArtifactPane run_id v/> }.into_any(),
                            }
                        })
                    }
                }
            </Transition>
        </div>
    }
}

#[component]
fn ArtifactPane(run_id: String, v: ArtifactView) -> impl IntoView {
    let selected = v.file.as_ref().map(|f| f.path.clone()).unwrap_or_default();
    let tree = tree_level(&run_id, &v.dirs, "", &selected);
    let preview = match v.file.clone() {
        None => view! {
            <div class="preview-head"></div>
            <p class="empty">"Select a file to preview it."</p>
        }
        .into_any(),
        Some(file) => {
            let url = download_url(&run_id, &file.path);
            let body = match v.preview.clone().unwrap_or(Preview::Unsupported) {
            Preview::Image => view! { <img class="preview-image" src=url.clone() alt=file.name.clone()/> }.into_any(),
            Preview::Text { text, truncated } => view! {
                <pre class="preview-text">{text}</pre>
                {truncated.then(|| view! { <p class="empty">"Only the beginning is shown; download the file for the rest."</p> })}
            }.into_any(),
            Preview::Table { rows, truncated } => {
                let mut rows = rows.into_iter();
                let head = rows.next().unwrap_or_default();
                view! {
                    <div class="table-scroll">
                        <table class="grid preview-table">
                            <thead><tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
                            <tbody>{rows.map(|r| view! {
                                <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                            }).collect_view()}</tbody>
                        </table>
                    </div>
                    {truncated.then(|| view! { <p class="empty">"Only the first rows are shown; download the file for the rest."</p> })}
                }.into_any()
            }
            Preview::TooLarge => view! { <p class="empty">"This file is too large to preview (over 50 MiB)."</p> }.into_any(),
            Preview::Unsupported => view! { <p class="empty">"No preview for this kind of file."</p> }.into_any(),
        };
            view! {
                <div class="preview-head">
                    <span class="mono">{file.path.clone()}</span>
                    " " <span class="muted">{file.size.map(human_size).unwrap_or_default()}</span>
                    " " <a href=url.clone() download=file.name.clone() rel="external">"Download"</a>
                </div>
                {body}
            }
            .into_any()
        }
    };
    view! {
        <nav class="tree" aria-label="Artifacts">{tree}</nav>
        <div class="preview">
            {preview}
        </div>
    }
}

/// One directory of the tree, with the directories on the selected path opened.
fn tree_level(
    run_id: &str,
    dirs: &[(String, Vec<ArtifactEntry>)],
    dir: &str,
    selected: &str,
) -> AnyView {
    let Some((_, entries)) = dirs.iter().find(|(d, _)| d == dir) else {
        return ().into_any();
    };
    let items = entries
        .iter()
        .map(|e| {
            let href = format!(
                "/runs/{}?artifact={}",
                url_encode(run_id),
                url_encode(&e.path)
            );
            let open = e.is_dir && dirs.iter().any(|(d, _)| d == &e.path);
            let class = if e.path == selected {
                "selected"
            } else if e.is_dir {
                "dir"
            } else {
                "file"
            };
            let label = if e.is_dir {
                format!("{}/", e.name)
            } else {
                e.name.clone()
            };
            let children = open.then(|| tree_level(run_id, dirs, &e.path, selected));
            view! { <li class=class><a href=href>{label}</a>{children}</li> }
        })
        .collect_view();
    view! { <ul>{items}</ul> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_extension() {
        assert_eq!(kind_of("plot.PNG"), Kind::Image);
        assert_eq!(kind_of("data.csv"), Kind::Table(b','));
        assert_eq!(kind_of("train.py"), Kind::Text);
        assert_eq!(kind_of("MLmodel"), Kind::Text);
        assert_eq!(kind_of("model.pkl"), Kind::Other);
    }

    #[test]
    fn delimited_text_honours_quotes_and_limits() {
        let (rows, more) = parse_delimited("a,b\n1,\"x, \"\"y\"\"\"\r\n2,3\n", b',', 10);
        assert_eq!(
            rows,
            vec![vec!["a", "b"], vec!["1", "x, \"y\""], vec!["2", "3"]]
        );
        assert!(!more);
        let (rows, more) = parse_delimited("a\nb\nc", b',', 2);
        assert_eq!(rows.len(), 2);
        assert!(more);
        let (rows, _) = parse_delimited("x\ty\n\"multi\nline\"\tz", b'\t', 10);
        assert_eq!(rows[1], vec!["multi\nline", "z"]);
    }
}
