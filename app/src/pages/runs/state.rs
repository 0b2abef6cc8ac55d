//! The runs grid's state, all of it in the URL, so a copied link shows the same view.
//!
//! Path `/experiments/<id>[,<id>...]` names the experiments (the CSV export takes them
//! as `experiments=<id>,<id>`). Query parameters:
//!
//! | param | meaning |
//! | --- | --- |
//! | `f.<column id>` | a column's filter box, e.g. `f.metrics.loss=> 0.5`; the boxes of min, max and duration columns (`f.metrics_min.loss`, `f.attributes.duration`) are kept only here, as MLflow's query cannot hold them |
//! | `q` | the rest of the filter query: what no column filter holds |
//! | `query` | a query typed in the search box; replaces `f.*` (all but the min, max and duration boxes) and `q`, and the server splits it back into column filters |
//! | `col` (repeated) | the chosen columns, in order; none means the defaults |
//! | `sort`, `dir` | the column id to order by, `asc` or `desc` (default) |
//! | `view` | `active` (default), `deleted` or `all` |
//! | `user`, `mine` | the current user and `mine=1` for "my runs" |
//! | `page`, `back` | this page's token, and the tokens of the pages before it (`-` is the first page), comma-separated |
//! | `n` | page size (default 50, at most 1000) |
//! | `sel` | selected run ids, comma-separated |
//!
//! The query string is decoded here, once, rather than through the router's map, which
//! decodes values a second time (`LIKE '%ab%'` would lose its `%ab`).

use crate::pages::url_encode;
use serde::{Deserialize, Serialize};

/// Default rows per page.
pub const PAGE_SIZE: u64 = 50;

/// Which lifecycle stages the grid shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum View {
    #[default]
    Active,
    Deleted,
    All,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Active => "active",
            View::Deleted => "deleted",
            View::All => "all",
        }
    }

    fn parse(s: &str) -> View {
        match s {
            "deleted" => View::Deleted,
            "all" => View::All,
            _ => View::Active,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GridRequest {
    pub experiment_ids: Vec<String>,
    pub query: Option<String>,
    /// Column filters, `(column id, text)`, non-empty texts only.
    pub filters: Vec<(String, String)>,
    pub rest: String,
    pub columns: Vec<String>,
    pub sort: Option<String>,
    pub ascending: bool,
    pub view: View,
    /// Whose runs "My runs" shows: the logged-in user (`runs_grid` sets it), or without
    /// login the `user` parameter.
    pub user: Option<String>,
    pub mine: bool,
    pub page: String,
    pub back: Vec<String>,
    pub page_size: u64,
    pub selected: Vec<String>,
}

impl GridRequest {
    /// Reads the state from the path's experiment ids and a raw query string (with or
    /// without its `?`).
    pub fn from_url(path_ids: &str, search: &str) -> GridRequest {
        let mut r = GridRequest {
            experiment_ids: split_list(path_ids),
            page_size: PAGE_SIZE,
            ..Default::default()
        };
        let mut listed = false;
        for (k, v) in form_pairs(search) {
            match k.as_str() {
                // Repeated (the experiment list's checkboxes) or comma-separated; they
                // replace the path's ids.
                "experiments" => {
                    if !std::mem::replace(&mut listed, true) {
                        r.experiment_ids.clear();
                    }
                    r.experiment_ids.extend(split_list(&v));
                }
                "query" => r.query = Some(v),
                "q" => r.rest = v,
                "col" => r.columns.push(v),
                "sort" if !v.is_empty() => r.sort = Some(v),
                "dir" => r.ascending = v == "asc",
                "view" => r.view = View::parse(&v),
                "user" if !v.trim().is_empty() => r.user = Some(v.trim().to_owned()),
                "mine" => r.mine = v == "1",
                "page" => r.page = v,
                "back" => r.back = v.split(',').map(str::to_owned).collect(),
                "n" => r.page_size = v.parse().unwrap_or(PAGE_SIZE).clamp(1, 1000),
                "sel" => r.selected = split_list(&v),
                _ => {
                    if let Some(id) = k.strip_prefix("f.")
                        && !v.trim().is_empty()
                    {
                        r.filters.retain(|(c, _)| c != id);
                        r.filters.push((id.to_owned(), v));
                    }
                }
            }
        }
        r.back.retain(|t| !t.is_empty());
        r
    }

    /// The query string of this state (without `?`), leaving out page and selection
    /// when `view_only`: what the CSV export and the view-changing links carry.
    pub fn query_string(&self, view_only: bool) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut put = |k: &str, v: &str| out.push(format!("{}={}", url_encode(k), url_encode(v)));
        if let Some(q) = &self.query {
            put("query", q);
        }
        for (id, text) in &self.filters {
            put(&format!("f.{id}"), text);
        }
        if !self.rest.is_empty() {
            put("q", &self.rest);
        }
        for c in &self.columns {
            put("col", c);
        }
        if let Some(s) = &self.sort {
            put("sort", s);
            put("dir", if self.ascending { "asc" } else { "desc" });
        }
        if self.view != View::Active {
            put("view", self.view.name());
        }
        if let Some(u) = &self.user {
            put("user", u);
        }
        if self.mine {
            put("mine", "1");
        }
        if self.page_size != PAGE_SIZE {
            put("n", &self.page_size.to_string());
        }
        if !view_only {
            if !self.page.is_empty() {
                put("page", &self.page);
            }
            if !self.back.is_empty() {
                put("back", &self.back.join(","));
            }
            if !self.selected.is_empty() {
                put("sel", &self.selected.join(","));
            }
        }
        out.join("&")
    }

    /// The grid's own address for this state.
    pub fn href(&self) -> String {
        let q = self.query_string(false);
        let path = format!("/experiments/{}", self.experiment_ids.join(","));
        if q.is_empty() {
            path
        } else {
            format!("{path}?{q}")
        }
    }

    /// The same view on its first page (what every view change links to).
    pub fn first_page(&self) -> GridRequest {
        GridRequest {
            page: String::new(),
            back: Vec::new(),
            ..self.clone()
        }
    }

    /// The page after this one, whose token the server gave.
    pub fn next(&self, token: &str) -> GridRequest {
        let mut back = self.back.clone();
        back.push(if self.page.is_empty() {
            "-".to_owned()
        } else {
            self.page.clone()
        });
        GridRequest {
            page: token.to_owned(),
            back,
            ..self.clone()
        }
    }

    /// The page before this one, if any.
    pub fn previous(&self) -> Option<GridRequest> {
        let mut back = self.back.clone();
        let token = back.pop()?;
        Some(GridRequest {
            page: if token == "-" { String::new() } else { token },
            back,
            ..self.clone()
        })
    }

    /// Ordered by `column`: descending first, then flipping on each click.
    pub fn sorted_by(&self, column: &str) -> GridRequest {
        let ascending = self.sort.as_deref() == Some(column) && !self.ascending;
        GridRequest {
            sort: Some(column.to_owned()),
            ascending,
            ..self.first_page()
        }
    }

    /// Where the CSV export of every matching run (not just this page) is served.
    pub fn export_href(&self) -> String {
        let q = self.query_string(true);
        let ids = url_encode(&self.experiment_ids.join(","));
        if q.is_empty() {
            format!("/export/runs.csv?experiments={ids}")
        } else {
            format!("/export/runs.csv?experiments={ids}&{q}")
        }
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `application/x-www-form-urlencoded` pairs: `+` is a space, `%XX` a byte, decoded once.
pub fn form_pairs(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_reads_every_parameter() {
        let r = GridRequest::from_url(
            "1, 2",
            "?f.params.lr=LIKE+%27%25ab%25%27&q=tags.t+%3D+%27x%27&col=metrics.loss&col=params.lr\
             &sort=metrics.loss&dir=asc&view=all&user=ann&mine=1&page=T2&back=-,T1&n=25&sel=a,b",
        );
        assert_eq!(r.experiment_ids, ["1", "2"]);
        assert_eq!(
            r.filters,
            [("params.lr".to_owned(), "LIKE '%ab%'".to_owned())]
        );
        assert_eq!(r.rest, "tags.t = 'x'");
        assert_eq!(r.columns, ["metrics.loss", "params.lr"]);
        assert_eq!(r.sort.as_deref(), Some("metrics.loss"));
        assert!(r.ascending && r.mine);
        assert_eq!(r.view, View::All);
        assert_eq!(r.user.as_deref(), Some("ann"));
        assert_eq!((r.page.as_str(), r.back.len(), r.page_size), ("T2", 2, 25));
        assert_eq!(r.selected, ["a", "b"]);
        // What the state writes, it reads back.
        let again = GridRequest::from_url("1,2", &r.query_string(false));
        assert_eq!(again, r);
    }

    #[test]
    fn pages_forward_and_back() {
        let first = GridRequest::from_url("7", "");
        let second = first.next("T1");
        let third = second.next("T2");
        assert_eq!(third.back, ["-", "T1"]);
        let back = third.previous().unwrap();
        assert_eq!(
            (back.page.as_str(), back.back.clone()),
            ("T1", vec!["-".to_owned()])
        );
        let back = back.previous().unwrap();
        assert_eq!(back.page, "");
        assert!(back.previous().is_none());
        assert_eq!(
            GridRequest::from_url("7", &third.query_string(false)),
            third
        );
    }

    #[test]
    fn sorting_flips_and_resets_the_page() {
        let r = GridRequest::from_url("1", "page=T1&back=-");
        let s = r.sorted_by("metrics.loss");
        assert!(!s.ascending && s.page.is_empty() && s.back.is_empty());
        assert!(s.sorted_by("metrics.loss").ascending);
        assert!(!s.sorted_by("params.lr").ascending);
    }

    #[test]
    fn encodes_unicode_and_reserved_characters() {
        assert_eq!(url_encode("a b'%ü"), "a%20b%27%25%C3%BC");
        assert_eq!(decode("a%20b%27%25%C3%BC+c%"), "a b'%ü c%");
    }
}
