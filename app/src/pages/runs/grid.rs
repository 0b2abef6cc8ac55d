//! The grid itself: toolbar, header (sort links and filter boxes), rows, paging.

use super::columns::{Attr, Column};
use super::filters::{ColumnChooser, FilterCell, FilterForm, QueryBox};
use super::state::{GridRequest, View};
use super::{GridPage, GridRow};
use leptos::prelude::*;

/// Run statuses, for the status toggle.
const STATUSES: [&str; 4] = ["RUNNING", "FINISHED", "FAILED", "KILLED"];

#[component]
pub fn Grid(page: GridPage, req: GridRequest, selected: RwSignal<Vec<String>>) -> impl IntoView {
    let link = move |r: GridRequest| keep_selection(r, selected);
    let navigate = leptos_router::hooks::use_navigate();
    // Every view change is built from the normalised state the server answered with.
    let base = GridRequest {
        query: None,
        filters: page.filters.clone(),
        rest: page.rest.clone(),
        ..req.clone()
    };
    let title = page
        .experiments
        .iter()
        .map(|e| e.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let first = page.offset + 1;
    let last = page.offset + page.rows.len() as u64;
    let next = page.next_page_token.clone().map(|t| base.next(&t));
    let previous = base.previous();
    let compare = move || {
        let ids = selected.get();
        (ids.len() >= 2).then(|| format!("/compare?runs={}", ids.join(",")))
    };
    let status_filter = page
        .filters
        .iter()
        .find(|(id, _)| id == "attributes.status")
        .map(|(_, t)| t.clone());

    view! {
        <h1>"Runs of " {title}</h1>
        <QueryBox req=base.clone() query=page.query.clone()/>
        <div class="toolbar">
            <nav class="toggle" aria-label="Lifecycle">
                {[View::Active, View::Deleted, View::All].into_iter().map(|v| {
                    let target = GridRequest { view: v, ..base.first_page() };
                    let current = v == base.view;
                    view! {
                        <a href=link(target) aria-current=current.then_some("true")>
                            {match v { View::Active => "Active", View::Deleted => "Deleted", View::All => "All" }}
                        </a>
                    }
                }).collect_view()}
            </nav>
            <nav class="toggle" aria-label="Status">
                {std::iter::once(None).chain(STATUSES.into_iter().map(Some)).map(|s| {
                    let mut target = base.first_page();
                    target.filters.retain(|(id, _)| id != "attributes.status");
                    if let Some(s) = s {
                        target.filters.push(("attributes.status".into(), format!("= {s}")));
                    }
                    let current = status_filter.as_deref() == s.map(|s| format!("= {s}")).as_deref();
                    view! {
                        <a href=link(target) aria-current=current.then_some("true")>
                            {s.map_or("Any status".to_owned(), |s| s[..1].to_owned() + &s[1..].to_lowercase())}
                        </a>
                    }
                }).collect_view()}
            </nav>
            <nav class="toggle" aria-label="Whose runs">
                {
                    let everyone = GridRequest { mine: false, ..base.first_page() };
                    let mine = GridRequest { mine: true, ..base.first_page() };
                    view! {
                        <a href=link(everyone) aria-current=(!base.mine).then_some("true")>"Everyone"</a>
                        <a href=link(mine) aria-current=base.mine.then_some("true")
                            title="Runs by the logged-in user (without login: the ?user= parameter)">"My runs"</a>
                    }
                }
            </nav>
            <ColumnChooser req=base.clone() page=page.clone()/>
            <span class="spacer"></span>
            {move || match compare() {
                Some(href) => view! { <a class="button" href=href>{format!("Compare {}", selected.get().len())}</a> }.into_any(),
                None => view! { <span class="button disabled" title="Select two or more runs">"Compare"</span> }.into_any(),
            }}
            <button type="button" class="copy-link"
                onclick="navigator.clipboard.writeText(location.href).then(() => { this.textContent = 'Link copied'; }, () => { this.textContent = 'Copy failed'; })">
                "Copy link"
            </button>
            <a class="button" href=base.export_href() download="runs.csv" rel="external">"Export CSV"</a>
        </div>
        {base.mine.then(|| match &page.user {
            Some(u) => view! { <p class="note">"Showing runs by " <strong>{u.clone()}</strong> "."</p> }.into_any(),
            None => view! { <p class="note">"No current user: add " <code>"?user=<name>"</code> " to the address to see your runs."</p> }.into_any(),
        })}
        <FilterForm req=base.clone() rest=page.rest.clone()/>
        <div class="table-wrap">
            <table class="grid runs-grid">
                <thead>
                    <tr>
                        <th class="select"><span class="visually-hidden">"Select"</span></th>
                        {page.columns.iter().map(|c| header(c, &base, selected)).collect_view()}
                    </tr>
                    <tr class="filters">
                        <th></th>
                        {page.columns.iter().map(|c| {
                            let value = page.filters.iter().find(|(id, _)| *id == c.id()).map(|(_, t)| t.clone()).unwrap_or_default();
                            view! { <FilterCell column=c.clone() value/> }
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody on:keydown=row_keys>
                    {page.rows.iter().map(|r| row(r, &page.columns, selected, &base, navigate.clone())).collect_view()}
                </tbody>
            </table>
        </div>
        {page.rows.is_empty().then(|| view! {
            <p class="empty">
                {if page.query.is_empty() && page.offset == 0 {
                    "No runs here yet. Log one with mlflow.start_run() against this server, or look at deleted runs."
                } else {
                    "No runs match. Loosen a column filter or the query, or "
                }}
                {(!page.query.is_empty()).then(|| view! { <a href=base.first_page_without_filters_href()>"clear the filters"</a> "." })}
            </p>
        })}
        <p class="hint">"Keyboard: Tab to a row's box or name, ↑ and ↓ to move between rows, Space to select."</p>
        <nav class="pager" aria-label="Pages">
            {previous.map(|p| view! { <a href=link(p) rel="prev">"← Previous"</a> })}
            <span class="range">
                {if page.rows.is_empty() { String::new() } else { format!("Runs {first}–{last}") }}
            </span>
            {next.map(|n| view! { <a href=link(n) rel="next">"Next →"</a> })}
        </nav>
    }
}

/// Keyboard moves between rows: ↑/↓ (or k/j) take the focus from a row's checkbox or
/// name link to the same one in the row above or below; Space ticks a checkbox and Enter
/// opens a link, as usual.
fn row_keys(ev: leptos::ev::KeyboardEvent) {
    use leptos::wasm_bindgen::JsCast;
    let down = match ev.key().as_str() {
        "ArrowDown" | "j" => true,
        "ArrowUp" | "k" => false,
        _ => return,
    };
    let Some(target) = ev
        .target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
    else {
        return;
    };
    let selector = if target.matches("td.select input").unwrap_or(false) {
        "td.select input"
    } else if target.matches("td.name a:not(.parent)").unwrap_or(false) {
        "td.name a:not(.parent)"
    } else {
        return;
    };
    let Ok(Some(row)) = target.closest("tr") else {
        return;
    };
    let next = if down {
        row.next_element_sibling()
    } else {
        row.previous_element_sibling()
    };
    if let Some(Ok(Some(el))) = next.map(|r| r.query_selector(selector))
        && let Ok(el) = el.dyn_into::<leptos::web_sys::HtmlElement>()
    {
        ev.prevent_default();
        let _ = el.focus();
    }
}

/// A link's address: the target state with the current selection, which changes
/// without a reload.
fn keep_selection(
    r: GridRequest,
    selected: RwSignal<Vec<String>>,
) -> impl Fn() -> String + Send + Sync + Clone + 'static {
    move || {
        GridRequest {
            selected: selected.get(),
            ..r.clone()
        }
        .href()
    }
}

fn header(
    c: &Column,
    base: &GridRequest,
    selected: RwSignal<Vec<String>>,
) -> impl IntoView + use<> {
    let id = c.id();
    let sorted = base.sort.as_deref() == Some(id.as_str());
    let aria_sort = match (sorted, base.ascending) {
        (false, _) => "none",
        (true, true) => "ascending",
        (true, false) => "descending",
    };
    let arrow = match (sorted, base.ascending) {
        (false, _) => "",
        (true, true) => " ▲",
        (true, false) => " ▼",
    };
    let label = c.label();
    let class = if c.numeric() { "numeric" } else { "" };
    if c.sortable() {
        let href = keep_selection(base.sorted_by(&id), selected);
        view! {
            <th aria-sort=aria_sort class=class title=id.clone()>
                <a href=href>{label}{arrow}</a>
            </th>
        }
        .into_any()
    } else {
        view! { <th class=class title=id>{label}</th> }.into_any()
    }
}

fn row<N>(
    r: &GridRow,
    columns: &[Column],
    selected: RwSignal<Vec<String>>,
    base: &GridRequest,
    navigate: N,
) -> impl IntoView + use<N>
where
    N: Fn(&str, leptos_router::NavigateOptions) + Clone + Send + Sync + 'static,
{
    let id = r.run_id.clone();
    let toggle_id = id.clone();
    let href_base = base.clone();
    let set_checked = move |checked: bool| {
        selected.update(|s| {
            s.retain(|x| *x != toggle_id);
            if checked {
                s.push(toggle_id.clone());
            }
        });
        // Keep the selection in the address without reloading anything.
        let url = GridRequest {
            selected: selected.get_untracked(),
            ..href_base.clone()
        }
        .href();
        navigate(
            &url,
            leptos_router::NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let on_change = {
        let set_checked = set_checked.clone();
        move |ev: leptos::ev::Event| set_checked(event_target_checked(&ev))
    };
    // The box is ticked by its `checked` attribute only, never by a property bound to
    // the selection: hydration would then reset a box ticked before the WASM loaded.
    // Instead, once hydrated, a box whose state differs from the URL's selection was
    // changed by the user meanwhile, and the selection follows it.
    let check = NodeRef::<leptos::html::Input>::new();
    let sync_id = id.clone();
    Effect::new(move |_| {
        if let Some(input) = check.get() {
            let ticked = input.checked();
            if ticked != selected.read_untracked().contains(&sync_id) {
                set_checked(ticked);
            }
        }
    });
    let class = format!(
        "depth-{}{}",
        r.depth.min(3),
        if r.deleted { " deleted" } else { "" }
    );
    let cells = columns
        .iter()
        .zip(r.cells.iter())
        .map(|(c, text)| {
            if *c == Column::Attr(Attr::RunName) {
                let indent = "↳ ".repeat(r.depth as usize);
                let orphan = r.orphan_of.clone().map(|p| {
                    view! { <a class="parent" href=format!("/runs/{p}") title="Parent run (on another page)">"↑ parent"</a> }
                });
                view! {
                    <td class="name" data-col="attributes.run_name">
                        {indent}
                        <a href=format!("/runs/{}", r.run_id)>{if r.name.is_empty() { r.run_id.clone() } else { r.name.clone() }}</a>
                        " " {orphan}
                    </td>
                }
                .into_any()
            } else if *c == Column::Attr(Attr::Status) {
                view! { <td data-col="attributes.status"><span class=format!("status {}", text.to_lowercase())>{text.clone()}</span></td> }.into_any()
            } else {
                let class = if c.numeric() { "numeric" } else { "" };
                view! { <td class=class data-col=c.id() title=text.clone()>{text.clone()}</td> }.into_any()
            }
        })
        .collect_view();
    let label = format!(
        "Select {}",
        if r.name.is_empty() {
            &r.run_id
        } else {
            &r.name
        }
    );
    view! {
        <tr class=class data-run-id=id.clone()>
            <td class="select">
                <input type="checkbox" aria-label=label node_ref=check
                    checked=selected.read_untracked().contains(&id)
                    on:change=on_change/>
            </td>
            {cells}
        </tr>
    }
}
