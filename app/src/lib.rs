//! The ferroflow web app (Leptos components and routes) and the typed API models that the
//! server and the browser share.

pub mod format;
pub mod models;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{A, Route, Router, Routes},
};

/// The stock mlflow client prints links into MLflow's hash-routed UI
/// (`/#/experiments/1/runs/<run_id>`); the part after `#` never reaches the server, so the
/// page sends such a link on to the same view here before anything renders. Written
/// without `<`, `>` or `&`, which the document would escape.
const MLFLOW_LINKS: &str = "(function(){var h=location.hash;if(h.indexOf('#/')!==0)return;\
var p=h.slice(1),m=p.match(/^\\/experiments\\/[^\\/]+\\/runs\\/([0-9a-f]+)/);\
if(m){location.replace('/runs/'+m[1]);return;}\
m=p.match(/^\\/(experiments\\/[0-9,]+|models\\/[^?#]+)$/);if(m)location.replace('/'+m[1]);})();";

/// The whole HTML document; the server renders it around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                <script inner_html=MLFLOW_LINKS></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: this marks the page as hydrated (and interactive),
    // which the end-to-end tests wait for.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    // Set while a client-side navigation waits for its page's data: every page shows the
    // same progress bar under the top bar for it.
    let (routing, set_routing) = signal(false);
    provide_context(pages::account::UserResource::load());
    view! {
        <Stylesheet id="leptos" href="/pkg/ferroflow.css"/>
        <Title text="ferroflow"/>
        <Router set_is_routing=set_routing>
            <div class="progress route-progress" class:active=move || routing.get()
                role="progressbar" aria-label="Loading the page"
                aria-hidden=move || (!routing.get()).to_string()></div>
            <header class="topbar">
                <A href="/" attr:class="brand">"ferroflow"</A>
                <nav>
                    <A href="/">"Experiments"</A>
                    <A href="/models">"Models"</A>
                    <pages::account::AdminLink/>
                </nav>
                <span class="spacer"></span>
                <pages::account::UserMenu/>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    // Async: the server waits for the page's data, so the first HTML is the
                    // whole page, readable before (or without) the WASM.
                    <Route path=StaticSegment("") view=pages::experiments::ExperimentsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("experiments"), ParamSegment("ids")) view=pages::runs::RunsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("compare") view=pages::compare::ComparePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("models") view=pages::models::ModelsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("models"), ParamSegment("name")) view=pages::models::ModelPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("models"), ParamSegment("name"), StaticSegment("versions"), ParamSegment("version")) view=pages::models::VersionPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("plot") view=pages::plot::MetricsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("runs"), ParamSegment("run_id")) view=pages::run::RunPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view=pages::admin::AdminPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("trash")) view=pages::admin::TrashPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("settings"), StaticSegment("tokens")) view=pages::access::TokensPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
