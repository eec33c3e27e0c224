//! Pages and components, rendered on the server and hydrated in the browser.

mod account;
mod account_requests;
mod admin;
mod alerts;
mod appointments;
mod calendar;
mod care_admin;
mod chart_page;
mod clock;
mod dashboard;
mod enroll;
mod entry_form;
mod home;
mod idle;
mod incident_forms;
mod incidents;
mod layout;
mod messages;
mod portal;
mod record;
mod role_home;
mod routes;
mod security;
mod sign_in;
mod status;
mod video;
mod vitals_chart;
mod webauthn;
mod workforce_identity;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

use home::HomePage;
use layout::{PageHydrated, PageReady, SessionResource, Shell};
use routes::*;

use crate::api::auth::get_session;

/// The HTML document. On the server the CSP nonce minted for this response is provided to
/// Leptos here, so the hydration script carries it and nothing inline runs without it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_csp_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The nonce the security-headers middleware put in the request's extensions.
#[cfg(feature = "ssr")]
fn provide_csp_nonce() {
    if let Some(parts) = use_context::<http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<crate::domain::CspNonce>()
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.as_str()));
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session: SessionResource = Resource::new(|| (), |_| get_session());
    provide_context(session);
    PageHydrated::provide();
    view! {
        <Stylesheet id="leptos" href="/pkg/clinic.css"/>
        <Title text="Clinic"/>
        <Router>
            <Shell>
                <Routes fallback=|| view! { <NotFound/> <PageReady/> }>
                    <Route path=path!("/") view=|| view! { <HomePage/> <PageReady/> }/>
                    <Route path=path!("/sign-in") view={Lazy::<SignInLazy>::new()}/>
                    <Route path=path!("/enroll") view={Lazy::<EnrollLazy>::new()}/>
                    <Route path=path!("/account") view={Lazy::<AccountLazy>::new()}/>
                    <Route path=path!("/portal") ssr=SsrMode::Async view={Lazy::<PortalLazy>::new()}/>
                    <Route path=path!("/dashboard") ssr=SsrMode::Async view={Lazy::<DashboardLazy>::new()}/>
                    <Route path=path!("/dashboard/patients/:id") ssr=SsrMode::Async view={Lazy::<ChartLazy>::new()}/>
                    <Route path=path!("/visit/:id") ssr=SsrMode::Async view={Lazy::<VideoVisitLazy>::new()}/>
                    <Route path=path!("/portal/messages") ssr=SsrMode::Async view={Lazy::<PortalMessagesLazy>::new()}/>
                    <Route path=path!("/portal/messages/:id") ssr=SsrMode::Async view={Lazy::<PortalThreadLazy>::new()}/>
                    <Route path=path!("/dashboard/messages") ssr=SsrMode::Async view={Lazy::<ClinicianMessagesLazy>::new()}/>
                    <Route path=path!("/dashboard/messages/:id") ssr=SsrMode::Async view={Lazy::<ClinicianThreadLazy>::new()}/>
                    <Route path=path!("/admin") ssr=SsrMode::Async view={Lazy::<AdminLazy>::new()}/>
                    <Route path=path!("/security") ssr=SsrMode::Async view={Lazy::<SecurityLazy>::new()}/>
                    <Route path=path!("/security/alerts") ssr=SsrMode::Async view={Lazy::<AlertInboxLazy>::new()}/>
                    <Route path=path!("/security/alerts/:id") ssr=SsrMode::Async view={Lazy::<AlertDetailLazy>::new()}/>
                    <Route path=path!("/security/incidents") ssr=SsrMode::Async view={Lazy::<IncidentsLazy>::new()}/>
                    <Route path=path!("/security/incidents/new") ssr=SsrMode::Async view={Lazy::<NewIncidentLazy>::new()}/>
                    <Route path=path!("/security/incidents/:id") ssr=SsrMode::Async view={Lazy::<IncidentLazy>::new()}/>
                </Routes>
            </Shell>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="panel" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is no page at this address. " <a href="/">"Go to the home page"</a> "."</p>
        </section>
    }
}
