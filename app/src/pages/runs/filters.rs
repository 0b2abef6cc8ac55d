//! The grid's forms: the query box, the column filter boxes and the column chooser.
//! All are GET forms that rebuild the URL, so they work before the WASM loads; each
//! carries the rest of the view's state in hidden inputs.

use super::GridPage;
use super::columns::{Column, FilterKind};
use super::state::{GridRequest, form_pairs};
use leptos::prelude::*;

/// The form id that the column filter inputs (inside the table) belong to.
pub const FILTER_FORM: &str = "column-filters";

/// The view's state as hidden inputs, without the filters, the page and the selection
/// (and without the columns when `columns` is false).
fn hidden_state(req: &GridRequest, columns: bool) -> impl IntoView + use<> {
    let base = GridRequest {
        query: None,
        filters: Vec::new(),
        rest: String::new(),
        columns: if columns {
            req.columns.clone()
        } else {
            Vec::new()
        },
        ..req.first_page()
    };
    form_pairs(&base.query_string(true))
        .into_iter()
        .map(|(name, value)| view! { <input type="hidden" name=name value=value/> })
        .collect_view()
}

/// The search box: shows the whole generated query; a submitted edit comes back as
/// `query=`, which the server splits into column filters again.
#[component]
pub fn QueryBox(req: GridRequest, query: String) -> impl IntoView {
    view! {
        <form method="get" class="search query-box" role="search">
            {hidden_state(&req, true)}
            // The query cannot hold min, max or duration filters: they ride along.
            {req.filters.iter()
                .filter(|(id, _)| Column::parse(id).is_some_and(|c| c.grid_only()))
                .map(|(id, text)| view! {
                    <input type="hidden" name=format!("f.{id}") value=text.clone()/>
                }).collect_view()}
            <input
                type="search"
                name="query"
                // An attribute, not a property: hydration then leaves alone what the
                // user typed before the WASM loaded.
                value=query
                placeholder="metrics.loss < 0.5 AND params.optimizer = 'adam'"
                aria-label="Filter query"
                class="mono"
            />
            <button type="submit">"Search"</button>
        </form>
    }
}

/// The form the column filter boxes submit through: it carries the free part of the
/// query (`q`) and the rest of the state.
#[component]
pub fn FilterForm(req: GridRequest, rest: String) -> impl IntoView {
    view! {
        <form method="get" id=FILTER_FORM class="filter-form">
            {hidden_state(&req, true)}
            <input type="hidden" name="q" value=rest/>
            <button type="submit" class="small">"Apply column filters"</button>
        </form>
    }
}

/// One header cell's filter box.
#[component]
pub fn FilterCell(column: Column, value: String) -> impl IntoView {
    let kind = column.filter_kind();
    if kind == FilterKind::None {
        return view! { <th class="filter"></th> }.into_any();
    }
    let label = format!("Filter {}", column.label());
    view! {
        <th class="filter">
            <input
                type="text"
                form=FILTER_FORM
                name=format!("f.{}", column.id())
                value=value
                placeholder=column.placeholder()
                aria-label=label
                class:numeric=column.numeric()
            />
        </th>
    }
    .into_any()
}

/// Picks the shown columns; only these are loaded.
#[component]
pub fn ColumnChooser(req: GridRequest, page: GridPage) -> impl IntoView {
    let shown = page.columns.clone();
    let mut groups: Vec<(&'static str, Vec<Column>)> = Vec::new();
    for c in page.available {
        match groups.iter_mut().find(|(g, _)| *g == c.group()) {
            Some((_, list)) => list.push(c),
            None => groups.push((c.group(), vec![c])),
        }
    }
    view! {
        <details class="chooser">
            <summary>{format!("Columns ({})", shown.len())}</summary>
            <form method="get">
                {hidden_state(&req, false)}
                // Column filters stay with the query: a hidden column's filter moves
                // into the free query on the server.
                {req.filters.iter().map(|(id, text)| view! {
                    <input type="hidden" name=format!("f.{id}") value=text.clone()/>
                }).collect_view()}
                <input type="hidden" name="q" value=page.rest.clone()/>
                {groups.into_iter().map(|(group, cols)| view! {
                    <fieldset>
                        <legend>{group}</legend>
                        {cols.into_iter().map(|c| {
                            let checked = shown.contains(&c);
                            view! {
                                <label>
                                    <input type="checkbox" name="col" value=c.id() checked=checked/>
                                    {c.label()}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                }).collect_view()}
                <button type="submit">"Show these columns"</button>
            </form>
        </details>
    }
}
